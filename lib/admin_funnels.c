#include "first.h"
#include "admin_funnels.h"
#include "admin_audit.h"
#include "admin_funnel_steps.h"

#include <stdlib.h>
#include <string.h>

#define FUNNEL_JSON                                                                                  \
    "json_build_object('id', f.id, 'name', f.name, 'steps', f.steps, "                              \
    "  'created_at', tally_time_text(f.created_at))"

/* Puts the steps' members in their documented order (jsonb keeps its own) and adds report_query. */
static void complete(json_t *funnel)
{
    json_t *steps = json_object_get(funnel, "steps");
    json_t *ordered = json_array();
    size_t i;
    json_t *step;
    json_array_foreach(steps, i, step) {
        json_t *o = json_object();
        const char *names[] = {"dimension", "op", "value"};
        for (size_t k = 0; k < TLY_ARRAY_LEN(names); k++) {
            json_t *v = json_object_get(step, names[k]);
            json_object_set(o, names[k], v ? v : json_null());
        }
        json_array_append_new(ordered, o);
    }
    tly_buf query = {0};
    tly_admin_funnel_query(ordered, &query);
    json_object_set_new(funnel, "steps", ordered);
    json_object_set_new(funnel, "report_query", json_string(tly_buf_cstr(&query)));
    tly_buf_free(&query);
}

void tly_admin_funnels_list(tly_admin_ctx *c)
{
    char pk[24];
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[] = {pk};
    json_t *rows;
    if (tly_admin_sql_json(c,
            "SELECT coalesce(json_agg(" FUNNEL_JSON " ORDER BY f.name), '[]') FROM funnels f "
            "WHERE f.property_pk = $1::int",
            params, 1, &rows) != 1)
        return;
    size_t i;
    json_t *funnel;
    json_array_foreach(rows, i, funnel) complete(funnel);
    tly_admin_reply(c, 200, json_pack("{s:o}", "results", rows));
}

/* The fields of a funnel in the body; steps canonical and as JSON text. */
typedef struct funnel_fields {
    const char *name;
    char *steps;            /* NULL: not given */
    int has_name;
} funnel_fields;

/* Reads them. 0 ok, -1 answered. */
static int read_funnel(tly_admin_ctx *c, funnel_fields *f, bool creating)
{
    memset(f, 0, sizeof *f);
    if (tly_admin_read_body(c) != 0 ||
        (f->has_name = tly_admin_field_string(c, "name", creating, tly_admin_check_name, &f->name)) < 0)
        return -1;
    json_t *given = json_object_get(c->body, "steps");
    if (!given || json_is_null(given)) {
        if (creating) {
            tly_admin_fail(c, 400, "steps: required (2 to 8 steps, each {\"dimension\", \"op\", \"value\"})");
            return -1;
        }
        if (!f->has_name) {
            tly_admin_fail(c, 400, "body: nothing to change (fields: name, steps)");
            return -1;
        }
        return 0;
    }
    char problem[256];
    json_t *steps = tly_admin_funnel_steps_read(given, problem, sizeof problem);
    if (!steps) {
        tly_admin_fail(c, 400, "%s", problem);
        return -1;
    }
    f->steps = json_dumps(steps, JSON_COMPACT);
    json_decref(steps);
    return 0;
}

/* Runs the statement that writes a funnel (returning its JSON); a name taken is 409. */
static json_t *write_funnel(tly_admin_ctx *c, const char *sql, const char *const *params, int n, const char *name)
{
    tly_db_error err = {0};
    PGresult *res = tly_db_query(c->db, sql, params, n, PGRES_TUPLES_OK, &err);
    if (!res) {
        if (tly_admin_db_conflict(&err)) tly_admin_fail(c, 409, "name: a funnel named '%s' exists", name ? name : "");
        else tly_admin_db_fail(c, &err);
        return NULL;
    }
    json_t *funnel = PQntuples(res) == 1 ? tly_admin_json_cell(res, 0, 0) : NULL;
    PQclear(res);
    if (!funnel) tly_admin_fail(c, 404, "no such funnel: %s", c->n_seg > 3 ? c->seg[3] : "");
    else complete(funnel);
    return funnel;
}

/* The audit entry of a change (the funnel without its timestamp), then the answer. */
static void finish(tly_admin_ctx *c, const char *action, json_t *funnel, int status)
{
    if (!funnel) return;
    json_t *details = json_deep_copy(funnel);
    json_object_del(details, "created_at");
    json_object_del(details, "report_query");
    /* A deletion answers without a body; the name is read before the funnel goes. */
    json_t *body = status == 204 ? NULL : funnel;
    tly_admin_audit_reply(c, action, json_string_value(json_object_get(funnel, "name")), details, status, body);
    if (!body) json_decref(funnel);
}

void tly_admin_funnel_create(tly_admin_ctx *c)
{
    funnel_fields f;
    if (read_funnel(c, &f, true) != 0) return;
    char pk[24];
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[] = {pk, f.name, f.steps};
    json_t *funnel = tly_admin_begin(c) != 0 ? NULL : write_funnel(c,
        "WITH f AS (INSERT INTO funnels (property_pk, name, steps) VALUES ($1::int, $2, $3::jsonb) RETURNING *) "
        "SELECT " FUNNEL_JSON " FROM f",
        params, 3, f.name);
    finish(c, "funnel.create", funnel, 201);
    free(f.steps);
}

void tly_admin_funnel_update(tly_admin_ctx *c)
{
    long long id = tly_admin_seg_id(c, 3, "funnel");
    funnel_fields f;
    if (id < 0 || read_funnel(c, &f, false) != 0) return;
    char pk[24], funnel_id[24];
    tly_admin_id_text(c->prop_pk, pk);
    tly_admin_id_text(id, funnel_id);
    const char *params[] = {funnel_id, pk, f.has_name ? f.name : NULL, f.steps};
    json_t *funnel = tly_admin_begin(c) != 0 ? NULL : write_funnel(c,
        "WITH f AS (UPDATE funnels SET name = coalesce($3, name), steps = coalesce($4::jsonb, steps) "
        "           WHERE id = $1::bigint AND property_pk = $2::int RETURNING *) "
        "SELECT " FUNNEL_JSON " FROM f",
        params, 4, f.name);
    finish(c, "funnel.update", funnel, 200);
    free(f.steps);
}

void tly_admin_funnel_delete(tly_admin_ctx *c)
{
    long long id = tly_admin_seg_id(c, 3, "funnel");
    if (id < 0 || tly_admin_begin(c) != 0) return;
    char pk[24], funnel_id[24];
    tly_admin_id_text(c->prop_pk, pk);
    tly_admin_id_text(id, funnel_id);
    const char *params[] = {funnel_id, pk};
    json_t *funnel = write_funnel(c,
        "WITH f AS (DELETE FROM funnels WHERE id = $1::bigint AND property_pk = $2::int RETURNING *) "
        "SELECT " FUNNEL_JSON " FROM f",
        params, 2, NULL);
    finish(c, "funnel.delete", funnel, 204);
}
