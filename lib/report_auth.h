/* Who may read a property's reports: the holder of one of its read keys (Authorization: Bearer),
 * or of one of its share links (?share=<token>), or a dashboard user signed in (session cookie)
 * with any role on it. The three secrets are looked up by their SHA-256. */
#ifndef TLY_REPORT_AUTH_H
#define TLY_REPORT_AUTH_H
#include "first.h"
#include "db.h"
#include "io.h"
#include "limits.h"
#include <stdint.h>

typedef struct tly_report_target {
    int pk;
    char id[TLY_MAX_PROPERTY_ID_LEN + 1];
    char timezone[64];
    int32_t today;         /* the property's current local date, days since 1970-01-01 */
} tly_report_target;

/* Authorises a request for property_id and fills target. 0 ok; otherwise the HTTP status to
 * answer (401 no or unknown credential, 403 credential of another property, 404 no such
 * property, 503 database unreachable, 500 other database error) with a message in msg. */
int tly_report_authorise(tly_db *db, const tly_req *req, const char *property_id,
                         tly_report_target *target, char *msg, size_t msglen)
    TLY_NONNULL(1, 2, 3, 4, 5) TLY_MUST_CHECK;

#endif
