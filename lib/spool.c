#include "first.h"
#include "spool.h"
#include "json_arena.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "timeparse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_SUFFIX ".spool"
#define SPOOL_FORMAT 1

struct tly_spool {
    char *dir;
    size_t max_bytes;
    pthread_mutex_t lock;     /* one writer at a time per process (the size check and the names) */
    unsigned counter;
};

tly_spool *tly_spool_open(const char *dir, size_t max_bytes, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create spool directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    if (access(dir, R_OK | W_OK | X_OK) != 0) {
        snprintf(err, errlen, "spool directory %s is not writable: %s", dir, strerror(errno));
        return NULL;
    }
    tly_spool *sp = tly_xcalloc(1, sizeof *sp);
    sp->dir = tly_xstrdup(dir);
    sp->max_bytes = max_bytes;
    pthread_mutex_init(&sp->lock, NULL);
    return sp;
}

void tly_spool_close(tly_spool *sp)
{
    if (!sp) return;
    pthread_mutex_destroy(&sp->lock);
    free(sp->dir);
    free(sp);
}

static bool is_spool_file(const char *name)
{
    size_t n = strlen(name), s = sizeof SPOOL_SUFFIX - 1;
    return name[0] != '.' && n > s && strcmp(name + n - s, SPOOL_SUFFIX) == 0;
}

size_t tly_spool_bytes(const tly_spool *sp)
{
    DIR *d = opendir(sp->dir);
    if (!d) return 0;
    size_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (is_spool_file(e->d_name) && fstatat(dirfd(d), e->d_name, &st, 0) == 0) total += (size_t)st.st_size;
    }
    closedir(d);
    return total;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static char *spool_document(tly_store_job *const *jobs, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(list, json_pack("{s:i, s:O}", "property_pk", jobs[i]->property_pk,
                                              "rows", jobs[i]->rows));
    }
    json_t *doc = json_pack("{s:i, s:o}", "format", SPOOL_FORMAT, "jobs", list);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

/* Writes text to dir/name through a temporary file: complete and on disk, or not there at all. */
static int write_durably(const char *dir, const char *name, const char *tmp_name, const char *text,
                         char *err, size_t errlen)
{
    char path[4096], tmp[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/%s", dir, tmp_name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "spool: cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    int rc = write_all(fd, text, strlen(text));
    if (rc == 0) rc = fsync(fd);
    if (close(fd) != 0) rc = -1;
    if (rc == 0) rc = rename(tmp, path);
    if (rc == 0) rc = sync_dir(dir);
    if (rc != 0) {
        snprintf(err, errlen, "spool: cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        unlink(path);
        return -1;
    }
    return 0;
}

int tly_spool_write(tly_spool *sp, tly_store_job *const *jobs, size_t n, char *err, size_t errlen)
{
    char *text = spool_document(jobs, n);
    size_t size = strlen(text);
    pthread_mutex_lock(&sp->lock);
    int rc = 0;
    size_t used = tly_spool_bytes(sp);
    if (used + size > sp->max_bytes) {
        snprintf(err, errlen, "spool full (%zu of %zu bytes)", used, sp->max_bytes);
        rc = -1;
    } else {
        /* Names sort by time, so replay goes oldest first. */
        char name[96], tmp_name[96];
        unsigned seq = sp->counter++;
        snprintf(name, sizeof name, "%013lld-%ld-%u" SPOOL_SUFFIX, (long long)tly_time_now_ms(), (long)getpid(), seq);
        snprintf(tmp_name, sizeof tmp_name, ".tmp-%ld-%u", (long)getpid(), seq);
        rc = write_durably(sp->dir, name, tmp_name, text, err, errlen);
    }
    pthread_mutex_unlock(&sp->lock);
    tly_json_free(text);
    if (rc != 0) return -1;
    for (size_t i = 0; i < n; i++) jobs[i]->sent = jobs[i]->stored = (int)json_array_size(jobs[i]->rows);
    return 0;
}

/* --- replay ------------------------------------------------------------------------------------ */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The spool files, oldest first; *n is their number. */
static char **list_files(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    size_t cap = 16;
    char **names = tly_xcalloc(cap, sizeof *names);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_spool_file(e->d_name)) continue;
        if (*n == cap) names = tly_xrealloc(names, (cap *= 2) * sizeof *names);
        names[(*n)++] = tly_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, *n, sizeof *names, by_name);
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* A file that cannot be read as a spool file is set aside (renamed *.bad), not retried forever. */
static void set_aside(const char *dir, const char *name, const char *why)
{
    char from[4096], to[4200];
    snprintf(from, sizeof from, "%s/%s", dir, name);
    snprintf(to, sizeof to, "%s/%s.bad", dir, name);
    tly_log_error("spool: %s: %s; renamed to %s", from, why, to);
    if (rename(from, to) != 0) tly_log_error("spool: cannot rename %s: %s", from, strerror(errno));
}

/* Stores the events of one parsed spool document. Events counted in *events. */
static int store_document(tly_db *db, json_t *doc, long long *events, tly_db_error *err)
{
    json_t *list = json_object_get(doc, "jobs");
    size_t n = json_array_size(list);
    tly_store_job *job_data = tly_xcalloc(n ? n : 1, sizeof *job_data);
    tly_store_job **jobs = tly_xcalloc(n ? n : 1, sizeof *jobs);
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(list, i);
        job_data[i].property_pk = (int)json_integer_value(json_object_get(j, "property_pk"));
        job_data[i].rows = json_object_get(j, "rows");
        jobs[i] = &job_data[i];
        *events += (long long)json_array_size(job_data[i].rows);
    }
    int rc = tly_store_jobs(db, jobs, n, err);
    free(jobs);
    free(job_data);
    return rc;
}

