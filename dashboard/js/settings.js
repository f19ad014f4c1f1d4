/* Settings of a property (#/p/<id>/settings/<tab>), the new-property form and the account page,
 * all on the admin API (docs/admin-api.md). Secrets (key secrets, share and invitation links) are
 * shown once, right after they are created, and kept only in this page's memory. */

import {h, replace, timestamp} from "./dom.js";
import {admin, path, TRACKER_URL} from "./api.js";
import {field, form, status, lines, confirmButton, copyText, secretBox} from "./forms.js";

export const TABS = [
    ["general", "General"], ["snippet", "Snippet"], ["keys", "Keys"], ["goals", "Goals"],
    ["shares", "Share links"], ["team", "Team"], ["audit", "Audit log"],
];

const RANK = {viewer: 1, admin: 2, owner: 3};
const atLeast = (property, role) => RANK[property.role] >= RANK[role];

/* Write-key secrets created in this page, per property, for the snippet. */
const writeKeys = new Map();

/*
 * ctx: {root, property, tab, refresh() (reloads the property and re-renders), navigate(hash)}
 */
export function renderSettings(ctx) {
    const p = ctx.property;
    const tab = TABS.some(([t]) => t === ctx.tab) ? ctx.tab : "general";
    const body = h("div", {class: "settings-body", id: "settings-" + tab});
    replace(ctx.root, 
        h("div", {class: "toolbar"},
          h("h1", {class: "property-name"}, p.name, h("span", {class: "badge"}, p.role)),
          h("div", {class: "toolbar-right"}, h("a", {class: "button", href: "#/p/" + encodeURIComponent(p.id)}, "← Dashboard"))),
        h("nav", {class: "tabs settings-tabs"}, TABS.map(([t, label]) =>
            h("a", {class: ["tab", t === tab && "on"], href: `#/p/${encodeURIComponent(p.id)}/settings/${t}`,
                    "aria-current": t === tab ? "page" : null}, label))),
        body);
    const pages = {general, snippet, keys, goals, shares, team, audit};
    Promise.resolve(pages[tab](ctx, body)).catch((e) => body.append(h("p", {class: "error"}, e.message)));
}

function section(title, ...children) {
    return h("section", {class: "panel"}, h("h2", null, title), children);
}

function readOnlyNote(p, role) {
    return atLeast(p, role) ? null : h("p", {class: "muted"}, `Your role (${p.role}) can read these settings; changing them needs ${role}.`);
}

/* --- general ------------------------------------------------------------------------------------ */

