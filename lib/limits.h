/* Every input limit of Tally in one place. Each is checked before the work it guards, and every
 * rejection names the limit in its error message. */
#ifndef TLY_LIMITS_H
#define TLY_LIMITS_H

#define TLY_MAX_BODY_BYTES        (1024 * 1024)  /* default for max_body_bytes; 413 beyond */
#define TLY_MAX_BODY_BYTES_CEIL   (16 * 1024 * 1024) /* highest value tally.conf may set */
#define TLY_MAX_BATCH_EVENTS      1000           /* default for max_batch_events; 413 beyond */
#define TLY_MAX_JSON_DEPTH        16             /* nesting of the envelope; deeper is 400 */

#define TLY_MAX_EVENT_ID_LEN      64
#define TLY_MAX_EVENT_NAME_LEN    64
#define TLY_MAX_PROPERTY_ID_LEN   64
#define TLY_MAX_URL_LEN           2048           /* page url and referrer */
#define TLY_MAX_PATH_LEN          2048
#define TLY_MAX_TITLE_LEN         500
#define TLY_MAX_UTM_LEN           500            /* each utm_* and campaign_id */
#define TLY_MAX_IDENTITY_LEN      128            /* visitor_id, session_id, user_id_hash */
#define TLY_MIN_VISIT_TOKEN_LEN   3              /* identity.visit_token: letters, digits, '-', '_' */
#define TLY_MAX_VISIT_TOKEN_LEN   64
#define TLY_MAX_SCREEN_WIDTH      100000
#define TLY_MAX_DATA_KEYS         32
#define TLY_MAX_DATA_KEY_LEN      64
#define TLY_MAX_DATA_STRING_LEN   500
#define TLY_MAX_UA_LEN            1024           /* longer user agents are cut before parsing */
#define TLY_MAX_HEADER_VALUE_LEN  4096

#define TLY_MAX_FUTURE_MS         (10 * 60 * 1000)   /* ts later than this after skew correction -> now */
#define TLY_DEFAULT_SESSION_TIMEOUT 1800             /* seconds */

/* Administration (admin.fcgi, api.md section 3). */
#define TLY_ADMIN_MAX_BODY_BYTES     (64 * 1024)    /* request bodies; 413 beyond */
#define TLY_ADMIN_MAX_EMAIL_LEN      254            /* bytes */
#define TLY_ADMIN_MIN_PASSWORD_CHARS 10
#define TLY_ADMIN_MAX_PASSWORD_LEN   1024           /* bytes */
#define TLY_ADMIN_MAX_NAME_CHARS     120            /* property, key, goal and share link names */
#define TLY_ADMIN_MAX_LIST_ITEMS     100            /* domains, allowed_origins, excluded paths and addresses */
#define TLY_ADMIN_MAX_ITEM_LEN       500            /* bytes of each of those (host names: 253) */
#define TLY_ADMIN_MAX_PATTERN_LEN    500            /* goal path patterns */
#define TLY_ADMIN_MAX_RETENTION_DAYS 36500
#define TLY_ADMIN_MAX_PAGE           200            /* rows per page of the audit log */
#define TLY_ADMIN_MAX_EVENT_QUOTA    1000000000000LL   /* a property's event_quota_daily */
#define TLY_ADMIN_MIN_STRIPE_SECRET  10             /* bytes of a Stripe webhook secret, whsec_ included */
#define TLY_ADMIN_MAX_STRIPE_SECRET  200
#define TLY_ADMIN_MIN_FUNNEL_STEPS   2              /* (the most: TLY_REPORT_MAX_STEPS, 8) */
/* A saved funnel's report_query must fit in a request line with room to spare (lighttpd reads at
 * most 8 KiB of request line and headers, Apache 8190 bytes of request line). */
#define TLY_ADMIN_MAX_FUNNEL_QUERY   4096           /* bytes */
#define TLY_ADMIN_THROTTLE_WINDOW    900            /* seconds over which failed logins count */
#define TLY_ADMIN_THROTTLE_ACCOUNT   5              /* failed logins per account per window */
#define TLY_ADMIN_THROTTLE_ADDRESS   20             /* failed logins per client address per window */

#endif
