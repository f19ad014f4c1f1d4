#include "first.h"
#include "io_loop.h"
#include "fcgi_record.h"
#include "fiber.h"
#include "json_arena.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 16384
/* Parameters of one request: lighttpd sends about 2 KB; more is not a request of ours. */
#define MAX_PARAMS_BYTES (256u * 1024)
/* Stack kept resident by an idle fiber after a trim: a request's usual depth, several times. */
#define KEEP_STACK_BYTES ((size_t)64 * 1024)

/* Closed connections whose memory is kept for new ones. */
#define KEPT_CONNECTIONS 16

typedef struct conn {
    tly_io_loop *loop;
    int fd;
    bool writing;             /* waiting for room to send c->out (else reading, or a request) */
    bool watched;             /* registered with epoll */
    tly_buf in;               /* received, not yet taken as records */
    unsigned request_id;      /* 0: between requests */
    bool keep_conn;
    tly_buf params;           /* the FCGI_PARAMS stream */
    bool params_done;
    tly_buf body;             /* the FCGI_STDIN stream, up to settings.body_bytes */
    tly_fcgi_env env;         /* the parameters */
    tly_io_mem io;            /* the request as the handler reads it; io.out is its answer */
    tly_req req;
    tly_json_arena_state arena;
    tly_fiber *fiber;
    tly_buf out;              /* records to send */
    size_t out_sent;
    struct conn *next;        /* in the queue for a fiber, or the list of fibers to resume */
} conn;

struct tly_io_loop {
    int listen_fd, epoll_fd, wake_fd;
    tly_io_loop_settings settings;
    tly_io_handler *handle;
    void *app;
    tly_fiber **idle;         /* fibers not running a request */
    size_t idle_count;
    size_t running;           /* requests in a fiber */
    conn *queue_head, *queue_tail;   /* complete requests waiting for a fiber */
    pthread_mutex_t ready_lock;
    conn *ready;              /* parked fibers to resume (tly_fiber_unpark), from any thread */
    atomic_bool stopping;
    conn *kept[KEPT_CONNECTIONS];   /* closed connections' memory, for the next ones */
    size_t kept_count;
};

/* The handler's answer as FCGI_STDOUT records, the stream's end and the request's. */
static void put_answer(conn *c)
{
    tly_fcgi_put_stdout(&c->out, c->request_id, c->io.out.ptr ? c->io.out.ptr : "", c->io.out.len);
    tly_fcgi_put_end_request(&c->out, c->request_id, TLY_FCGI_REQUEST_COMPLETE);
}

/* --- connections ----------------------------------------------------------------------------- */

static void free_conn(conn *c)
{
    tly_buf_free(&c->in);
    tly_buf_free(&c->params);
    tly_buf_free(&c->body);
    tly_fcgi_env_free(&c->env);
    tly_buf_free(&c->io.out);
    tly_buf_free(&c->out);
    tly_req_free(&c->req);
    free(c);
}

/* Forgets the request of the connection, keeping its buffers (unless a large request grew them,
 * TLY_BUF_MAX_REUSE). */
static void end_request_state(conn *c)
{
    c->request_id = 0;
    c->params_done = false;
    tly_buf_reset(&c->params);
    tly_buf_reset(&c->body);
    tly_buf_reset(&c->io.out);
    memset(&c->arena, 0, sizeof c->arena);
}

/* Closes the connection. Its memory is kept for the next one (the web server opens a connection
 * per request): a request then allocates nothing for its records. */
static void close_conn(conn *c)
{
    tly_io_loop *loop = c->loop;
    close(c->fd);   /* also takes it out of epoll */
    if (loop->kept_count == TLY_ARRAY_LEN(loop->kept)) {
        free_conn(c);
        return;
    }
    /* The request's own buffers (req.path, req.body) were reset when it ended. */
    end_request_state(c);
    tly_buf_reset(&c->in);
    tly_buf_reset(&c->out);
    loop->kept[loop->kept_count++] = c;
}

static conn *open_conn(tly_io_loop *loop, int fd)
{
    conn *c;
    if (loop->kept_count) {
        c = loop->kept[--loop->kept_count];
        /* Everything but the buffers and the parameter list starts afresh. */
        conn fresh = {.in = c->in, .params = c->params, .body = c->body, .env = c->env, .out = c->out};
        fresh.io.out = c->io.out;
        fresh.req.path = c->req.path;
        fresh.req.body = c->req.body;
        *c = fresh;
    } else {
        c = tly_xcalloc(1, sizeof *c);
    }
    c->loop = loop;
    c->fd = fd;
    return c;
}

