#include "first.h"
#include "report_auth.h"
#include "admin_session.h"
#include "buf.h"
#include "property.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const tly_db_stmt stmt_property = {
    "report_property",
    "SELECT pk, id, timezone, ((now() AT TIME ZONE timezone)::date - date '1970-01-01')::int "
    "FROM properties WHERE id = $1",
    1};

static const tly_db_stmt stmt_share = {
    "report_share",
    "SELECT property_pk, revoked_at IS NOT NULL FROM share_links WHERE token_hash = $1",
    1};

static int db_failure(const tly_db_error *err, char *msg, size_t msglen)
{
    snprintf(msg, msglen, "%s", tly_db_error_summary(err));
    return tly_db_error_transient(err) ? 503 : 500;
}

/* The property a credential opens: > 0 its pk; 0 none given; otherwise minus the HTTP status.
 * A dashboard session opens every property its user has a role on: property_id says which. */
static int credential_property(tly_db *db, const tly_req *req, const char *property_id, char *msg,
                               size_t msglen)
{
    const char *auth = tly_req_param(req, "HTTP_AUTHORIZATION");
    tly_db_error err = {0};
    if (auth && *auth) {
        if (strncasecmp(auth, "Bearer ", 7) != 0 || !auth[7]) {
            snprintf(msg, msglen, "Authorization: expected 'Bearer <read key>'");
            return -401;
        }
        tly_property prop;
        switch (tly_property_by_key(db, "read", auth + 7, &prop, &err)) {
        case TLY_KEY_OK: {
            int pk = prop.pk;
            tly_property_clear(&prop);
            return pk;
        }
        case TLY_KEY_UNKNOWN: snprintf(msg, msglen, "unknown read key"); return -401;
        case TLY_KEY_REVOKED: snprintf(msg, msglen, "read key revoked"); return -401;
        case TLY_KEY_ERROR: return -db_failure(&err, msg, msglen);
        }
    }
    tly_buf token = {0};
    if (tly_req_query_param(req, "share", &token) == 1) {
        unsigned char hash[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(hash, (const unsigned char *)tly_buf_cstr(&token), token.len);
        tly_buf_free(&token);
        const char *params[] = {(const char *)hash};
        const int lengths[] = {sizeof hash};
        const int formats[] = {1};
        PGresult *res = tly_db_exec_bin(db, &stmt_share, params, lengths, formats, PGRES_TUPLES_OK, &err);
        if (!res) return -db_failure(&err, msg, msglen);
        int pk = -401;
        if (PQntuples(res) == 0) snprintf(msg, msglen, "unknown share link");
        else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) snprintf(msg, msglen, "share link revoked");
        else pk = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
        return pk;
    }
    tly_buf_free(&token);
    int pk = 0;
    switch (tly_admin_session_property(db, req, property_id, &pk, &err)) {
    case TLY_SESSION_MEMBER: return pk;
    case TLY_SESSION_INVALID: snprintf(msg, msglen, "session expired or unknown; sign in again"); return -401;
    case TLY_SESSION_NO_PROPERTY: snprintf(msg, msglen, "no such property: %.80s", property_id); return -404;
    case TLY_SESSION_NOT_MEMBER: snprintf(msg, msglen, "your account has no role on this property"); return -403;
    case TLY_SESSION_ERROR: return -db_failure(&err, msg, msglen);
    case TLY_SESSION_ABSENT: break;
    }
    snprintf(msg, msglen, "no credential: send 'Authorization: Bearer <read key>' or ?share=<token>");
    return -401;
}

int tly_report_authorise(tly_db *db, const tly_req *req, const char *property_id,
                         tly_report_target *target, char *msg, size_t msglen)
{
    int allowed = credential_property(db, req, property_id, msg, msglen);
    if (allowed <= 0) return -allowed;
    tly_db_error err = {0};
    const char *params[] = {property_id};
    PGresult *res = tly_db_exec(db, &stmt_property, params, PGRES_TUPLES_OK, &err);
    if (!res) return db_failure(&err, msg, msglen);
    int status = 0;
    if (PQntuples(res) == 0) {
        snprintf(msg, msglen, "no such property: %.80s", property_id);
        status = 404;
    } else if (atoi(PQgetvalue(res, 0, 0)) != allowed) {
        snprintf(msg, msglen, "this credential belongs to another property");
        status = 403;
    } else {
        target->pk = allowed;
        snprintf(target->id, sizeof target->id, "%s", PQgetvalue(res, 0, 1));
        snprintf(target->timezone, sizeof target->timezone, "%s", PQgetvalue(res, 0, 2));
        target->today = (int32_t)atoi(PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    return status;
}
