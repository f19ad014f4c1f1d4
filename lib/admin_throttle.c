#include "first.h"
#include "admin_throttle.h"
#include "limits.h"
#include "salt.h"
#include "timeparse.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tly_admin_throttle_hash(const uint8_t salt[TLY_SALT_BYTES], const char *kind, const char *value,
                             char out[TLY_ADMIN_HASH_HEX_SIZE])
{
    static const unsigned char separator = 0;
    static const char label[] = "tally-login";
    unsigned char digest[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, salt, TLY_SALT_BYTES, sizeof digest);
    crypto_generichash_update(&st, (const unsigned char *)label, sizeof label - 1);
    crypto_generichash_update(&st, &separator, 1);
    crypto_generichash_update(&st, (const unsigned char *)kind, strlen(kind));
    crypto_generichash_update(&st, &separator, 1);
    bool lower = strcmp(kind, "account") == 0;
    for (const char *p = value; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (lower && ch >= 'A' && ch <= 'Z') ch = (unsigned char)(ch - 'A' + 'a');
        crypto_generichash_update(&st, &ch, 1);
    }
    crypto_generichash_final(&st, digest, sizeof digest);
    sodium_bin2hex(out, TLY_ADMIN_HASH_HEX_SIZE, digest, sizeof digest);
    sodium_memzero(&st, sizeof st);
}

int tly_admin_throttle_keys(tly_db *db, const char *email, const char *ip, tly_admin_throttle *t,
                            tly_db_error *err)
{
    memset(t, 0, sizeof *t);
    int32_t today = tly_time_day_of_ms(tly_time_now_ms());
    for (int i = 0; i < 2; i++) {
        uint8_t salt[TLY_SALT_BYTES];
        int found = tly_salt_get(db, today - i, today, i == 0, salt, err);
        if (found < 0) return -1;
        if (found == 0) continue;
        tly_admin_throttle_hash(salt, "account", email, t->account[i]);
        tly_admin_throttle_hash(salt, "address", ip, t->address[i]);
        sodium_memzero(salt, sizeof salt);
    }
    if (!t->account[0][0]) {
        snprintf(err->message, sizeof err->message, "no salt for today could be made");
        return -1;
    }
    return 0;
}

/* The keys as parameters: yesterday's are NULL when there is no salt for it. */
static void key_params(const tly_admin_throttle *t, const char *params[4])
{
    params[0] = t->account[0];
    params[1] = t->account[1][0] ? t->account[1] : NULL;
    params[2] = t->address[0];
    params[3] = t->address[1][0] ? t->address[1] : NULL;
}

long tly_admin_throttle_check(tly_db *db, const tly_admin_throttle *t, const char **which, tly_db_error *err)
{
    char window[16], account_limit[16], address_limit[16];
    snprintf(window, sizeof window, "%d", TLY_ADMIN_THROTTLE_WINDOW);
    snprintf(account_limit, sizeof account_limit, "%d", TLY_ADMIN_THROTTLE_ACCOUNT);
    snprintf(address_limit, sizeof address_limit, "%d", TLY_ADMIN_THROTTLE_ADDRESS);
    const char *params[7];
    key_params(t, params);
    params[4] = window;
    params[5] = account_limit;
    params[6] = address_limit;
    /* Failures older than the window no longer count: they are deleted first. The wait is until
     * the oldest counted failure leaves the window. */
    PGresult *res = tly_db_query(db,
        "WITH swept AS (DELETE FROM login_failures WHERE at < now() - make_interval(secs => $5::int)), "
        "recent AS (SELECT * FROM login_failures WHERE at >= now() - make_interval(secs => $5::int)), "
        "acct AS (SELECT count(*) AS n, min(at) AS first FROM recent "
        "         WHERE account_hash IN (decode($1, 'hex'), decode($2, 'hex'))), "
        "addr AS (SELECT count(*) AS n, min(at) AS first FROM recent "
        "         WHERE address_hash IN (decode($3, 'hex'), decode($4, 'hex'))) "
        "SELECT CASE WHEN acct.n >= $6::int "
        "            THEN greatest(1, ceil(extract(epoch FROM acct.first + make_interval(secs => $5::int) - now())))::int "
        "            ELSE 0 END, "
        "       CASE WHEN addr.n >= $7::int "
        "            THEN greatest(1, ceil(extract(epoch FROM addr.first + make_interval(secs => $5::int) - now())))::int "
        "            ELSE 0 END "
        "FROM acct, addr",
        params, 7, PGRES_TUPLES_OK, err);
    if (!res) return -1;
    long account_wait = atol(PQgetvalue(res, 0, 0)), address_wait = atol(PQgetvalue(res, 0, 1));
    PQclear(res);
    *which = account_wait >= address_wait ? "account" : "address";
    return account_wait >= address_wait ? account_wait : address_wait;
}

int tly_admin_throttle_fail(tly_db *db, const tly_admin_throttle *t, tly_db_error *err)
{
    const char *params[] = {t->account[0], t->address[0]};
    PGresult *res = tly_db_query(db,
        "INSERT INTO login_failures (account_hash, address_hash) VALUES (decode($1, 'hex'), decode($2, 'hex'))",
        params, 2, PGRES_COMMAND_OK, err);
    if (!res) return -1;
    PQclear(res);
    return 0;
}

int tly_admin_throttle_forgive(tly_db *db, const tly_admin_throttle *t, tly_db_error *err)
{
    const char *params[4];
    key_params(t, params);
    PGresult *res = tly_db_query(db,
        "DELETE FROM login_failures WHERE account_hash IN (decode($1, 'hex'), decode($2, 'hex'))",
        params, 2, PGRES_COMMAND_OK, err);
    if (!res) return -1;
    PQclear(res);
    return 0;
}