/* Watches the connection for one readiness event (EPOLLONESHOT: no event arrives while a request
 * is being handled, and none needs taking back). */
static int watch(conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events | EPOLLONESHOT, .data.ptr = c};
    int rc = epoll_ctl(c->loop->epoll_fd, c->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev);
    if (rc == 0) c->watched = true;
    return rc;
}

static void dispatch(tly_io_loop *loop, conn *c);
static void serve_conn(conn *c);

/* Sends what is left of c->out. 1: all sent; 0: the socket is full (watched for room); -1: gone. */
static int send_out(conn *c)
{
    while (c->out_sent < c->out.len) {
        ssize_t n = send(c->fd, c->out.ptr + c->out_sent, c->out.len - c->out_sent, MSG_NOSIGNAL);
        if (n > 0) c->out_sent += (size_t)n;
        else if (n < 0 && errno == EINTR) continue;
        else if (n < 0 && errno == EAGAIN) return watch(c, EPOLLOUT) == 0 ? 0 : -1;
        else return -1;
    }
    tly_buf_reset(&c->out);
    c->out_sent = 0;
    return 1;
}

/* After an answer or a refusal has been queued in c->out: sends it, then closes the connection
 * or, when the web server keeps it, reads on. */
static void flush_and_continue(conn *c)
{
    int sent = send_out(c);
    c->writing = sent == 0;
    if (sent == 0) return;
    if (sent < 0 || !c->keep_conn) {
        close_conn(c);
        return;
    }
    serve_conn(c);
}

/* Takes the complete records of c->in. Returns 1 when a request is complete, 0 when more input is
 * needed, -1 on a protocol error. Requests other than a responder's, and a second request on the
 * connection while one is open, are refused as the specification says. */
static int take_records(conn *c)
{
    tly_io_loop *loop = c->loop;
    size_t at = 0;
    int complete = 0;
    while (!complete && c->in.len - at >= TLY_FCGI_HEADER_BYTES) {
        const unsigned char *h = (const unsigned char *)c->in.ptr + at;
        size_t content = ((size_t)h[4] << 8) | h[5], record = TLY_FCGI_HEADER_BYTES + content + h[6];
        if (c->in.len - at < record) break;
        if (h[0] != 1) return -1;
        unsigned id = ((unsigned)h[2] << 8) | h[3];
        const unsigned char *data = h + TLY_FCGI_HEADER_BYTES;
        at += record;
        if (id == 0) {   /* a management record */
            if (h[1] == TLY_FCGI_GET_VALUES) tly_fcgi_put_header(&c->out, TLY_FCGI_GET_VALUES_RESULT, 0, 0);   /* none known */
            else {
                tly_fcgi_put_header(&c->out, TLY_FCGI_UNKNOWN_TYPE, 0, 8);
                unsigned char body[8] = {h[1]};
                tly_buf_append(&c->out, body, sizeof body);
            }
            continue;
        }
        if (h[1] == TLY_FCGI_BEGIN_REQUEST) {
            if (content < 8) return -1;
            unsigned role = ((unsigned)data[0] << 8) | data[1];
            if (c->request_id != 0) tly_fcgi_put_end_request(&c->out, id, TLY_FCGI_CANT_MPX_CONN);
            else if (role != TLY_FCGI_RESPONDER) tly_fcgi_put_end_request(&c->out, id, TLY_FCGI_UNKNOWN_ROLE);
            else {
                c->request_id = id;
                c->keep_conn = data[2] & TLY_FCGI_KEEP_CONN;
            }
        } else if (id != c->request_id) {
            continue;   /* a record of a request refused above, or already ended */
        } else if (h[1] == TLY_FCGI_ABORT_REQUEST) {
            tly_fcgi_put_end_request(&c->out, id, TLY_FCGI_REQUEST_COMPLETE);
            end_request_state(c);
        } else if (h[1] == TLY_FCGI_PARAMS && !c->params_done) {
            if (content == 0) {
                c->params_done = true;
                if (tly_fcgi_decode_params(c->params.ptr, c->params.len, &c->env) != 0) return -1;
            } else if (c->params.len + content > MAX_PARAMS_BYTES) {
                return -1;
            } else {
                tly_buf_append(&c->params, data, content);
            }
        } else if (h[1] == TLY_FCGI_STDIN) {
            if (content == 0) complete = c->params_done ? 1 : -1;
            else if (c->body.len < loop->settings.body_bytes) {
                size_t room = loop->settings.body_bytes - c->body.len;
                tly_buf_append(&c->body, data, content < room ? content : room);
            }
        }
    }
    if (at > 0) {
        memmove(c->in.ptr, c->in.ptr + at, c->in.len - at);
        c->in.len -= at;
    }
    return complete;
}

