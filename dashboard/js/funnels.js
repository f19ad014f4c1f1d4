/* The funnels of a property (#/p/<id>/funnels?period=…&filters=…&funnel=<id>): the saved funnels
 * (admin API, docs/admin-api.md), one of them drawn as horizontal bars per step from report.fcgi's
 * funnel report over the reports' date range and filters, and a form that creates or edits a
 * funnel (admin and owner; viewers read). A funnel's report query comes ready from the admin API
 * (`report_query`) and is sent as it is. */

import {h, replace, number, percent, rangeLabel} from "./dom.js";
import {admin, path, report, reportUrl, ApiError} from "./api.js";
import {field, form, confirmButton} from "./forms.js";
import {describe} from "./filters.js";
import {PERIODS, readState, writeState, baseParams, tracker} from "./reports.js";

const RANK = {viewer: 1, admin: 2, owner: 3};
const MIN_STEPS = 2, MAX_STEPS = 8;
const DIMENSIONS = [["path", "Page"], ["event_type", "Event"], ["goal", "Goal"]];
const OPS = [["==", "is"], ["=~", "contains"]];

/*
 * ctx: {root, property, query (URLSearchParams of the fragment), go(query), onCleanup(fn), signedOut(),
 *       current() (false once another view has replaced this one)}
 */
export async function renderFunnels(ctx) {
    const p = ctx.property;
    const track = tracker(ctx.root);
    const s = readState(ctx.query);
    const canEdit = RANK[p.role] >= RANK.admin;
    const list = (await track(admin.get(path("properties", p.id, "funnels")))).results;
    if (!ctx.current()) return;
    const chosen = list.find((f) => String(f.id) === ctx.query.get("funnel")) || list[0] || null;
    const editing = ctx.query.get("edit");
    const go = (change) => {
        const q = writeState(Object.assign({}, s, change.state || {}));
        const funnel = "funnel" in change ? change.funnel : chosen && chosen.id;
        if (funnel) q.set("funnel", funnel);
        if (change.edit) q.set("edit", change.edit);
        ctx.go(q);
    };

    const reportsHref = "#/p/" + encodeURIComponent(p.id) + (writeState(s).toString() ? "?" + writeState(s) : "");
    const period = h("select", {"aria-label": "Date range", id: "funnel-period",
                                onchange: (e) => go({state: {period: e.target.value, from: null, to: null}})},
        s.period ? null : h("option", {value: "", selected: true}, "Custom"),
        PERIODS.map(([v, label]) => h("option", {value: v, selected: v === s.period}, label)));
    const range = h("span", {class: "muted range-dates"}, "");
    const chart = h("section", {class: "panel funnel-panel", id: "funnel-chart"});

    replace(ctx.root,
        h("div", {class: "toolbar"},
          h("h1", {class: "property-name"}, p.name, " · Funnels"),
          h("div", {class: "toolbar-right"}, period, range, h("a", {class: "button", href: reportsHref}, "← Dashboard"))),
        s.filters.length ? h("div", {class: "chips", "aria-label": "Filters"}, "Filtered: ", s.filters.map((f) => {
            const d = describe(f);
            return h("span", {class: "chip"}, d.dim + " " + d.op + " ", h("b", null, d.value));
        })) : null,
        h("section", {class: "panel"}, h("h2", null, "Saved funnels"),
          list.length ? h("ul", {class: "funnel-list", id: "funnel-list"}, list.map((f) => h("li", {"data-funnel-id": f.id},
              h("a", {href: "#", class: ["funnel-name", f === chosen && "on"],
                      onclick: (e) => { e.preventDefault(); go({funnel: f.id}); }}, f.name),
              " ", h("span", {class: "muted"}, f.steps.length + " steps"),
              canEdit ? h("span", {class: "actions"},
                  h("button", {type: "button", class: "small", onclick: () => go({funnel: f.id, edit: String(f.id)})}, "Edit"),
                  confirmButton("Delete", "Confirm delete", async () => {
                      await admin.del(path("properties", p.id, "funnels", f.id));
                      go({funnel: null});
                  }, "small danger")) : null)))
            : h("p", {class: "empty"}, "No funnels yet." + (canEdit ? " Create one below." : "")),
          canEdit ? null : h("p", {class: "muted"}, `Your role (${p.role}) can read funnels; changing them needs admin.`)),
        chart,
        canEdit ? editor(p, editing ? list.find((f) => String(f.id) === editing) : null, go) : null);

    if (!chosen) {
        chart.hidden = true;
        return;
    }
    chart.replaceChildren(h("h2", null, chosen.name), h("p", {class: "loading"}, "Loading…"));
    const url = funnelUrl(p.id, chosen, baseParams(s));
    try {
        const data = await track(report(p.id, "funnel", null, null, url));
        range.textContent = rangeLabel(data.from, data.to);
        drawFunnel(chart, chosen, data, url);
    } catch (e) {
        if (e instanceof ApiError && e.status === 401) return ctx.signedOut();
        chart.replaceChildren(h("h2", null, chosen.name), h("p", {class: "error"}, e.message));
    }
}

