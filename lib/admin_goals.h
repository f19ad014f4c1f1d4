/* Goals of a property: a custom event by name, or a pageview whose path matches a pattern ('*'
 * matches any run of characters); `revenue` marks goals whose conversions carry revenue. A change
 * makes the rollups of every day be rebuilt (005_rollups.sql). */
#ifndef TLY_ADMIN_GOALS_H
#define TLY_ADMIN_GOALS_H
#include "first.h"
#include "admin_request.h"

void tly_admin_goals_list(tly_admin_ctx *c) TLY_NONNULL(1);   /* GET /properties/{id}/goals */
void tly_admin_goal_create(tly_admin_ctx *c) TLY_NONNULL(1);  /* POST /properties/{id}/goals */
void tly_admin_goal_update(tly_admin_ctx *c) TLY_NONNULL(1);  /* PATCH .../goals/{goal} */
void tly_admin_goal_delete(tly_admin_ctx *c) TLY_NONNULL(1);  /* DELETE .../goals/{goal} */

#endif
