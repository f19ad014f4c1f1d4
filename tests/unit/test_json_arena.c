/* Request-scoped arenas for Jansson values (lib/json_arena.c). Built with ASan, a value used after
 * its request ended is also reported by the sanitizer. */
#include "first.h"
#include "json_arena.h"
#include "tap.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define ARENAS 8
#define THREADS (ARENAS + 1)   /* one more than arenas: some requests find none free */
#define WARM 4                 /* arenas that keep a small request's pages (json_arena.c) */
#define ARENA_BYTES ((size_t)256 * 1024)

/* Resident anonymous memory of this process, in KB. */
static long rss_anon_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

/* A request's worth of values: an array of `n` objects, as an envelope would have. */
static json_t *make_values(int n, const char *tag)
{
    json_t *list = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:i, s:s, s:[s]}", "i", i, "tag", tag, "path", "/p"));
    return list;
}

/* True when `list` is what make_values(n, tag) made. */
static bool values_intact(const json_t *list, int n, const char *tag)
{
    if ((int)json_array_size(list) != n) return false;
    for (int i = 0; i < n; i++) {
        const json_t *o = json_array_get(list, (size_t)i);
        if (json_integer_value(json_object_get(o, "i")) != i) return false;
        const char *t = json_string_value(json_object_get(o, "tag"));
        if (!t || strcmp(t, tag) != 0) return false;
    }
    return true;
}

static void test_requests_reuse_the_arena(void)
{
    tly_json_arena_begin();
    json_t *first = json_string("first request");
    void *where = first;
    json_decref(first);
    tly_json_arena_end();
    tly_json_arena_begin();
    json_t *second = json_string("second request");
    CHECK(second == where);   /* the same arena, emptied: the next request starts at its beginning */
    CHECK_STR(json_string_value(second), "second request");
    json_decref(second);
    tly_json_arena_end();
}

static void test_paused_values_outlive_the_request(void)
{
    tly_json_arena_begin();
    json_t *scratch = make_values(10, "scratch");
    tly_json_arena_pause();
    json_t *kept = make_values(10, "kept");
    tly_json_arena_resume();
    json_decref(scratch);
    tly_json_arena_end();
    /* The next request writes over the whole of what the last one used. */
    tly_json_arena_begin();
    json_t *next = make_values(100, "next");
    CHECK(values_intact(next, 100, "next"));
    json_decref(next);
    tly_json_arena_end();
    CHECK(values_intact(kept, 10, "kept"));
    json_decref(kept);   /* a malloc'd value, freed outside any request */
}

static void test_values_outside_requests_use_malloc(void)
{
    json_t *before = make_values(5, "before");
    tly_json_arena_begin();
    json_t *during = make_values(5, "during");
    json_decref(before);   /* a malloc'd value freed inside a request */
    json_decref(during);
    tly_json_arena_end();
    json_t *after = make_values(5, "after");
    tly_json_arena_begin();
    json_decref(make_values(50, "overwrite"));
    tly_json_arena_end();
    CHECK(values_intact(after, 5, "after"));
    json_decref(after);
}

static void test_dumped_text_is_freed_either_way(void)
{
    json_t *v = json_pack("{s:s}", "path", "/pricing");
    char *outside = json_dumps(v, JSON_COMPACT);
    tly_json_arena_begin();
    char *inside = json_dumps(v, JSON_COMPACT);
    CHECK_STR(inside, "{\"path\":\"/pricing\"}");
    tly_json_free(inside);
    tly_json_arena_end();
    CHECK_STR(outside, "{\"path\":\"/pricing\"}");
    tly_json_free(outside);
    json_decref(v);
}

static void test_a_request_larger_than_its_arena_continues_in_malloc(void)
{
    tly_json_arena_begin();
    json_t *big = make_values(20000, "big");   /* several times ARENA_BYTES */
    CHECK(values_intact(big, 20000, "big"));
    json_decref(big);
    tly_json_arena_end();
}

/* Dropping a request's value leaves it to the arena's end: its tree is not walked, so not even
 * its own count goes down (a reference taken here shows it). */
static void test_a_dropped_value_is_left_to_the_arena(void)
{
    tly_json_arena_begin();
    json_t *v = make_values(10, "dropped");
    json_incref(v);
    tly_json_arena_drop(v);
    CHECK_INT((int)v->refcount, 2);
    CHECK(values_intact(v, 10, "dropped"));
    tly_json_arena_end();
}

/* Once a request's arena has filled up, some of its values are malloc's: dropping is json_decref
 * (an ASan build reports the malloc'd values of `big` as leaked otherwise). */
static void test_after_a_spill_drop_is_decref(void)
{
    tly_json_arena_begin();
    json_t *big = make_values(20000, "big");   /* several times ARENA_BYTES */
    json_t *v = json_object();
    json_incref(v);
    tly_json_arena_drop(v);
    CHECK_INT((int)v->refcount, 1);
    json_decref(v);
    tly_json_arena_drop(big);
    tly_json_arena_end();
}

