/* The event-loop FastCGI ceiling of the ingest benchmark: a FastCGI program that answers POST
 * /v1/events as track.fcgi does, with no work in between, from one thread that waits in epoll for
 * every connection at once. When lighttpd connects faster than one request is answered, a single
 * wake-up accepts several connections, and a request whose records have arrived is read without
 * sleeping again; threads that each wait in accept() (fastcgi_ceiling.c, and track.fcgi) sleep and
 * wake about one and a half times per request. So this bounds any FastCGI program behind lighttpd
 * on the same machine, however it is written, track.fcgi's own event loop (lib/io_loop.c)
 * included; fastcgi_ceiling.c bounds a program of threads through libfcgi.
 *
 * It speaks just the FastCGI needed here: records of any size and padding, a request's PARAMS and
 * STDIN streams (up to MAX_REQUEST_BYTES in all), FCGI_KEEP_CONN honoured. */
#include "first.h"
#include "fcgi_record.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_FD 0 /* where a web server that starts a FastCGI program puts its socket */
#define MAX_REQUEST_BYTES (2u << 20)

static const char answer_text[] =
    "Status: 202\r\nContent-Type: application/json\r\nContent-Length: 67\r\n\r\n"
    "{\"accepted\":1,\"rejected\":0,\"duplicates\":0,\"filtered\":0,\"errors\":[]}";

typedef struct connection {
    int fd;
    unsigned char *buf;
    size_t len, cap;
} connection;

/* Writes all of buf to a non-blocking socket, waiting when its buffer is full. */
static int write_all(int fd, const unsigned char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {fd, POLLOUT, 0};
            if (poll(&p, 1, -1) < 0 && errno != EINTR) return -1;
        } else if (n < 0 && errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* The answer to one request, its end included, in one write (the records written as track.fcgi
 * writes them: lib/fcgi_record.c). */
static int answer(int fd, unsigned request_id)
{
    static tly_buf out;
    tly_buf_reset(&out);
    tly_fcgi_put_stdout(&out, request_id, answer_text, sizeof answer_text - 1);
    tly_fcgi_put_end_request(&out, request_id, TLY_FCGI_REQUEST_COMPLETE);
    return write_all(fd, (const unsigned char *)out.ptr, out.len);
}

/* Answers each request complete in the buffer and drops its records. Returns 1 to keep the
 * connection (waiting for more), 0 when it is done with, -1 on a protocol error. */
static int serve_buffered(connection *c)
{
    size_t at = 0, request_start = 0;
    bool keep = false;
    while (c->len - at >= TLY_FCGI_HEADER_BYTES) {
        const unsigned char *h = c->buf + at;
        size_t record = TLY_FCGI_HEADER_BYTES + (((size_t)h[4] << 8) | h[5]) + h[6];
        if (c->len - at < record) break;
        if (h[0] != 1) return -1;
        unsigned request_id = ((unsigned)h[2] << 8) | h[3];
        if (h[1] == TLY_FCGI_BEGIN_REQUEST && record >= TLY_FCGI_HEADER_BYTES + 3)
            keep = h[TLY_FCGI_HEADER_BYTES + 2] & TLY_FCGI_KEEP_CONN;
        at += record;
        if (h[1] == TLY_FCGI_STDIN && h[4] == 0 && h[5] == 0) { /* the empty record ending STDIN */
            if (answer(c->fd, request_id) != 0) return -1;
            if (!keep) return 0;
            request_start = at;
        }
    }
    memmove(c->buf, c->buf + request_start, c->len - request_start);
    c->len -= request_start;
    return 1;
}

/* Reads what the socket has; returns as serve_buffered does. */
static int read_and_serve(connection *c)
{
    for (;;) {
        if (c->len == c->cap) {
            if (c->cap >= MAX_REQUEST_BYTES) return -1;
            size_t cap = c->cap ? 2 * c->cap : 4096;
            unsigned char *buf = realloc(c->buf, cap);
            if (!buf) return -1;
            c->buf = buf;
            c->cap = cap;
        }
        ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (n == 0) return 0;
        if (n < 0) return errno == EAGAIN ? serve_buffered(c) : errno == EINTR ? 1 : -1;
        c->len += (size_t)n;
        if (c->len < c->cap) return serve_buffered(c);
    }
}

static void close_connection(connection *c)
{
    close(c->fd);
    free(c->buf);
    free(c);
}

/* Accepts every connection waiting; serves at once the requests that have already arrived and
 * watches the other connections. */
static void accept_waiting(int epoll_fd)
{
    for (;;) {
        int fd = accept4(LISTEN_FD, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        connection *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (read_and_serve(c) != 1 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) close_connection(c);
    }
}

int main(void)
{
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0 || fcntl(LISTEN_FD, F_SETFL, O_NONBLOCK) != 0) {
        perror("fastcgi-ceiling-loop: epoll or fd 0 (not a listening socket?)");
        return 1;
    }
    struct epoll_event listen_ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, LISTEN_FD, &listen_ev) != 0) {
        perror("fastcgi-ceiling-loop: epoll_ctl");
        return 1;
    }
    /* Stopped by SIGTERM's default action, as nothing needs finishing. */
    struct epoll_event ready[256];
    for (;;) {
        int n = epoll_wait(epoll_fd, ready, 256, -1);
        if (n < 0 && errno != EINTR) return 1;
        for (int i = 0; i < n; i++) {
            connection *c = ready[i].data.ptr;
            if (!c) accept_waiting(epoll_fd);
            else if (read_and_serve(c) != 1) close_connection(c); /* close() drops it from epoll */
        }
    }
}