async function general(ctx, body) {
    const p = ctx.property;
    const name = h("input", {type: "text", name: "name", value: p.name, required: true, maxlength: 120});
    const domains = h("textarea", {name: "domains", rows: 2, value: p.domains.join("\n")});
    const origins = h("textarea", {name: "allowed_origins", rows: 2, value: p.allowed_origins.join("\n")});
    const tz = h("select", {name: "timezone"}, h("option", {value: p.timezone, selected: true}, p.timezone));
    const retention = h("input", {type: "number", name: "retention_days", min: 0, max: 36500, value: p.retention_days});
    const timeout = h("input", {type: "number", name: "session_timeout", min: 1, max: 1440, step: "any",
                                value: String(p.session_timeout / 60)});
    const gpc = h("input", {type: "checkbox", name: "drop_gpc", checked: p.drop_gpc});
    const excluded = h("textarea", {name: "excluded_paths", rows: 2, value: p.excluded_paths.join("\n")});
    const excludedAddresses = h("textarea", {name: "excluded_addresses", rows: 2, value: p.excluded_addresses.join("\n")});
    const quota = h("input", {type: "number", name: "event_quota_daily", min: 0, max: 1000000000000, step: 1,
                              value: String(p.event_quota_daily || 0)});
    const requireToken = h("input", {type: "checkbox", name: "require_token", checked: p.require_token});
    const canEdit = atLeast(p, "admin");
    admin.get("timezones").then((r) => {
        tz.replaceChildren(...r.results.map((z) => h("option", {value: z, selected: z === p.timezone}, z)));
    }).catch(() => {});

    const settingsForm = form({class: "stack", id: "property-settings"}, [
        h("fieldset", {disabled: !canEdit},
          field("Name", name),
          field("Domains", domains, "Host names of the site, one per line (the Plausible-compatible endpoint finds the property by them)."),
          field("Allowed origins", origins, "Browsers may send events from these origins: * for any, a host name, or scheme://host[:port]. Empty: only server-side senders."),
          field("Time zone", tz, "The property's days in reports."),
          field("Keep raw events (days)", retention, "0 keeps them; daily rollups stay either way."),
          field("Visit ends after inactivity (minutes)", timeout),
          h("label", {class: "check"}, gpc, " Drop events from browsers that send Global Privacy Control (Sec-GPC: 1)"),
          field("Excluded paths", excluded, "One per line; a trailing * makes a prefix (/admin/*)."),
          field("Excluded addresses", excludedAddresses, "Events from these client addresses are dropped, such as your own: one address or CIDR range per line (192.0.2.7, 192.0.2.0/24, 2001:db8::/32)."),
          field("Daily event quota", quota, "Events the property may store per UTC day; 0: no quota. Past it, senders get 429 until midnight UTC."),
          h("label", {class: "check"}, requireToken, " Browsers must send a signed browser token, not the plain write key (server-side senders keep their keys)"),
          h("button", {type: "submit", class: "primary"}, "Save")),
    ], async (f) => {
        const next = {
            name: name.value.trim(), domains: lines(domains.value), allowed_origins: lines(origins.value),
            timezone: tz.value, retention_days: Number(retention.value),
            session_timeout: Math.round(Number(timeout.value) * 60),
            drop_gpc: gpc.checked, excluded_paths: lines(excluded.value), excluded_addresses: lines(excludedAddresses.value),
            event_quota_daily: Number(quota.value), require_token: requireToken.checked,
        };
        const changes = {};
        for (const [k, v] of Object.entries(next))
            if (JSON.stringify(v) !== JSON.stringify(p[k])) changes[k] = v;
        if (!Object.keys(changes).length) return f.status.ok("Nothing changed.");
        const updated = await admin.patch(path("properties", p.id), changes);
        Object.assign(p, updated);
        ctx.refresh(updated, "Saved.");
    });
    if (ctx.message) settingsForm.status.ok(ctx.message);

    body.append(section("Property", h("p", {class: "muted"}, "Id: ", h("code", {id: "property-id"}, p.id)),
                        readOnlyNote(p, "admin"), settingsForm));

    body.append(stripeSection(ctx), tokenSecretSection(ctx));

    if (atLeast(p, "admin")) {
        const from = h("input", {type: "date", name: "from"}), to = h("input", {type: "date", name: "to"});
        const link = h("a", {class: "button", id: "export-link", href: admin.url(path("properties", p.id) + "/export/events"),
                             download: p.id + "-events.csv"}, "Download raw events (CSV)");
        const update = () => {
            const q = new URLSearchParams();
            if (from.value) q.set("from", from.value);
            if (to.value) q.set("to", to.value);
            link.href = admin.url(path("properties", p.id) + "/export/events" + (q.toString() ? "?" + q : ""));
        };
        from.addEventListener("change", update);
        to.addEventListener("change", update);
        body.append(section("Export",
            h("p", {class: "muted"}, "Every stored raw event of the property (or of the days chosen), oldest first. Reports export as CSV from the dashboard's tables."),
            h("div", {class: "row-form"}, field("From", from), field("To", to), link)));
    }

    if (atLeast(p, "owner")) {
        const confirm = h("input", {type: "text", name: "confirm", placeholder: p.id, autocomplete: "off", spellcheck: "false"});
        const del = h("button", {type: "submit", class: "danger", disabled: true}, "Delete this property and its data");
        confirm.addEventListener("input", () => { del.disabled = confirm.value !== p.id; });
        body.append(section("Delete",
            h("p", null, "Deletes the property with its keys, goals, share links, team, raw events, visits and rollups. It cannot be undone."),
            form({class: "stack", id: "delete-property"}, [field("Type the property id (" + p.id + ") to confirm", confirm), del],
                 async () => {
                     await admin.del(path("properties", p.id), {confirm: confirm.value});
                     ctx.navigate("#/?deleted=" + encodeURIComponent(p.name));
                 })));
    }
}

