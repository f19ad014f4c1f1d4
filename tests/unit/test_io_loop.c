/* The FastCGI event loop (lib/io_loop.c), spoken to as a web server would over a unix socket:
 * requests whole and in pieces, kept connections, refusals, malformed records, a body over the
 * limit, long answers, requests that park while others are served, and stopping. */
#include "first.h"
#include "fiber.h"
#include "io_loop.h"
#include "tap.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BODY_LIMIT 100

static char socket_path[108];
static atomic_int handled, parked;

/* Parks until another thread unparks it. */
static void *unpark_soon(void *f)
{
    usleep(50 * 1000);
    tly_fiber_unpark(f);
    return NULL;
}

/* The handler: answers "<method> <path> body=<body>" (the body as the request reads it); a path of
 * /park first parks its fiber until a thread wakes it; /big answers 200,000 bytes. */
static void handler(void *app, tly_req *req)
{
    (void)app;
    const char *path = tly_buf_cstr(&req->path);
    if (strcmp(path, "/park") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, unpark_soon, tly_fiber_current());
        pthread_detach(t);
        atomic_fetch_add(&parked, 1);
        tly_fiber_park();
    }
    tly_body_error err;
    tly_buf out = {0};
    tly_buf_append_str(&out, "Status: 200\r\nContent-Type: text/plain\r\n\r\n");
    if (strcmp(path, "/big") == 0) {
        for (int i = 0; i < 20000; i++) tly_buf_append_str(&out, "0123456789");
    } else {
        tly_buf_printf(&out, "%s %s", req->method, path);
        if (tly_req_read_body(req, BODY_LIMIT, &err) == 0) tly_buf_printf(&out, " body=%s", tly_buf_cstr(&req->body));
        else tly_buf_printf(&out, " status=%d", err.status);
    }
    req->io->write(req->ctx, out.ptr, out.len);
    tly_buf_free(&out);
    atomic_fetch_add(&handled, 1);
}

/* --- a web server's side ---------------------------------------------------------------------- */

static void record(tly_buf *b, int type, unsigned id, const void *data, size_t len)
{
    unsigned char h[8] = {1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
                          (unsigned char)(len >> 8), (unsigned char)len, 3, 0};   /* 3 bytes of padding */
    tly_buf_append(b, h, 8);
    tly_buf_append(b, data, len);
    tly_buf_append(b, "\0\0\0", 3);
}

static void pair(tly_buf *p, const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);
    unsigned char l[4] = {(unsigned char)n};
    tly_buf_append(p, l, 1);
    if (v < 128) {
        l[0] = (unsigned char)v;
        tly_buf_append(p, l, 1);
    } else {
        unsigned char w[4] = {(unsigned char)(0x80 | (v >> 24)), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                              (unsigned char)v};
        tly_buf_append(p, w, 4);
    }
    tly_buf_append(p, name, n);
    tly_buf_append(p, value, v);
}

/* The records of a whole request. */
static void request(tly_buf *b, unsigned id, int role, bool keep, const char *method, const char *uri,
                    const char *body)
{
    unsigned char begin[8] = {0, (unsigned char)role, keep ? 1 : 0};
    record(b, 1, id, begin, 8);
    tly_buf params = {0};
    char length[24];
    snprintf(length, sizeof length, "%zu", strlen(body));
    pair(&params, "REQUEST_METHOD", method);
    pair(&params, "REQUEST_URI", uri);
    pair(&params, "CONTENT_LENGTH", length);
    record(b, 4, id, params.ptr, params.len);
    record(b, 4, id, "", 0);
    tly_buf_free(&params);
    for (size_t at = 0; at < strlen(body); at += 60) {   /* STDIN in several records */
        size_t n = strlen(body) - at < 60 ? strlen(body) - at : 60;
        record(b, 5, id, body + at, n);
    }
    record(b, 5, id, "", 0);
}

static int connect_loop(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, socket_path, strlen(socket_path) + 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n, size_t piece)
{
    while (n > 0) {
        size_t k = n < piece ? n : piece;
        ssize_t w = write(fd, p, k);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
        if (piece < 8) usleep(200);
    }
}