static void test_outside_requests_drop_is_decref(void)
{
    json_t *v = make_values(5, "outside");
    json_incref(v);
    tly_json_arena_drop(v);
    CHECK_INT((int)v->refcount, 1);
    CHECK(values_intact(v, 5, "outside"));
    tly_json_arena_drop(v);
}

static void test_trim_gives_large_requests_pages_back(void)
{
    tly_json_arena_begin();
    json_t *batch = make_values(1500, "batch");   /* most of ARENA_BYTES */
    json_decref(batch);
    tly_json_arena_end();
    long held = rss_anon_kb();
    tly_json_arena_trim();
    long trimmed = rss_anon_kb();
    CHECK(held - trimmed >= 100);   /* KB: all but what a small request needs */
    if (held - trimmed < 100) printf("#   resident %ld KB before the trim, %ld after\n", held, trimmed);
    /* A trimmed arena still serves requests. */
    tly_json_arena_begin();
    json_t *again = make_values(1500, "again");
    CHECK(values_intact(again, 1500, "again"));
    json_decref(again);
    tly_json_arena_end();
}

/* Holds an arena, with a small request's worth of values, until all the holders have one. */
static pthread_barrier_t all_held;

static void *small_request(void *arg)
{
    (void)arg;
    tly_json_arena_begin();
    json_t *v = make_values(50, "small");   /* about 32 KB: under the 64 KB a warm arena keeps */
    pthread_barrier_wait(&all_held);
    json_decref(v);
    tly_json_arena_end();
    return NULL;
}

/* After a peak of concurrent requests, the arenas not among the last given back keep nothing. */
static void test_trim_empties_arenas_not_used_lately(void)
{
    pthread_t ids[ARENAS];
    tly_json_arena_trim();   /* what earlier requests left */
    pthread_barrier_init(&all_held, NULL, ARENAS);
    for (int i = 0; i < ARENAS; i++) pthread_create(&ids[i], NULL, small_request, NULL);
    for (int i = 0; i < ARENAS; i++) pthread_join(ids[i], NULL);
    pthread_barrier_destroy(&all_held);
    long held = rss_anon_kb();
    tly_json_arena_trim();
    long trimmed = rss_anon_kb();
    /* KB: the cold arenas' pages; a trim that kept a small request's pages in every arena would
     * give back none of them. */
    CHECK(held - trimmed >= (ARENAS - WARM) * 16);
    if (held - trimmed < (ARENAS - WARM) * 16) printf("#   resident %ld KB before the trim, %ld after\n", held, trimmed);
}

typedef struct worker_result {
    int requests, wrong;
} worker_result;

static atomic_bool trimming_done;

static void *worker(void *arg)
{
    worker_result *r = arg;
    char tag[32];
    snprintf(tag, sizeof tag, "thread %p", arg);
    for (r->requests = 0; r->requests < 2000; r->requests++) {
        tly_json_arena_begin();
        json_t *v = make_values(1 + r->requests % 400, tag);
        if (!values_intact(v, 1 + r->requests % 400, tag)) r->wrong++;
        tly_json_arena_drop(v);   /* json_decref for the requests that found no arena free */
        tly_json_arena_end();
    }
    return NULL;
}

static void *trimmer(void *arg)
{
    (void)arg;
    while (!atomic_load(&trimming_done)) tly_json_arena_trim();
    return NULL;
}

/* More concurrent requests than arenas (some find none free and use malloc), while another
 * thread trims. */
static void test_threads_and_trims_together(void)
{
    pthread_t ids[THREADS], trim;
    worker_result results[THREADS] = {{0, 0}};
    pthread_create(&trim, NULL, trimmer, NULL);
    for (int i = 0; i < THREADS; i++) pthread_create(&ids[i], NULL, worker, &results[i]);
    int wrong = 0, requests = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(ids[i], NULL);
        wrong += results[i].wrong;
        requests += results[i].requests;
    }
    atomic_store(&trimming_done, true);
    pthread_join(trim, NULL);
    CHECK_INT(requests, THREADS * 2000);
    CHECK_INT(wrong, 0);
}

static void run_tests(void)
{
    tly_json_arena_setup(ARENAS, ARENA_BYTES);
    test_requests_reuse_the_arena();
    test_paused_values_outlive_the_request();
    test_values_outside_requests_use_malloc();
    test_dumped_text_is_freed_either_way();
    test_a_request_larger_than_its_arena_continues_in_malloc();
    test_a_dropped_value_is_left_to_the_arena();
    test_after_a_spill_drop_is_decref();
    test_outside_requests_drop_is_decref();
    test_trim_gives_large_requests_pages_back();
    test_trim_empties_arenas_not_used_lately();
    test_threads_and_trims_together();
}