/* Reads and takes what the connection has; dispatches a request once complete. */
static void serve_conn(conn *c)
{
    for (;;) {
        int complete = take_records(c);
        if (complete < 0) {
            tly_log_warn("FastCGI: malformed records from the web server; connection closed");
            close_conn(c);
            return;
        }
        if (c->out.len > 0 && c->request_id == 0) {   /* refusals or management answers only */
            flush_and_continue(c);
            return;
        }
        if (complete) {
            dispatch(c->loop, c);
            return;
        }
        char *dst = tly_buf_reserve(&c->in, READ_CHUNK);
        ssize_t n = read(c->fd, dst, READ_CHUNK);
        if (n > 0) {
            tly_buf_commit(&c->in, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN && watch(c, EPOLLIN) == 0) return;
        close_conn(c);   /* the web server hung up, or the socket failed */
        return;
    }
}

/* --- requests in fibers ---------------------------------------------------------------------- */

static void run_request(void *arg)
{
    conn *c = arg;
    c->io = (tly_io_mem){.env = c->env.vars, .in = c->body.ptr ? c->body.ptr : "", .in_len = c->body.len,
                         .out = c->io.out};
    tly_req_begin(&c->req, &tly_io_mem_ops, &c->io);
    c->loop->handle(c->loop->app, &c->req);
    tly_req_reset(&c->req);
}

/* From any thread: wakes the loop from epoll_wait. */
static void wake_loop(tly_io_loop *loop)
{
    uint64_t one = 1;
    ssize_t n = write(loop->wake_fd, &one, sizeof one);
    (void)n;   /* the counter cannot overflow in practice; the loop wakes either way */
}

/* From any thread: puts the connection of a parked fiber on the list to resume. */
static void schedule(void *ctx, tly_fiber *f)
{
    conn *c = ctx;
    (void)f;
    tly_io_loop *loop = c->loop;
    pthread_mutex_lock(&loop->ready_lock);
    bool first = loop->ready == NULL;
    c->next = loop->ready;
    loop->ready = c;
    pthread_mutex_unlock(&loop->ready_lock);
    if (first) wake_loop(loop);
}

/* Runs the request's fiber until it parks or ends; once ended, sends the answer. */
static void resume(tly_io_loop *loop, conn *c)
{
    tly_json_arena_swap(&c->arena);
    bool parked = tly_fiber_resume(c->fiber);
    tly_json_arena_swap(&c->arena);
    if (parked) return;
    loop->idle[loop->idle_count++] = c->fiber;
    c->fiber = NULL;
    loop->running--;
    put_answer(c);
    end_request_state(c);
    flush_and_continue(c);
    if (loop->queue_head && loop->running < loop->settings.in_flight) {
        conn *next = loop->queue_head;
        loop->queue_head = next->next;
        if (!loop->queue_head) loop->queue_tail = NULL;
        dispatch(loop, next);
    }
}

/* Hands a complete request to a fiber, or queues it until one is free. */
static void dispatch(tly_io_loop *loop, conn *c)
{
    if (loop->running >= loop->settings.in_flight) {
        c->next = NULL;
        if (loop->queue_tail) loop->queue_tail->next = c;
        else loop->queue_head = c;
        loop->queue_tail = c;
        return;
    }
    tly_fiber *f = loop->idle_count ? loop->idle[--loop->idle_count] : tly_fiber_new(loop->settings.stack_bytes);
    if (!f) {
        tly_log_error("FastCGI: no memory for a request's stack; connection closed");
        close_conn(c);
        return;
    }
    c->fiber = f;
    loop->running++;
    tly_fiber_start(f, run_request, c, schedule, c);
    resume(loop, c);
}

/* --- the loop -------------------------------------------------------------------------------- */

static void accept_waiting(tly_io_loop *loop)
{
    for (;;) {
        int fd = accept4(loop->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN) tly_log_warn("FastCGI: accept failed: %s", strerror(errno));
            return;
        }
        serve_conn(open_conn(loop, fd));   /* the web server has usually sent the whole request already */
    }
}