/* What came back for one request: the STDOUT stream and the END_REQUEST protocol status (-1: the
 * connection ended first). */
typedef struct reply {
    tly_buf out;
    int status;
    unsigned id;
    int stdout_records;
} reply;

static bool read_exact(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0) return false;
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) return false;
        got += (size_t)r;
    }
    return true;
}

static reply read_reply(int fd)
{
    reply r = {{0}, -1, 0, 0};
    unsigned char h[8], *body = malloc(65536 + 256);
    while (read_exact(fd, h, 8)) {
        size_t len = ((size_t)h[4] << 8) | h[5];
        if (!read_exact(fd, body, len + h[6])) break;
        r.id = ((unsigned)h[2] << 8) | h[3];
        if (h[1] == 6) {
            tly_buf_append(&r.out, body, len);
            r.stdout_records++;
        } else if (h[1] == 3) {
            r.status = body[4];
            break;
        }
    }
    free(body);
    return r;
}

/* True once the server has closed the connection (read gives 0). */
static bool closed_by_server(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    char c;
    return poll(&p, 1, 5000) == 1 && read(fd, &c, 1) == 0;
}

static const char *answer_text(reply *r)
{
    const char *t = tly_buf_cstr(&r->out), *blank = strstr(t, "\r\n\r\n");
    return blank ? blank + 4 : t;
}

/* One request over a new connection, sent in pieces of `piece` bytes. */
static reply exchange(const char *method, const char *uri, const char *body, size_t piece)
{
    tly_buf b = {0};
    request(&b, 1, 1, false, method, uri, body);
    int fd = connect_loop();
    send_all(fd, b.ptr, b.len, piece);
    reply r = read_reply(fd);
    close(fd);
    tly_buf_free(&b);
    return r;
}

static void *run(void *loop)
{
    tly_io_loop_run(loop);
    return NULL;
}

