/* admin.fcgi's API: the JSON endpoints under /admin/api/ that the dashboard uses (api.md section
 * 3; every route is described in docs/admin-api.md). Accounts and sessions, properties, keys,
 * goals, saved funnels, share links, the team, exports and the audit log, with the roles owner,
 * admin and viewer enforced on every route and a CSRF token on every request that changes
 * something. */
#ifndef TLY_ADMIN_H
#define TLY_ADMIN_H
#include "first.h"
#include "conf.h"
#include "io.h"
#include "resp.h"
#include <stddef.h>

typedef struct tly_admin tly_admin;

/* Sets up from the configuration (database, trusted proxies). NULL with a message in err. */
tly_admin *tly_admin_new(const tly_conf *conf, char *err, size_t errlen) TLY_NONNULL(1, 2);
void tly_admin_free(tly_admin *adm);
/* Answers one request completely (the response is written through req's I/O). */
void tly_admin_serve(tly_admin *adm, tly_req *req, tly_resp *resp) TLY_NONNULL(1, 2, 3);

#endif