/* The Stripe webhook: its secret is write-only (no answer contains it), so the form sets or
 * removes it and the page shows only whether one is set, and the endpoint to give Stripe. */
function stripeSection(ctx, note) {
    const p = ctx.property;
    const hook = p.stripe_webhook || {configured: false, url: ""};
    const url = h("input", {type: "text", readonly: true, id: "stripe-url", class: "url-value", value: hook.url || "", spellcheck: "false",
                            "aria-label": "Webhook endpoint"});
    const copied = h("span", {class: "muted copied"}, "");
    const parts = [
        h("p", {class: "muted"}, "Purchases and refunds paid through Stripe count as revenue, credited to the visit the checkout came from. ",
          "In Stripe, add a webhook endpoint with this URL (events checkout.session.completed, payment_intent.succeeded, charge.refunded), then paste its signing secret here."),
        h("div", {class: "row-form"}, field("Endpoint URL", url),
          h("button", {type: "button", onclick: async () => {
              copied.textContent = (await copyText(url.value, url)) ? "Copied" : "Select and copy it";
          }}, "Copy"), copied),
        h("p", null, "Signing secret: ", h("b", {id: "stripe-status", "data-configured": hook.configured ? "1" : "0"},
                                           hook.configured ? "configured" : "not configured")),
    ];
    let node = null;
    /* The section is drawn again with the answer, without reloading the page's other forms. */
    const redraw = (updated, message) => {
        Object.assign(p, updated);
        node.replaceWith(stripeSection(ctx, message));
    };
    if (atLeast(p, "admin")) {
        const secret = h("input", {type: "password", name: "stripe_webhook_secret", required: true, minlength: 10, maxlength: 200,
                                   autocomplete: "off", spellcheck: "false", placeholder: "whsec_…"});
        const f = form({class: "row-form", id: "stripe-secret"}, [
            field(hook.configured ? "Replace the secret" : "Secret", secret, "Write-only: Tally never shows it again."),
            h("button", {type: "submit", class: "primary"}, "Save secret"),
            hook.configured ? confirmButton("Remove", "Confirm remove", async () => {
                redraw(await admin.patch(path("properties", p.id), {stripe_webhook_secret: null}), "Stripe secret removed.");
            }, "danger") : null,
        ], async () => {
            const updated = await admin.patch(path("properties", p.id), {stripe_webhook_secret: secret.value.trim()});
            secret.value = "";
            redraw(updated, "Stripe secret saved.");
        });
        if (note) f.status.ok(note);
        parts.push(f);
    }
    node = section("Stripe", parts);
    return node;
}

/* The secret that signs browser tokens: never shown, only replaced (tokens minted before stop). */
function tokenSecretSection(ctx) {
    const p = ctx.property;
    const line = status();
    return section("Browser token secret",
        h("p", {class: "muted"}, "Signed browser tokens (bt1.…) are minted with a secret Tally keeps. Rotating it ends every token minted before, within the key cache time; keys are not affected."),
        atLeast(p, "admin") ? h("div", {class: "row-form", id: "token-secret"}, confirmButton("Rotate token secret", "Confirm: end all tokens", async () => {
            try {
                const r = await admin.post(path("properties", p.id, "token-secret", "rotate"));
                line.ok("Rotated " + timestamp(r.rotated_at) + ".");
            } catch (e) {
                line.error(e.message);
            }
        }, "danger"), line) : readOnlyNote(p, "admin"));
}

/* --- the snippet --------------------------------------------------------------------------------- */

function snippetText(propertyId, writeKey) {
    return `<script defer src="${TRACKER_URL}" data-property="${propertyId}" data-key="${writeKey || "wk_…"}"></script>`;
}

