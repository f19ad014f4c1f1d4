#include "first.h"
#include "salt.h"
#include "log.h"
#include "timeparse.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Today, yesterday and tomorrow (events stamped slightly ahead) is all a process ever needs. */
#define SALT_CACHE 3

static struct cached_salt {
    bool used;
    bool absent;      /* known not to exist: a past day never gets a salt later */
    int32_t day;
    uint8_t salt[TLY_SALT_BYTES];
} cache[SALT_CACHE];

static int32_t purged_through = INT32_MIN;

static const tly_db_stmt stmt_get = {
    "salt_get", "SELECT salt FROM salts WHERE day = $1::date", 1};
static const tly_db_stmt stmt_create = {
    "salt_create", "INSERT INTO salts (day, salt) VALUES ($1::date, $2) ON CONFLICT (day) DO NOTHING", 2};
static const tly_db_stmt stmt_purge = {
    "salt_purge", "DELETE FROM salts WHERE day < $1::date - 1", 1};

static void forget(struct cached_salt *c)
{
    sodium_memzero(c, sizeof *c);
}

void tly_salt_forget_all(void)
{
    for (int i = 0; i < SALT_CACHE; i++) forget(&cache[i]);
}

static void forget_expired(int32_t today)
{
    for (int i = 0; i < SALT_CACHE; i++)
        if (cache[i].used && cache[i].day < today - 1) forget(&cache[i]);
}

/* Caches a salt, or with salt NULL the fact that the day has none: in the day's entry when there
 * is one (two requests that waited for the database at once both learn the day), else in a free
 * one or the oldest. */
static void remember(int32_t day, const uint8_t *salt)
{
    int slot = 0;
    for (int i = 0; i < SALT_CACHE; i++) {
        if (cache[i].used && cache[i].day == day) { slot = i; break; }
        if (!cache[slot].used) continue;
        if (!cache[i].used || cache[i].day < cache[slot].day) slot = i;
    }
    forget(&cache[slot]);
    cache[slot].used = true;
    cache[slot].day = day;
    if (salt) memcpy(cache[slot].salt, salt, TLY_SALT_BYTES);
    else cache[slot].absent = true;
}

/* Reads the salt row; 1 found, 0 none, -1 error. */
static int fetch(tly_db *db, const char *date, uint8_t out[TLY_SALT_BYTES], tly_db_error *err)
{
    const char *params[] = {date};
    PGresult *res = tly_db_exec(db, &stmt_get, params, PGRES_TUPLES_OK, err);
    if (!res) return -1;
    int found = 0;
    if (PQntuples(res) == 1) {
        /* bytea arrives in hex text form: \x followed by 64 digits. */
        const char *hex = PQgetvalue(res, 0, 0);
        size_t bin_len = 0;
        if (strncmp(hex, "\\x", 2) == 0 &&
            sodium_hex2bin(out, TLY_SALT_BYTES, hex + 2, strlen(hex + 2), NULL, &bin_len, NULL) == 0 &&
            bin_len == TLY_SALT_BYTES)
            found = 1;
        else
            tly_log_error("salt for %s is malformed in the database", date);
    }
    PQclear(res);
    return found;
}

int tly_salt_purge(tly_db *db, int32_t today, tly_db_error *err)
{
    char date[11];
    tly_time_format_date(today, date);
    const char *params[] = {date};
    PGresult *res = tly_db_exec(db, &stmt_purge, params, PGRES_COMMAND_OK, err);
    if (!res) return -1;
    int deleted = atoi(PQcmdTuples(res));
    PQclear(res);
    purged_through = today;
    return deleted;
}

int tly_salt_get(tly_db *db, int32_t day, int32_t today, bool create, uint8_t out[TLY_SALT_BYTES],
                 tly_db_error *err)
{
    forget_expired(today);
    if (day < today - 1) return 0;
    for (int i = 0; i < SALT_CACHE; i++) {
        if (cache[i].used && cache[i].day == day) {
            if (cache[i].absent) return 0;
            memcpy(out, cache[i].salt, TLY_SALT_BYTES);
            return 1;
        }
    }
    /* The first lookup of a new day also destroys the salts that just became too old. */
    if (purged_through != today && tly_salt_purge(db, today, err) < 0) return -1;

    char date[11];
    tly_time_format_date(day, date);
    int found = fetch(db, date, out, err);
    if (found == 0 && create) {
        uint8_t fresh[TLY_SALT_BYTES];
        randombytes_buf(fresh, sizeof fresh);
        const char *params[] = {date, (const char *)fresh};
        const int lengths[] = {0, TLY_SALT_BYTES};
        const int formats[] = {0, 1};
        PGresult *res = tly_db_exec_bin(db, &stmt_create, params, lengths, formats,
                                        PGRES_COMMAND_OK, err);
        sodium_memzero(fresh, sizeof fresh);
        if (!res) return -1;
        PQclear(res);
        /* Read back: another process may have won the race, and its salt is the one to use. */
        found = fetch(db, date, out, err);
    }
    if (found == 1) remember(day, out);
    else if (found == 0 && day < today) remember(day, NULL);
    return found;
}