static void run_tests(void)
{
    snprintf(socket_path, sizeof socket_path, "/tmp/tally-test-io-loop-%d.sock", (int)getpid());
    unlink(socket_path);
    int listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, socket_path, strlen(socket_path) + 1);
    CHECK(bind(listen_fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(listen_fd, 64) == 0);
    tly_io_loop_settings settings = {2, BODY_LIMIT, 256 * 1024};
    tly_io_loop *loop = tly_io_loop_new(listen_fd, &settings, handler, NULL);
    CHECK(loop != NULL);
    pthread_t t;
    pthread_create(&t, NULL, run, loop);

    /* A whole request, sent at once and a few bytes at a time. */
    reply r = exchange("POST", "/v1/events?key=k", "hello", 1 << 20);
    CHECK_INT(r.status, 0);
    CHECK_INT(r.id, 1);
    CHECK_STR(answer_text(&r), "POST /v1/events body=hello");
    CHECK(strncmp(tly_buf_cstr(&r.out), "Status: 200\r\n", 13) == 0);
    tly_buf_free(&r.out);
    r = exchange("POST", "/pieces", "in pieces", 3);
    CHECK_STR(answer_text(&r), "POST /pieces body=in pieces");
    tly_buf_free(&r.out);

    /* A parameter of 200 bytes (a four-byte length) and a body over the limit: the handler sees the
     * length, and refuses it as it would any. */
    char longuri[210];
    memset(longuri, 'a', sizeof longuri - 1);
    longuri[0] = '/';
    longuri[sizeof longuri - 1] = '\0';
    char big[BODY_LIMIT * 3 + 1];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    r = exchange("POST", longuri, big, 1 << 20);
    CHECK_INT(r.status, 0);
    char want[300];
    snprintf(want, sizeof want, "POST %s status=413", longuri);
    CHECK_STR(answer_text(&r), want);
    tly_buf_free(&r.out);

    /* An answer of 200 KB: several STDOUT records of at most 65,535 bytes, all of it delivered. */
    r = exchange("GET", "/big", "", 1 << 20);
    CHECK_INT(r.status, 0);
    CHECK_INT(strlen(answer_text(&r)), 200000);
    CHECK(r.stdout_records >= 4);
    tly_buf_free(&r.out);

    /* FCGI_KEEP_CONN: two requests on one connection, which stays open. */
    tly_buf b = {0};
    request(&b, 7, 1, true, "GET", "/one", "");
    int fd = connect_loop();
    send_all(fd, b.ptr, b.len, 1 << 20);
    r = read_reply(fd);
    CHECK_INT(r.id, 7);
    CHECK_STR(answer_text(&r), "GET /one body=");
    tly_buf_free(&r.out);
    tly_buf_reset(&b);
    request(&b, 8, 1, false, "GET", "/two", "");
    send_all(fd, b.ptr, b.len, 1 << 20);
    r = read_reply(fd);
    CHECK_INT(r.id, 8);
    CHECK_STR(answer_text(&r), "GET /two body=");
    CHECK(closed_by_server(fd));
    close(fd);
    tly_buf_free(&r.out);

    /* A role other than responder is refused with FCGI_UNKNOWN_ROLE, and nothing is handled. */
    int before = atomic_load(&handled);
    tly_buf_reset(&b);
    unsigned char authorizer[8] = {0, 2, 0};
    record(&b, 1, 3, authorizer, 8);
    fd = connect_loop();
    send_all(fd, b.ptr, b.len, 1 << 20);
    r = read_reply(fd);
    CHECK_INT(r.status, 3);
    CHECK_INT(atomic_load(&handled), before);
    close(fd);
    tly_buf_free(&r.out);

    /* Malformed records (a version other than 1): the connection is closed; the loop goes on. */
    fd = connect_loop();
    send_all(fd, "\x02\x01\x00\x01\x00\x08\x00\x00" "\x00\x01\x00\x00\x00\x00\x00\x00", 16, 1 << 20);
    CHECK(closed_by_server(fd));
    close(fd);
    /* A parameter holding a NUL byte, which no CGI environment can: refused the same way. */
    tly_buf_reset(&b);
    unsigned char responder[8] = {0, 1, 0};
    record(&b, 1, 1, responder, 8);
    record(&b, 4, 1, "\x0e\x03REQUEST_METHODG\0T", 19);
    record(&b, 4, 1, "", 0);
    record(&b, 5, 1, "", 0);
    fd = connect_loop();
    send_all(fd, b.ptr, b.len, 1 << 20);
    CHECK(closed_by_server(fd));
    close(fd);
    r = exchange("GET", "/after", "", 1 << 20);
    CHECK_STR(answer_text(&r), "GET /after body=");
    tly_buf_free(&r.out);

    /* A connection that hangs up before its request is whole does not stop the others. */
    tly_buf_reset(&b);
    request(&b, 1, 1, false, "POST", "/cut", "never finished");
    fd = connect_loop();
    send_all(fd, b.ptr, b.len / 2, 1 << 20);
    close(fd);

    /* Parked requests: two park (the loop serves two at once), a third queues behind them and
     * waits for one to finish, a fourth arrives meanwhile and queues too. All four answer. */
    int fds[4];
    for (int i = 0; i < 4; i++) {
        tly_buf_reset(&b);
        request(&b, 1, 1, false, "GET", i < 3 ? "/park" : "/quick", "");
        fds[i] = connect_loop();
        send_all(fds[i], b.ptr, b.len, 1 << 20);
    }
    for (int i = 0; i < 4; i++) {
        r = read_reply(fds[i]);
        CHECK_STR(answer_text(&r), i < 3 ? "GET /park body=" : "GET /quick body=");
        tly_buf_free(&r.out);
        close(fds[i]);
    }

    /* Stopping while a request is parked: it is still answered, then the loop returns. */
    tly_buf_reset(&b);
    request(&b, 1, 1, false, "GET", "/park", "");
    int parked_before = atomic_load(&parked);
    fd = connect_loop();
    send_all(fd, b.ptr, b.len, 1 << 20);
    while (atomic_load(&parked) == parked_before) usleep(1000);
    tly_io_loop_stop(loop);
    r = read_reply(fd);
    CHECK_STR(answer_text(&r), "GET /park body=");
    tly_buf_free(&r.out);
    close(fd);
    pthread_join(t, NULL);
    tly_io_loop_free(loop);
    tly_buf_free(&b);
    close(listen_fd);
    unlink(socket_path);
}