/* The funnel report's address: the saved report_query as the API wrote it (already encoded),
 * then the date range and filters. */
function funnelUrl(propertyId, funnel, params, extra) {
    const url = reportUrl(propertyId, "funnel", Object.assign({}, params, extra || {}));
    url.search = funnel.report_query + (url.search ? "&" + url.search.slice(1) : "");
    return url;
}

function drawFunnel(node, funnel, data, url) {
    const first = data.steps.length ? data.steps[0].visits : 0;
    const csv = new URL(url.href);
    csv.searchParams.set("format", "csv");
    node.replaceChildren(
        h("div", {class: "panel-head"}, h("h2", null, funnel.name),
          h("div", {class: "panel-tools"}, h("span", {class: "muted"}, number(data.visits) + " visits in the range"),
            h("a", {class: "csv", href: csv.href, download: "funnel.csv"}, "CSV"))),
        h("ol", {class: "funnel-steps"}, data.steps.map((step, i) => {
            const bar = h("span", {class: "funnel-bar"});
            bar.style.width = (first ? 100 * step.visits / first : 0).toFixed(1) + "%";
            return h("li", {class: "funnel-step", "data-visits": step.visits, "data-rate": step.conversion_rate,
                            "data-drop": step.drop_off},
                h("div", {class: "funnel-label"}, h("span", {class: "funnel-index"}, String(i + 1)), " ", stepLabel(funnel.steps[i])),
                h("div", {class: "funnel-track"}, bar),
                h("div", {class: "funnel-figures"},
                  h("span", {class: "funnel-visits"}, number(step.visits) + (step.visits === 1 ? " visit" : " visits")),
                  h("span", {class: "funnel-rate"}, percent(step.conversion_rate)),
                  h("span", {class: "funnel-drop"}, i === 0 || !step.drop_off ? "" : "−" + number(step.drop_off) + " dropped")));
        })));
}

function stepLabel(step) {
    if (!step) return "";
    const dim = (DIMENSIONS.find(([d]) => d === step.dimension) || [null, step.dimension])[1];
    const op = (OPS.find(([o]) => o === step.op) || [null, step.op])[1];
    return [dim + " " + op + " ", h("b", null, step.value)];
}

/* One step's row in the editor. */
function stepRow(step, onRemove) {
    const dimension = h("select", {name: "dimension", "aria-label": "Step kind"},
        DIMENSIONS.map(([d, label]) => h("option", {value: d, selected: step && step.dimension === d}, label)));
    const op = h("select", {name: "op", "aria-label": "Match"},
        OPS.map(([o, label]) => h("option", {value: o, selected: step && step.op === o}, label)));
    const value = h("input", {type: "text", name: "value", required: true, maxlength: 500, value: step ? step.value : "",
                              placeholder: "/pricing", "aria-label": "Value"});
    const row = h("li", {class: "step-row"}, dimension, op, value,
                  h("button", {type: "button", class: "small", "aria-label": "Remove step", onclick: () => onRemove(row)}, "×"));
    row.read = () => ({dimension: dimension.value, op: op.value, value: value.value.trim()});
    return row;
}

/* The form that creates a funnel, or edits `funnel`. */
function editor(p, funnel, go) {
    const name = h("input", {type: "text", name: "name", required: true, maxlength: 120, value: funnel ? funnel.name : ""});
    const steps = h("ol", {class: "step-rows"});
    const add = h("button", {type: "button", class: "small", id: "add-step"}, "Add a step");
    const sync = () => {
        add.disabled = steps.children.length >= MAX_STEPS;
        for (const b of steps.querySelectorAll("button")) b.disabled = steps.children.length <= MIN_STEPS;
    };
    const remove = (row) => {
        row.remove();
        sync();
    };
    const initial = funnel ? funnel.steps : [null, null];
    for (const step of initial) steps.append(stepRow(step, remove));
    add.addEventListener("click", () => {
        steps.append(stepRow(null, remove));
        sync();
    });
    sync();
    const f = form({class: "stack", id: "funnel-form"}, [
        field("Name", name),
        h("div", {class: "field"}, h("span", {class: "field-label"}, "Steps, in order"), steps,
          h("small", {class: "hint"}, "A visit counts at a step when it reached it after the steps before. Page: a path (/pricing); event: a custom event's name; goal: a goal's name.")),
        h("div", {class: "row-form"}, add,
          h("button", {type: "submit", class: "primary"}, funnel ? "Save funnel" : "Create funnel"),
          funnel ? h("button", {type: "button", onclick: () => go({funnel: funnel.id})}, "Cancel") : null),
    ], async () => {
        const body = {name: name.value.trim(), steps: [...steps.children].map((row) => row.read())};
        const saved = funnel ? await admin.patch(path("properties", p.id, "funnels", funnel.id), body)
                             : await admin.post(path("properties", p.id, "funnels"), body);
        go({funnel: saved.id});
    });
    return h("section", {class: "panel"}, h("h2", null, funnel ? "Edit “" + funnel.name + "”" : "New funnel"), f);
}