/* Replays one file under an exclusive lock. 1 replayed (or gone), 0 skipped, -1 database error. */
static int replay_file(const char *dir, const char *name, tly_db *db, long long *events, tly_db_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return errno == ENOENT ? 1 : 0;
    /* Another process replaying it holds the lock; a file unlinked since we opened it is done. */
    struct stat st;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &st) != 0 || st.st_nlink == 0) {
        close(fd);
        return 0;
    }
    tly_buf text = {0};
    char chunk[65536];
    ssize_t r;
    while ((r = read(fd, chunk, sizeof chunk)) > 0) tly_buf_append(&text, chunk, (size_t)r);
    json_error_t jerr;
    json_t *doc = r < 0 ? NULL : json_loadb(text.ptr ? text.ptr : "", text.len, 0, &jerr);
    tly_buf_free(&text);
    int rc = 1;
    long long n = 0;
    if (!doc || json_integer_value(json_object_get(doc, "format")) != SPOOL_FORMAT ||
        !json_is_array(json_object_get(doc, "jobs"))) {
        set_aside(dir, name, doc ? "unknown format" : "not readable JSON");
    } else if (store_document(db, doc, &n, err) != 0) {
        rc = -1;
    } else {
        if (unlink(path) != 0) tly_log_error("spool: cannot remove %s: %s", path, strerror(errno));
        sync_dir(dir);
        *events += n;
    }
    json_decref(doc);
    close(fd);   /* releases the lock */
    return rc;
}

long long tly_spool_replay(tly_spool *sp, tly_db *db, tly_db_error *err)
{
    size_t n;
    char **names = list_files(sp->dir, &n);
    long long events = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc >= 0; i++) rc = replay_file(sp->dir, names[i], db, &events, err);
    free_names(names, n);
    if (rc < 0) return -1;
    if (events > 0) {
        tly_log_info("spool: %lld events replayed into the database", events);
        tly_metrics_add(TLY_METRIC_EVENTS_REPLAYED, (uint64_t)events);
    }
    return events;
}

int tly_store_durably(tly_db *db, tly_spool *sp, tly_store_job *const *jobs, size_t n, tly_db_error *err)
{
    if (tly_store_jobs(db, jobs, n, err) == 0) return 0;
    if (!sp || !err->unreachable) return -1;
    char why[160];
    if (tly_spool_write(sp, jobs, n, why, sizeof why) != 0) {
        tly_log_error("database unreachable and %s", why);
        snprintf(err->message, sizeof err->message, "database unreachable and %.160s", why);
        return -1;
    }
    tly_log_warn("database unreachable: %zu requests spooled", n);
    size_t events = 0;
    for (size_t i = 0; i < n; i++) events += json_array_size(jobs[i]->rows);
    tly_metrics_add(TLY_METRIC_EVENTS_SPOOLED, events);
    return 0;
}
