/* Request-scoped allocation of Jansson values. A request of track.fcgi builds and frees thousands
 * of small JSON values (the envelope, the enriched rows, the answer): through malloc, a fifth of
 * its CPU time. Between tly_json_arena_begin and tly_json_arena_end the calling thread takes them
 * from a bump allocator of its own, frees them by doing nothing, and empties the whole arena at
 * the end in one step. Outside that window, and on threads without an arena, Jansson allocates
 * with malloc as usual; either kind of value may be freed anywhere.
 *
 * The rule that keeps this safe: no JSON value made while an arena is active may outlive
 * tly_json_arena_end on that thread. Code that keeps values (caches) runs with the arena paused.
 * ASan builds poison an arena's memory when its request ends, so a value that outlives its
 * request is reported at its first use. */
#ifndef TLY_JSON_ARENA_H
#define TLY_JSON_ARENA_H
#include "first.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Where a thread is in its request's arena (json_arena.c). */
typedef struct tly_json_arena_state {
    struct tly_json_arena *held;   /* NULL: no request, or no arena was free */
    size_t used;                   /* bytes handed out in this request */
    bool active;
    bool spilled;                  /* the arena was full: some of the request's values are malloc's */
} tly_json_arena_state;

/* Reserves address space for `count` arenas of `bytes` each (one per concurrent request) and
 * makes Jansson allocate through them. Call once, before threads start. A request that needs more
 * than `bytes` gets the rest from malloc. */
void tly_json_arena_setup(size_t count, size_t bytes);

/* Starts a request on this thread: until its end, Jansson values come from an arena it takes
 * from the pool (or from malloc, when every arena is taken). */
void tly_json_arena_begin(void);
/* Pauses and resumes the arena inside a request, around code that makes values to keep. */
void tly_json_arena_pause(void);
void tly_json_arena_resume(void);
/* Ends the request: its arena is emptied and goes back to the pool, its pages still resident for
 * the next request. Every value made from the arena must be gone (or never used again). */
void tly_json_arena_end(void);
/* Exchanges the thread's request state with *saved: for a request that pauses and resumes on
 * the thread between others (a fiber, fiber.h), whose state is kept in *saved meanwhile. A new
 * request's saved state is all zeros. */
void tly_json_arena_swap(tly_json_arena_state *saved) TLY_NONNULL(1);
/* Lets go of a value made in this request, which no one else holds and whose tree holds only
 * values made while the arena was active. While the arena has served every value of the request
 * (it never filled up, leaving some to malloc), its end reclaims the value, tree and all, and
 * this does nothing: json_decref would walk the whole tree only to free nothing, a seventh of
 * track.fcgi's CPU per batched event. Otherwise it is json_decref. */
void tly_json_arena_drop(json_t *value);
/* Gives back to the kernel what the pooled arenas hold beyond a small request's needs (the pages
 * of large batches), and all that those not among the last few given back hold (the pages of a
 * peak of concurrent requests). Any thread, now and then: a page given back costs a fault when
 * next used. */
void tly_json_arena_trim(void);

/* Frees what json_dumps returned (which may come from an arena), or tly_json_strndup. */
void tly_json_free(void *text);

/* A copy of the first len bytes of s plus a NUL, allocated like a Jansson value: from this
 * thread's arena while one is active, else by malloc. Never NULL. Free it with tly_json_free. */
char *tly_json_strndup(const char *s, size_t len) TLY_NONNULL(1);

#endif
