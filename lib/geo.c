#include "first.h"
#include "geo.h"
#include "mem.h"
#include "utf8.h"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* Which file a database was read from: a file renamed into place is a new inode, a file
 * rewritten in place has a new size or time. */
typedef struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_id;

struct tly_geo {
    char *path;
    /* Lookups read the database under the read lock; a reload swaps it under the write lock,
     * so no lookup ever sees a database being closed. */
    pthread_rwlock_t lock;
    MMDB_s *db;
    file_id loaded;   /* the file db was read from */
    file_id refused;  /* the last file that could not be opened, so it is not retried each time */
};

static bool file_id_of(const char *path, file_id *id)
{
    struct stat st;
    memset(id, 0, sizeof *id);
    if (stat(path, &st) != 0) return false;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->size = st.st_size;
    id->mtime = st.st_mtim;
    return true;
}

static bool same_file(const file_id *a, const file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static MMDB_s *open_database(const char *path, char *err, size_t errlen)
{
    MMDB_s *db = tly_xcalloc(1, sizeof *db);
    int status = MMDB_open(path, MMDB_MODE_MMAP, db);
    if (status == MMDB_SUCCESS) return db;
    if (status == MMDB_IO_ERROR)
        snprintf(err, errlen, "cannot open %s: %s (%m)", path, MMDB_strerror(status));
    else
        snprintf(err, errlen, "cannot open %s: %s", path, MMDB_strerror(status));
    free(db);
    return NULL;
}

static void close_database(MMDB_s *db)
{
    if (!db) return;
    MMDB_close(db);
    free(db);
}

tly_geo *tly_geo_open(const char *path, char *err, size_t errlen)
{
    /* The file's identity is taken before it is read: should it be replaced in between, the next
     * refresh reads it again, which is harmless. */
    file_id id;
    file_id_of(path, &id);
    MMDB_s *db = open_database(path, err, errlen);
    if (!db) return NULL;
    tly_geo *geo = tly_xcalloc(1, sizeof *geo);
    geo->path = tly_xstrdup(path);
    pthread_rwlock_init(&geo->lock, NULL);
    geo->db = db;
    geo->loaded = id;
    return geo;
}

int tly_geo_refresh(tly_geo *geo, char *err, size_t errlen)
{
    file_id id;
    /* A file that is missing for a moment (between an unlink and a rename) keeps the old one. */
    if (!file_id_of(geo->path, &id) || same_file(&id, &geo->loaded) || same_file(&id, &geo->refused)) return 0;
    MMDB_s *db = open_database(geo->path, err, errlen);
    if (!db) {
        geo->refused = id;
        return -1;
    }
    pthread_rwlock_wrlock(&geo->lock);
    MMDB_s *old = geo->db;
    geo->db = db;
    pthread_rwlock_unlock(&geo->lock);
    geo->loaded = id;
    close_database(old);
    return 1;
}

void tly_geo_close(tly_geo *geo)
{
    if (!geo) return;
    close_database(geo->db);
    pthread_rwlock_destroy(&geo->lock);
    free(geo->path);
    free(geo);
}

/* The string at path under entry, or false when absent or not a string. */
static bool get_string(MMDB_entry_s *entry, MMDB_entry_data_s *value, ...)
{
    va_list path;
    va_start(path, value);
    int status = MMDB_vget_value(entry, value, path);
    va_end(path);
    return status == MMDB_SUCCESS && value->has_data && value->type == MMDB_DATA_TYPE_UTF8_STRING;
}

/* Codes are copied whole or not at all: a cut "DEU" would be a different, wrong country. Only
 * [A-Z0-9] is taken, so nothing odd from a database reaches reports. */
static void copy_code(const MMDB_entry_data_s *value, char *out, size_t size)
{
    size_t n = value->data_size;
    if (n == 0 || n >= size) return;
    for (size_t i = 0; i < n; i++) {
        char c = value->utf8_string[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return;
    }
    memcpy(out, value->utf8_string, n);
    out[n] = '\0';
}

/* Names are cut to fit, backing up to the start of a UTF-8 sequence so the result stays valid;
 * an embedded NUL ends the name. */
static void copy_name(const MMDB_entry_data_s *value, char *out, size_t size)
{
    const char *s = value->utf8_string;
    size_t n = tly_utf8_cut(s, strnlen(s, value->data_size), size - 1);
    memcpy(out, s, n);
    out[n] = '\0';
}

/* The fields of the database's entry for sa, if it has one. */
static void read_entry(MMDB_s *db, const struct sockaddr *sa, tly_geo_result *out)
{
    int mmdb_error = MMDB_SUCCESS;
    MMDB_lookup_result_s r = MMDB_lookup_sockaddr(db, sa, &mmdb_error);
    if (mmdb_error != MMDB_SUCCESS || !r.found_entry) return;
    MMDB_entry_data_s value;
    if (get_string(&r.entry, &value, "country", "iso_code", NULL))
        copy_code(&value, out->country, sizeof out->country);
    if (get_string(&r.entry, &value, "subdivisions", "0", "iso_code", NULL))
        copy_code(&value, out->region, sizeof out->region);
    if (get_string(&r.entry, &value, "city", "names", "en", NULL))
        copy_name(&value, out->city, sizeof out->city);
}

void tly_geo_lookup(tly_geo *geo, const char *ip, tly_geo_result *out)
{
    memset(out, 0, sizeof *out);
    if (!geo) return;
    /* inet_pton rather than MMDB_lookup_string: getaddrinfo would accept inet_aton forms such as
     * "192.0.519", and a mapped ::ffff:a.b.c.d is looked up as the IPv4 address it stands for,
     * since not every database aliases ::ffff:0:0/96 to its IPv4 subtree. */
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
            struct in_addr mapped;
            memcpy(&mapped, &v6->sin6_addr.s6_addr[12], sizeof mapped);
            memset(&ss, 0, sizeof ss);
            v4->sin_family = AF_INET;
            v4->sin_addr = mapped;
        } else {
            v6->sin6_family = AF_INET6;
        }
    } else {
        return;
    }
    pthread_rwlock_rdlock(&geo->lock);
    read_entry(geo->db, (const struct sockaddr *)&ss, out);
    pthread_rwlock_unlock(&geo->lock);
}
