#include "first.h"
#include "json_arena.h"
#include "mem.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
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
 * A page-size multiple. */
#define KEEP_BYTES ((size_t)64 * 1024)
#define ALIGNMENT 16

/* Who may use an arena's memory: its thread during a request, or a trim between requests. */
enum { IDLE, BUSY, TRIMMING };

typedef struct arena {
    char *base;
    size_t touched;            /* bytes used since the last trim, so resident */
    atomic_int state;
} arena;

static char *region;           /* every arena's memory, one after the other */
static size_t region_bytes, arena_bytes, arena_count;
static arena *arenas;
static atomic_size_t arenas_claimed;

static _Thread_local struct {
    arena *arena;              /* NULL: this thread has none */
    size_t used;               /* bytes handed out in this request */
    bool claimed, busy, active;
} mine;

static bool in_region(const void *p)
{
    return region && (const char *)p >= region && (const char *)p < region + region_bytes;
}

static void *arena_malloc(size_t size)
{
    size_t n = (size + ALIGNMENT - 1) & ~(size_t)(ALIGNMENT - 1);
    if (!mine.active || n > arena_bytes - mine.used) return malloc(size);
    arena *a = mine.arena;
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

void tly_json_arena_setup(size_t threads, size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t per = (bytes + page - 1) & ~(page - 1);
    if (region || threads == 0 || per == 0) return;
    void *p = mmap(NULL, threads * per, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return;   /* Jansson keeps allocating with malloc */
    arenas = tly_xcalloc(threads, sizeof *arenas);
    for (size_t i = 0; i < threads; i++) {
        arenas[i].base = (char *)p + i * per;
        atomic_init(&arenas[i].state, IDLE);
    }
    region = p;
    arena_bytes = per;
    arena_count = threads;
    region_bytes = threads * per;
    POISON(region, region_bytes);
    json_set_alloc_funcs(arena_malloc, arena_free);
}

void tly_json_arena_begin(void)
{
    if (!mine.claimed && region) {
        mine.claimed = true;
        size_t i = atomic_fetch_add(&arenas_claimed, 1);
        if (i < arena_count) mine.arena = &arenas[i];
    }
    mine.used = 0;
    /* A trim in progress lends the arena for no longer than an madvise: this request uses malloc. */
    int idle = IDLE;
    mine.busy = mine.arena && atomic_compare_exchange_strong(&mine.arena->state, &idle, BUSY);
    mine.active = mine.busy;
}

void tly_json_arena_pause(void)
{
    mine.active = false;
}

void tly_json_arena_resume(void)
{
    mine.active = mine.busy;
}

void tly_json_arena_end(void)
{
    mine.active = false;
    if (!mine.busy) return;
    mine.busy = false;
    POISON(mine.arena->base, mine.arena->touched);
    atomic_store(&mine.arena->state, IDLE);
}

void tly_json_arena_trim(void)
{
    for (size_t i = 0; i < arena_count; i++) {
        arena *a = &arenas[i];
        int idle = IDLE;
        if (!atomic_compare_exchange_strong(&a->state, &idle, TRIMMING)) continue;
        if (a->touched > KEEP_BYTES) {
            madvise(a->base + KEEP_BYTES, a->touched - KEEP_BYTES, MADV_DONTNEED);
            a->touched = KEEP_BYTES;
        }
        atomic_store(&a->state, IDLE);
    }
}

void tly_json_free(void *text)
{
    arena_free(text);
}