function snippet(ctx, body) {
    const p = ctx.property;
    const key = writeKeys.get(p.id);
    const text = h("textarea", {id: "snippet", readonly: true, rows: 3, spellcheck: "false", value: snippetText(p.id, key)});
    const copied = h("span", {class: "muted copied"}, "");
    const parts = [
        h("p", null, "Paste this into the ", h("code", null, "<head>"), " of every page of your site:"),
        text,
        h("div", {class: "row-form"},
          h("button", {type: "button", class: "primary", id: "copy-snippet", onclick: async () => {
              copied.textContent = (await copyText(text.value, text)) ? "Copied to the clipboard" : "Select the text and copy it";
          }}, "Copy"), copied),
    ];
    if (key) {
        parts.push(h("p", {class: "muted"}, "The write key in it was created just now and is shown only in this page. " +
                                             "It is not a secret from your visitors: it only lets its holder send events to this property."));
    } else {
        parts.push(h("p", {class: "muted"}, "Write keys are shown only when they are created: put one of yours in place of wk_…, or create a new one."));
        if (atLeast(p, "admin"))
            parts.push(form({class: "row-form"}, [h("button", {type: "submit"}, "Create a write key for the snippet")], async () => {
                const created = await admin.post(path("properties", p.id, "keys"), {kind: "write", name: "website"});
                writeKeys.set(p.id, created.secret);
                ctx.refresh(null);
            }));
    }
    parts.push(h("p", {class: "muted"}, "Custom events: ", h("code", null, 'tally("signup", {props: {plan: "pro"}})'),
                 ". More in the tracker's documentation (tracker/README.md)."));
    body.append(section("Tracking snippet", parts));
}

/* --- keys ---------------------------------------------------------------------------------------- */

async function keys(ctx, body) {
    const p = ctx.property;
    const list = await admin.get(path("properties", p.id, "keys"));
    const shown = h("div", {id: "new-secret"});
    if (ctx.secret) shown.append(secretBox(ctx.secret.title, ctx.secret.value));
    const canEdit = atLeast(p, "admin");
    const rows = list.results.map((k) => h("tr", {"data-key-id": k.id, class: k.revoked_at ? "revoked" : null},
        h("td", null, k.name || "–"), h("td", null, k.kind), h("td", null, h("code", null, k.prefix + "…")),
        h("td", null, timestamp(k.created_at)), h("td", null, timestamp(k.last_used_at)),
        h("td", {class: "key-status"}, k.revoked_at ? "revoked " + timestamp(k.revoked_at) : "active"),
        h("td", {class: "actions"}, canEdit && !k.revoked_at ? [
            confirmButton("Rotate", "Confirm rotate", async () => {
                const r = await admin.post(path("properties", p.id, "keys", k.id, "rotate"));
                if (r.key.kind === "write") writeKeys.set(p.id, r.secret);
                ctx.refresh(null, null, {title: `New ${r.key.kind} key (replaces ${k.prefix}…)`, value: r.secret});
            }, "small"),
            confirmButton("Revoke", "Confirm revoke", async () => {
                await admin.post(path("properties", p.id, "keys", k.id, "revoke"));
                ctx.refresh(null);
            }, "small danger"),
        ] : null)));
    body.append(shown, section("API keys",
        h("p", {class: "muted"}, "Write keys (wk_) send events: the snippet carries one. Read keys (rk_) read reports from your own programs: keep them secret."),
        h("p", {class: "muted"}, "Server keys (sk_) send events from your backend with the visitor's address and user agent, so they join the browser's visit: keep them on the server."),
        h("table", {class: "list", id: "keys-table"},
          h("thead", null, h("tr", null, ["Name", "Type", "Key", "Created", "Last used", "Status", ""].map((x) => h("th", {scope: "col"}, x)))),
          h("tbody", null, rows))));
    if (canEdit) {
        const kind = h("select", {name: "kind"}, h("option", {value: "write"}, "write"), h("option", {value: "read"}, "read"),
                         h("option", {value: "server"}, "server"));
        const name = h("input", {type: "text", name: "name", maxlength: 120, placeholder: "e.g. website, backend"});
        body.append(section("New key", form({class: "row-form", id: "new-key"}, [field("Type", kind), field("Name", name),
            h("button", {type: "submit", class: "primary"}, "Create key")], async () => {
                const r = await admin.post(path("properties", p.id, "keys"), {kind: kind.value, name: name.value});
                if (r.key.kind === "write") writeKeys.set(p.id, r.secret);
                const title = `New ${r.key.kind} key` + (r.key.name ? ` “${r.key.name}”` : "");
                ctx.refresh(null, null, {title, value: r.secret});
            })));
    }
}