static void resume_ready(tly_io_loop *loop)
{
    uint64_t count;
    ssize_t n = read(loop->wake_fd, &count, sizeof count);
    (void)n;
    pthread_mutex_lock(&loop->ready_lock);
    conn *list = loop->ready;
    loop->ready = NULL;
    pthread_mutex_unlock(&loop->ready_lock);
    /* The list is newest first: resume in the order the fibers were woken. */
    conn *ordered = NULL;
    while (list) {
        conn *next = list->next;
        list->next = ordered;
        ordered = list;
        list = next;
    }
    while (ordered) {
        conn *next = ordered->next;
        resume(loop, ordered);
        ordered = next;
    }
}

/* Gives back the stack pages that idle fibers touched beyond a usual request's depth. */
static void trim_idle_stacks(tly_io_loop *loop)
{
    for (size_t i = 0; i < loop->idle_count; i++) tly_fiber_trim(loop->idle[i], KEEP_STACK_BYTES);
}

tly_io_loop *tly_io_loop_new(int listen_fd, const tly_io_loop_settings *settings, tly_io_handler *handle,
                             void *app)
{
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd < 0 || wake_fd < 0 || fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK) != 0) {
        int e = errno;
        if (epoll_fd >= 0) close(epoll_fd);
        if (wake_fd >= 0) close(wake_fd);
        errno = e;
        return NULL;
    }
    tly_io_loop *loop = tly_xcalloc(1, sizeof *loop);
    loop->listen_fd = listen_fd;
    loop->epoll_fd = epoll_fd;
    loop->wake_fd = wake_fd;
    loop->settings = *settings;
    if (loop->settings.in_flight == 0) loop->settings.in_flight = 1;
    loop->handle = handle;
    loop->app = app;
    loop->idle = tly_xcalloc(loop->settings.in_flight, sizeof *loop->idle);
    pthread_mutex_init(&loop->ready_lock, NULL);
    struct epoll_event listen_ev = {.events = EPOLLIN, .data.ptr = &loop->listen_fd};
    struct epoll_event wake_ev = {.events = EPOLLIN, .data.ptr = &loop->wake_fd};
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &listen_ev) != 0 ||
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &wake_ev) != 0) {
        int e = errno;
        tly_io_loop_free(loop);
        errno = e;
        return NULL;
    }
    return loop;
}

int tly_io_loop_run(tly_io_loop *loop)
{
    struct epoll_event ready[64];
    bool listening = true;
    for (;;) {
        if (atomic_load(&loop->stopping) && listening) {
            epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, loop->listen_fd, NULL);
            listening = false;
        }
        if (!listening && loop->running == 0 && !loop->queue_head) return 0;
        int n = epoll_wait(loop->epoll_fd, ready, (int)TLY_ARRAY_LEN(ready), 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            tly_log_error("FastCGI: epoll_wait failed: %s", strerror(errno));
            return -1;
        }
        if (n == 0) trim_idle_stacks(loop);
        for (int i = 0; i < n; i++) {
            void *tag = ready[i].data.ptr;
            if (tag == &loop->listen_fd) {
                if (listening) accept_waiting(loop);
            } else if (tag == &loop->wake_fd) {
                resume_ready(loop);
            } else {
                conn *c = tag;
                if (c->writing) flush_and_continue(c);
                else serve_conn(c);
            }
        }
    }
}

void tly_io_loop_stop(tly_io_loop *loop)
{
    atomic_store(&loop->stopping, true);
    wake_loop(loop);
}

void tly_io_loop_free(tly_io_loop *loop)
{
    if (!loop) return;
    for (size_t i = 0; i < loop->idle_count; i++) tly_fiber_free(loop->idle[i]);
    for (size_t i = 0; i < loop->kept_count; i++) free_conn(loop->kept[i]);
    free(loop->idle);
    close(loop->epoll_fd);
    close(loop->wake_fd);
    pthread_mutex_destroy(&loop->ready_lock);
    free(loop);
}
