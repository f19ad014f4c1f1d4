/* A FastCGI server on one thread: it waits in epoll for every connection of the web server at
 * once, reads each request whole, and handles it in a fiber (fiber.h) of its own, so that a
 * request may wait (for its group commit, batcher.h) while the others go on. Threads that each
 * wait in accept() for one connection sleep and wake about one and a half times a request, and on
 * a virtual machine that costs more than a small request's work; when the web server connects
 * faster than requests are answered, one wake-up here accepts several connections, and a request
 * whose records have arrived is read without sleeping again.
 *
 * Handlers run on the loop's thread, one at a time, and must not block for long: a handler that
 * waits for another thread parks its fiber (tly_fiber_park), to be woken with tly_fiber_unpark. */
#ifndef TLY_IO_LOOP_H
#define TLY_IO_LOOP_H
#include "first.h"
#include "io.h"
#include <stddef.h>

typedef struct tly_io_loop tly_io_loop;

typedef struct tly_io_loop_settings {
    size_t in_flight;      /* requests handled at once; complete requests beyond wait their turn */
    size_t body_bytes;     /* a request body is kept up to this many bytes and the rest dropped
                              (the handler refuses it by its Content-Length anyway) */
    size_t stack_bytes;    /* of each request's fiber: address space, resident as far as used */
} tly_io_loop_settings;

/* A loop serving the FastCGI connections accepted on listen_fd (a web server gives its backend
 * the listening socket as fd 0) with handle(app, req), whose req reads the request from memory
 * and buffers what it writes. NULL with errno set when it cannot be set up. */
tly_io_loop *tly_io_loop_new(int listen_fd, const tly_io_loop_settings *settings, tly_io_handler *handle,
                             void *app) TLY_NONNULL(2, 3);
/* Serves until tly_io_loop_stop; then answers the requests already read and returns 0 (-1 if
 * epoll failed). */
int tly_io_loop_run(tly_io_loop *loop) TLY_NONNULL(1);
/* From any thread: stops accepting connections and makes tly_io_loop_run return once the requests
 * already read are answered. */
void tly_io_loop_stop(tly_io_loop *loop) TLY_NONNULL(1);
void tly_io_loop_free(tly_io_loop *loop);

#endif