/* --- goals --------------------------------------------------------------------------------------- */

async function goals(ctx, body) {
    const p = ctx.property;
    const list = await admin.get(path("properties", p.id, "goals"));
    const canEdit = atLeast(p, "admin");
    body.append(section("Goals",
        h("p", {class: "muted"}, "A goal counts visitors who sent a custom event, or viewed a page whose path matches a pattern (* matches anything). Conversions are in the dashboard's Goals table."),
        list.results.length ? h("table", {class: "list", id: "goals-table"},
            h("thead", null, h("tr", null, ["Name", "Counts", "Revenue", ""].map((x) => h("th", {scope: "col"}, x)))),
            h("tbody", null, list.results.map((g) => h("tr", null,
                h("td", null, g.name),
                h("td", null, g.event_name ? ["event ", h("code", null, g.event_name)] : ["page ", h("code", null, g.path_pattern)]),
                h("td", null, g.revenue ? "shown" : "–"),
                h("td", {class: "actions"}, canEdit ? confirmButton("Delete", "Confirm delete", async () => {
                    await admin.del(path("properties", p.id, "goals", g.id));
                    ctx.refresh(null);
                }, "small danger") : null)))))
            : h("p", {class: "empty"}, "No goals yet.")));
    if (!canEdit) return;
    const name = h("input", {type: "text", name: "name", required: true, maxlength: 120});
    const kind = h("select", {name: "kind"}, h("option", {value: "event"}, "a custom event named"), h("option", {value: "path"}, "a pageview of a path like"));
    const value = h("input", {type: "text", name: "value", required: true, maxlength: 500, placeholder: "signup"});
    kind.addEventListener("change", () => { value.placeholder = kind.value === "event" ? "signup" : "/thank-you*"; });
    const revenue = h("input", {type: "checkbox", name: "revenue"});
    body.append(section("New goal", form({class: "stack", id: "new-goal"}, [
        field("Name", name), h("div", {class: "row-form"}, field("Counts", kind), field("Value", value)),
        h("label", {class: "check"}, revenue, " Show revenue (sent with the event as revenue)"),
        h("button", {type: "submit", class: "primary"}, "Create goal"),
    ], async () => {
        const goal = {name: name.value.trim(), revenue: revenue.checked};
        goal[kind.value === "event" ? "event_name" : "path_pattern"] = value.value.trim();
        await admin.post(path("properties", p.id, "goals"), goal);
        ctx.refresh(null);
    })));
}

/* --- share links --------------------------------------------------------------------------------- */

function shareUrl(propertyId, token) {
    const here = new URL(location.href);
    here.hash = "#/share/" + encodeURIComponent(propertyId) + "/" + encodeURIComponent(token);
    return here.href;
}

async function shares(ctx, body) {
    const p = ctx.property;
    const list = await admin.get(path("properties", p.id, "shares"));
    const canEdit = atLeast(p, "admin");
    const shown = h("div", {id: "new-secret"});
    if (ctx.secret) shown.append(secretBox(ctx.secret.title, ctx.secret.value,
                                           "Anyone with this link can read this property's reports. It is shown only now; revoke it to end it."));
    body.append(shown, section("Share links",
        h("p", {class: "muted"}, "A share link opens a read-only dashboard of this property without signing in."),
        list.results.length ? h("table", {class: "list", id: "shares-table"},
            h("thead", null, h("tr", null, ["Name", "Link", "Created", "Status", ""].map((x) => h("th", {scope: "col"}, x)))),
            h("tbody", null, list.results.map((s) => h("tr", {class: s.revoked_at ? "revoked" : null},
                h("td", null, s.name || "–"), h("td", null, h("code", null, s.prefix + "…")), h("td", null, timestamp(s.created_at)),
                h("td", null, s.revoked_at ? "revoked " + timestamp(s.revoked_at) : "active"),
                h("td", {class: "actions"}, canEdit && !s.revoked_at ? confirmButton("Revoke", "Confirm revoke", async () => {
                    await admin.post(path("properties", p.id, "shares", s.id, "revoke"));
                    ctx.refresh(null);
                }, "small danger") : null)))))
            : h("p", {class: "empty"}, "No share links.")));
    if (!canEdit) return;
    const name = h("input", {type: "text", name: "name", maxlength: 120, placeholder: "e.g. public stats"});
    body.append(section("New share link", form({class: "row-form", id: "new-share"}, [field("Name", name),
        h("button", {type: "submit", class: "primary"}, "Create link")], async () => {
            const r = await admin.post(path("properties", p.id, "shares"), {name: name.value});
            ctx.refresh(null, null, {title: "Share link", value: shareUrl(p.id, r.token)});
        })));
}

