/* The threaded FastCGI ceiling of the ingest benchmark: a FastCGI program that answers POST
 * /v1/events as track.fcgi does, with no work in between, served as track.fcgi was before its
 * event loop (THREADS workers, each waiting in accept() through libfcgi; the request read and the
 * answer written through lib/io and lib/resp). Its rate bounds any program of that design behind
 * lighttpd on the same machine; fastcgi_ceiling_loop.c bounds any program at all. */
#include "first.h"
#include "io.h"
#include "resp.h"

#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

static void *worker(void *arg)
{
    (void)arg;
    FCGX_Request fr;
    FCGX_InitRequest(&fr, 0, 0);
    tly_req req = {0};
    tly_resp resp = {0};
    while (FCGX_Accept_r(&fr) >= 0) {
        tly_req_begin(&req, &tly_io_fcgx_ops, &fr);
        tly_body_error err;
        if (tly_req_read_body(&req, 1 << 20, &err) != 0)
            tly_resp_error(&resp, err.status, "%s", err.message);
        else
            tly_resp_text(&resp, 202, "application/json",
                          "{\"accepted\":1,\"rejected\":0,\"duplicates\":0,\"filtered\":0,\"errors\":[]}");
        (void)tly_resp_send(&req, &resp);
        tly_resp_reset(&resp);
        tly_req_reset(&req);
        tly_io_fcgx_finish(&fr);
    }
    return NULL;
}

int main(void)
{
    int threads = getenv("THREADS") ? atoi(getenv("THREADS")) : 16;
    if (threads < 1 || threads > 256) threads = 16;
    FCGX_Init();
    /* libfcgi only notes SIGTERM, and the workers would stay blocked in accept(): end at once, as
     * nothing here needs finishing. */
    signal(SIGTERM, SIG_DFL);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    if (!ids) return 1;
    for (int i = 0; i < threads; i++)
        if (pthread_create(&ids[i], NULL, worker, NULL) != 0) return 1;
    for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    free(ids);
    return 0;
}
