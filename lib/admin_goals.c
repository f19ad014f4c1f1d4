#include "first.h"
#include "admin_goals.h"
#include "admin_audit.h"

#include <stdio.h>
#include <string.h>

#define GOAL_JSON                                                                                   \
    "json_build_object('id', g.id, 'name', g.name, 'event_name', g.event_name, "                   \
    "  'path_pattern', g.path_pattern, 'revenue', g.revenue, 'created_at', tally_time_text(g.created_at))"

void tly_admin_goals_list(tly_admin_ctx *c)
{
    char pk[24];
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[] = {pk};
    json_t *rows;
    if (tly_admin_sql_json(c,
            "SELECT coalesce(json_agg(" GOAL_JSON " ORDER BY g.name), '[]') FROM goals g "
            "WHERE g.property_pk = $1::int",
            params, 1, &rows) == 1)
        tly_admin_reply(c, 200, json_pack("{s:o}", "results", rows));
}

/* The fields of a goal in the body. */
typedef struct goal_fields {
    const char *name, *event_name, *path_pattern;
    bool revenue;
    int has_name, has_event, has_path, has_revenue;
} goal_fields;

/* Reads them; a goal is one kind or the other. 0 ok, -1 answered. */
static int read_goal(tly_admin_ctx *c, goal_fields *g, bool creating)
{
    memset(g, 0, sizeof *g);
    if (tly_admin_read_body(c) != 0 ||
        (g->has_name = tly_admin_field_string(c, "name", creating, tly_admin_check_name, &g->name)) < 0 ||
        (g->has_event = tly_admin_field_string(c, "event_name", false, tly_admin_check_event_name, &g->event_name)) < 0 ||
        (g->has_path = tly_admin_field_string(c, "path_pattern", false, tly_admin_check_path_pattern, &g->path_pattern)) < 0 ||
        (g->has_revenue = tly_admin_field_bool(c, "revenue", &g->revenue)) < 0)
        return -1;
    if (g->has_event && g->has_path) {
        tly_admin_fail(c, 400, "event_name, path_pattern: a goal is one or the other, not both");
        return -1;
    }
    if (creating && !g->has_event && !g->has_path) {
        tly_admin_fail(c, 400, "event_name, path_pattern: one of them is required");
        return -1;
    }
    if (!creating && !g->has_name && !g->has_event && !g->has_path && !g->has_revenue) {
        tly_admin_fail(c, 400, "body: nothing to change (fields: name, event_name, path_pattern, revenue)");
        return -1;
    }
    return 0;
}

/* Runs the statement that writes a goal (returning its JSON); a name taken is 409. */
static json_t *write_goal(tly_admin_ctx *c, const char *sql, const char *const *params, int n, const char *name)
{
    tly_db_error err = {0};
    PGresult *res = tly_db_query(c->db, sql, params, n, PGRES_TUPLES_OK, &err);
    if (!res) {
        if (tly_admin_db_conflict(&err)) tly_admin_fail(c, 409, "name: a goal named '%s' exists", name ? name : "");
        else tly_admin_db_fail(c, &err);
        return NULL;
    }
    json_t *goal = PQntuples(res) == 1 ? tly_admin_json_cell(res, 0, 0) : NULL;
    PQclear(res);
    if (!goal) tly_admin_fail(c, 404, "no such goal: %s", c->n_seg > 3 ? c->seg[3] : "");
    return goal;
}

static void finish(tly_admin_ctx *c, const char *action, json_t *goal, int status)
{
    if (!goal) return;
    json_t *details = json_deep_copy(goal);
    json_object_del(details, "created_at");
    tly_admin_audit_reply(c, action, json_string_value(json_object_get(goal, "name")), details, status, goal);
}

void tly_admin_goal_create(tly_admin_ctx *c)
{
    goal_fields g;
    if (read_goal(c, &g, true) != 0 || tly_admin_begin(c) != 0) return;
    char pk[24];
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[] = {pk, g.name, g.event_name, g.path_pattern, g.revenue ? "true" : "false"};
    json_t *goal = write_goal(c,
        "WITH g AS (INSERT INTO goals (property_pk, name, event_name, path_pattern, revenue) "
        "           VALUES ($1::int, $2, $3, $4, $5::boolean) RETURNING *) "
        "SELECT " GOAL_JSON " FROM g",
        params, 5, g.name);
    finish(c, "goal.create", goal, 201);
}

void tly_admin_goal_update(tly_admin_ctx *c)
{
    long long id = tly_admin_seg_id(c, 3, "goal");
    goal_fields g;
    if (id < 0 || read_goal(c, &g, false) != 0 || tly_admin_begin(c) != 0) return;
    char pk[24], goal_id[24];
    tly_admin_id_text(c->prop_pk, pk);
    tly_admin_id_text(id, goal_id);
    const char *params[] = {goal_id, pk, g.name, g.event_name, g.path_pattern,
                            g.has_revenue ? (g.revenue ? "true" : "false") : NULL};
    /* Giving one kind of match clears the other. */
    json_t *goal = write_goal(c,
        "WITH g AS (UPDATE goals SET name = coalesce($3, name), "
        "             event_name = CASE WHEN $4::text IS NOT NULL THEN $4 "
        "                               WHEN $5::text IS NOT NULL THEN NULL ELSE event_name END, "
        "             path_pattern = CASE WHEN $5::text IS NOT NULL THEN $5 "
        "                                 WHEN $4::text IS NOT NULL THEN NULL ELSE path_pattern END, "
        "             revenue = coalesce($6::boolean, revenue) "
        "           WHERE id = $1::bigint AND property_pk = $2::int RETURNING *) "
        "SELECT " GOAL_JSON " FROM g",
        params, 6, g.name);
    finish(c, "goal.update", goal, 200);
}

void tly_admin_goal_delete(tly_admin_ctx *c)
{
    long long id = tly_admin_seg_id(c, 3, "goal");
    if (id < 0 || tly_admin_begin(c) != 0) return;
    char pk[24], goal_id[24];
    tly_admin_id_text(c->prop_pk, pk);
    tly_admin_id_text(id, goal_id);
    const char *params[] = {goal_id, pk};
    json_t *goal = write_goal(c,
        "WITH g AS (DELETE FROM goals WHERE id = $1::bigint AND property_pk = $2::int RETURNING *) "
        "SELECT " GOAL_JSON " FROM g",
        params, 2, NULL);
    if (!goal) return;
    json_object_del(goal, "created_at");
    if (tly_admin_audit(c, NULL, "goal.delete", json_string_value(json_object_get(goal, "name")), goal) == 0)
        tly_admin_no_content(c);
}