/* --- team ---------------------------------------------------------------------------------------- */

function roleSelect(current, onChange) {
    const select = h("select", {"aria-label": "Role"},
                     ["owner", "admin", "viewer"].map((r) => h("option", {value: r, selected: r === current}, r)));
    if (onChange) select.addEventListener("change", () => onChange(select));
    return select;
}

async function team(ctx, body) {
    const p = ctx.property;
    const me = ctx.user;
    const members = await admin.get(path("properties", p.id, "members"));
    const isOwner = atLeast(p, "owner");
    const line = status();
    body.append(section("Members", line, h("table", {class: "list", id: "members-table"},
        h("thead", null, h("tr", null, ["Email", "Role", ""].map((x) => h("th", {scope: "col"}, x)))),
        h("tbody", null, members.results.map((m) => h("tr", null,
            h("td", null, m.email, me && me.id === m.user_id ? h("span", {class: "badge"}, "you") : null),
            h("td", null, isOwner ? roleSelect(m.role, async (select) => {
                try {
                    await admin.patch(path("properties", p.id, "members", m.user_id), {role: select.value});
                    line.ok(`${m.email} is now ${select.value}.`);
                } catch (e) {
                    select.value = m.role;
                    line.error(e.message);
                }
            }) : m.role),
            h("td", {class: "actions"}, isOwner || (me && me.id === m.user_id)
                ? confirmButton(me && me.id === m.user_id ? "Leave" : "Remove", "Confirm", async () => {
                    try {
                        await admin.del(path("properties", p.id, "members", m.user_id));
                        if (me && me.id === m.user_id) ctx.navigate("#/");
                        else ctx.refresh(null);
                    } catch (e) {
                        line.error(e.message);
                    }
                }, "small danger") : null)))))));
    if (!isOwner) return;
    const shown = h("div", {id: "new-secret"});
    if (ctx.secret) shown.append(secretBox(ctx.secret.title, ctx.secret.value,
                                           "Send this link to the person you invite: it works once, for 7 days, and is shown only now."));
    const pending = await admin.get(path("properties", p.id, "invitations"));
    const email = h("input", {type: "email", name: "email", required: true});
    const role = roleSelect("viewer");
    body.append(shown, section("Invite",
        h("p", {class: "muted"}, "Tally sends no mail: create an invitation link and pass it on."),
        form({class: "row-form", id: "invite"}, [field("Email", email), field("Role", role),
            h("button", {type: "submit", class: "primary"}, "Create invitation")], async () => {
                const r = await admin.post(path("properties", p.id, "invitations"), {email: email.value, role: role.value});
                const link = new URL(location.href);
                link.hash = "#/invite/" + encodeURIComponent(r.token);
                ctx.refresh(null, null, {title: `Invitation for ${r.invitation.email} (${r.invitation.role})`, value: link.href});
            }),
        h("h3", null, "Pending invitations"),
        pending.results.length ? h("table", {class: "list", id: "invitations-table"},
            h("thead", null, h("tr", null, ["Email", "Role", "Expires", ""].map((x) => h("th", {scope: "col"}, x)))),
            h("tbody", null, pending.results.map((i) => h("tr", null, h("td", null, i.email), h("td", null, i.role),
                h("td", null, timestamp(i.expires_at)),
                h("td", {class: "actions"}, confirmButton("Revoke", "Confirm revoke", async () => {
                    await admin.del(path("properties", p.id, "invitations", i.id));
                    ctx.refresh(null);
                }, "small danger"))))))
            : h("p", {class: "empty"}, "No pending invitations.")));
}

/* --- audit log ----------------------------------------------------------------------------------- */

