#include "first.h"
#include "json_arena.h"
#include "mem.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* What an arena keeps resident after a trim: several times what a request of one event uses.
 * A page-size multiple. Only the arenas given back last keep it (WARM_ARENAS): a request takes
 * those first, so the others serve only the peaks of concurrency and give back all they touched. */
#define KEEP_BYTES ((size_t)64 * 1024)
#define WARM_ARENAS 4
#define ALIGNMENT 16

typedef struct tly_json_arena {
    char *base;
    size_t touched;            /* bytes used since the last trim, so resident */
} arena;

static char *region;           /* every arena's memory, one after the other */
static size_t region_bytes, arena_bytes;
/* The arenas no request holds. A request takes the one given back last, whose pages are the most
 * likely resident: the arenas in use, and so the resident memory, follow the number of concurrent
 * requests, not of threads. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static arena **pool;
static size_t pooled;

static _Thread_local tly_json_arena_state mine;

static bool in_region(const void *p)
{
    return region && (const char *)p >= region && (const char *)p < region + region_bytes;
}

static void *arena_malloc(size_t size)
{
    size_t n = (size + ALIGNMENT - 1) & ~(size_t)(ALIGNMENT - 1);
    if (!mine.active) return malloc(size);
    if (n > arena_bytes - mine.used) {
        mine.spilled = true;
        return malloc(size);
    }
    arena *a = mine.held;
    char *p = a->base + mine.used;
    mine.used += n;
    if (mine.used > a->touched) a->touched = mine.used;
    UNPOISON(p, size);
    return p;
}

/* A value from an arena is freed with its whole request. */
static void arena_free(void *p)
{
    if (!in_region(p)) free(p);
}

void tly_json_arena_setup(size_t count, size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t per = (bytes + page - 1) & ~(page - 1);
    if (region || count == 0 || per == 0) return;
    void *p = mmap(NULL, count * per, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return;   /* Jansson keeps allocating with malloc */
    arena *arenas = tly_xcalloc(count, sizeof *arenas);
    pool = tly_xcalloc(count, sizeof *pool);
    for (size_t i = 0; i < count; i++) {
        arenas[i].base = (char *)p + i * per;
        pool[count - 1 - i] = &arenas[i];
    }
    pooled = count;
    region = p;
    arena_bytes = per;
    region_bytes = count * per;
    POISON(region, region_bytes);
    json_set_alloc_funcs(arena_malloc, arena_free);
}

void tly_json_arena_begin(void)
{
    pthread_mutex_lock(&pool_lock);
    mine.held = pooled ? pool[--pooled] : NULL;
    pthread_mutex_unlock(&pool_lock);
    mine.used = 0;
    mine.spilled = false;
    mine.active = mine.held != NULL;
}

void tly_json_arena_pause(void)
{
    mine.active = false;
}

void tly_json_arena_resume(void)
{
    mine.active = mine.held != NULL;
}

void tly_json_arena_end(void)
{
    mine.active = false;
    if (!mine.held) return;
    POISON(mine.held->base, mine.held->touched);
    pthread_mutex_lock(&pool_lock);
    pool[pooled++] = mine.held;
    pthread_mutex_unlock(&pool_lock);
    mine.held = NULL;
}

void tly_json_arena_swap(tly_json_arena_state *saved)
{
    tly_json_arena_state thread = mine;
    mine = *saved;
    *saved = thread;
}

void tly_json_arena_drop(json_t *value)
{
    const char *p = (const char *)value;
    if (mine.held && !mine.spilled && p >= mine.held->base && p < mine.held->base + mine.used) return;
    json_decref(value);
}

void tly_json_arena_trim(void)
{
    pthread_mutex_lock(&pool_lock);
    for (size_t i = 0; i < pooled; i++) {
        arena *a = pool[i];
        size_t keep = i + WARM_ARENAS >= pooled ? KEEP_BYTES : 0;   /* the pool's top is its end */
        if (a->touched <= keep) continue;
        madvise(a->base + keep, a->touched - keep, MADV_DONTNEED);
        a->touched = keep;
    }
    pthread_mutex_unlock(&pool_lock);
}

void tly_json_free(void *text)
{
    arena_free(text);
}

char *tly_json_strndup(const char *s, size_t len)
{
    char *copy = arena_malloc(len + 1);
    if (!copy) copy = tly_xmalloc(len + 1);   /* malloc failed: once more, aborting if it fails */
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}