const AUDIT_PAGE = 50;

function auditQuery(before) {
    return "?limit=" + AUDIT_PAGE + (before ? "&before=" + encodeURIComponent(before) : "");
}

/* The audit log as a table, a page at a time: load(before) gives the entries older than `before`. */
function auditTable(load) {
    const tbody = h("tbody");
    const more = h("button", {type: "button", class: "link", hidden: true}, "Older entries");
    const table = h("table", {class: "list audit", id: "audit-table"},
        h("thead", null, h("tr", null, ["When", "Who", "Action", "Target", "Details"].map((x) => h("th", {scope: "col"}, x)))), tbody);
    let before = null;
    const page = async () => {
        const r = await load(before);
        for (const e of r.results) {
            const details = e.details && Object.keys(e.details).length ? JSON.stringify(e.details) : "";
            tbody.append(h("tr", {"data-action": e.action}, h("td", null, timestamp(e.at)), h("td", null, e.actor ? e.actor.email : "–"),
                           h("td", null, h("code", null, e.action)), h("td", null, e.target || e.property_id || ""),
                           h("td", {class: "details"}, details)));
            before = e.id;
        }
        more.hidden = r.results.length < AUDIT_PAGE;
    };
    more.addEventListener("click", () => page().catch((e) => more.replaceWith(h("p", {class: "error"}, e.message))));
    return {node: h("div", null, table, more), first: page};
}

async function audit(ctx, body) {
    const p = ctx.property;
    if (!atLeast(p, "admin")) {
        body.append(section("Audit log", readOnlyNote(p, "admin")));
        return;
    }
    const t = auditTable((before) => admin.get(path("properties", p.id, "audit") + auditQuery(before)));
    body.append(section("Audit log", h("p", {class: "muted"}, "Who changed what on this property, newest first. Secrets are never recorded."), t.node));
    await t.first();
}

/* --- a new property ------------------------------------------------------------------------------ */

export function renderNewProperty(ctx) {
    const name = h("input", {type: "text", name: "name", required: true, maxlength: 120, placeholder: "My site"});
    const domain = h("input", {type: "text", name: "domain", placeholder: "example.com"});
    replace(ctx.root, section("New property",
        h("p", {class: "muted"}, "A property is one site (or app) whose visits Tally counts. Creating it also creates a write key for its snippet."),
        form({class: "stack", id: "new-property"}, [field("Name", name), field("Domain", domain, "Optional: the site's host name."),
            h("button", {type: "submit", class: "primary"}, "Create property")], async () => {
                const body = {name: name.value.trim()};
                if (domain.value.trim()) body.domains = lines(domain.value);
                const p = await admin.post("properties", body);
                const key = await admin.post(path("properties", p.id, "keys"), {kind: "write", name: "website"});
                writeKeys.set(p.id, key.secret);
                ctx.navigate(`#/p/${encodeURIComponent(p.id)}/settings/snippet`);
            })));
    name.focus();
}

/* --- the account --------------------------------------------------------------------------------- */

export async function renderAccount(ctx) {
    const current = h("input", {type: "password", name: "current_password", required: true, autocomplete: "current-password"});
    const next = h("input", {type: "password", name: "new_password", required: true, minlength: 10, maxlength: 1024, autocomplete: "new-password"});
    const t = auditTable((before) => admin.get("audit" + auditQuery(before)));
    replace(ctx.root, 
        h("div", {class: "toolbar"}, h("h1", null, "Your account"), h("div", {class: "toolbar-right"},
          h("button", {type: "button", id: "sign-out", onclick: ctx.signOut}, "Sign out"))),
        section("Account", h("p", null, "Signed in as ", h("b", null, ctx.user.email), ctx.user.instance_owner ? " (owner of this installation)" : "")),
        section("Change password", form({class: "stack", id: "password"}, [field("Current password", current),
            field("New password", next, "At least 10 characters. Your other sessions end."),
            h("button", {type: "submit", class: "primary"}, "Change password")], async (f) => {
                await admin.post("account/password", {current_password: current.value, new_password: next.value});
                current.value = next.value = "";
                f.status.ok("Password changed.");
            })),
        section("Your activity", t.node));
    await t.first();
}
