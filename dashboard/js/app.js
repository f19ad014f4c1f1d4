/* The dashboard's entry point: the session, the header, and a router on the URL fragment.
 *
 *   #/                              properties
 *   #/new                           a new property
 *   #/p/<id>?period=…&filters=…     the reports of a property
 *   #/p/<id>/funnels?…&funnel=<f>   its saved funnels, one drawn over the reports' range and filters
 *   #/p/<id>/settings/<tab>         its settings
 *   #/account                       password, own activity, sign out
 *   #/invite/<token>                accept an invitation (no session needed)
 *   #/share/<id>/<token>?period=…   a share link's read-only reports (no session needed)
 *
 * The fragment never reaches the server, so tokens in it stay in the browser. */

import {h, clear, replace, number} from "./dom.js";
import {admin, report, path, setSession, ApiError} from "./api.js";
import {renderSignIn, renderSignUp, renderInvite} from "./auth.js";
import {renderReports} from "./reports.js";
import {renderFunnels} from "./funnels.js";
import {renderSettings, renderNewProperty, renderAccount} from "./settings.js";

const root = document.getElementById("main");
const nav = document.getElementById("nav");

let session = null;          /* {user, csrf_token, expires_at} while signed in */
let cleanups = [];           /* timers and listeners of the view on screen */
let cached = null;           /* {list, at}: the properties, reused for a minute by report views */
let shown = 0;               /* which route() drew the screen: a view whose answers come late draws nothing */

/* A check for one view: true while no later route() has replaced it. */
function viewCheck() {
    const view = shown;
    return () => view === shown;
}

function onCleanup(fn) {
    cleanups.push(fn);
}

function leaveView() {
    for (const fn of cleanups) {
        try {
            fn();
        } catch (e) {
            /* a view's cleanup must not stop the next view */
        }
    }
    cleanups = [];
}

function parseHash() {
    const raw = location.hash.replace(/^#/, "") || "/";
    const q = raw.indexOf("?");
    const pathPart = q < 0 ? raw : raw.slice(0, q);
    let parts;
    try {
        parts = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
    } catch (e) {
        parts = [];
    }
    return {parts, query: new URLSearchParams(q < 0 ? "" : raw.slice(q + 1))};
}

function navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
}

/* --- the header ------------------------------------------------------------------------------ */

function drawNav(mode) {
    clear(nav);
    if (mode === "share") {
        nav.append(h("span", {class: "muted"}, "Read-only shared dashboard"));
    } else if (session) {
        nav.append(h("a", {href: "#/"}, "Properties"),
                   h("a", {href: "#/account", id: "account-link"}, session.user.email),
                   h("button", {type: "button", class: "link", id: "nav-sign-out", onclick: signOut}, "Sign out"));
    }
}

async function signOut() {
    try {
        await admin.del("session");
    } catch (e) {
        /* signed out already */
    }
    session = null;
    cached = null;
    setSession(null);
    navigate("#/");
}

function onSignedIn(s, propertyId) {
    session = s;
    setSession(s);
    cached = null;
    drawNav();
    if (propertyId) navigate("#/p/" + encodeURIComponent(propertyId));
    else if (parseHash().parts[0] === "invite") navigate("#/");
    else navigate(location.hash || "#/");
}

/* The view to show when nobody is signed in: first-run sign-up or sign-in. */
async function signInPage(message, current = viewCheck()) {
    session = null;
    setSession(null);
    drawNav();
    document.title = "Tally";
    let open = false;
    try {
        open = (await admin.get("signup")).open;
    } catch (e) {
        open = false;
    }
    if (!current()) return;
    if (open) renderSignUp(root, {onSignedIn});
    else renderSignIn(root, {onSignedIn, message});
}

async function ensureSession(current) {
    if (session) return true;
    try {
        const s = await admin.get("session");
        session = s;
        setSession(s);
        drawNav();
        return current();
    } catch (e) {
        if (e instanceof ApiError && e.status === 401) {
            if (current()) await signInPage(undefined, current);
            return false;
        }
        throw e;
    }
}

async function properties(fresh) {
    if (fresh || !cached || Date.now() - cached.at > 60000) {
        const list = (await admin.get("properties")).results;
        cached = {list, at: Date.now()};
    }
    return cached.list;
}

/* --- views ------------------------------------------------------------------------------------- */

async function propertiesPage(query, current) {
    document.title = "Tally";
    const list = await properties(true);
    if (!current()) return;
    if (list.length === 1 && !query.get("deleted") && !query.get("all")) {
        navigate("#/p/" + encodeURIComponent(list[0].id));
        return;
    }
    const rows = list.map((p) => {
        const visitors = h("span", {class: "muted"}, "");
        report(p.id, "overview", {period: "today", metrics: "unique_visitors"})
            .then((o) => { visitors.textContent = number(o.unique_visitors) + " visitors today"; }).catch(() => {});
        return h("li", {class: "property-item"}, h("a", {href: "#/p/" + encodeURIComponent(p.id)}, h("b", null, p.name)),
                 " ", h("code", {class: "muted"}, p.id), " ", h("span", {class: "badge"}, p.role), " ", visitors);
    });
    replace(root, 
        h("div", {class: "toolbar"}, h("h1", null, "Properties"),
          h("div", {class: "toolbar-right"}, session.user.can_create_properties
              ? h("a", {class: "button primary", href: "#/new", id: "new-property-link"}, "New property") : null)),
        query.get("deleted") ? h("p", {class: "status ok"}, "Deleted " + query.get("deleted") + ".") : null,
        list.length ? h("ul", {class: "property-list panel"}, rows)
            : h("div", {class: "panel"}, h("p", null, "No properties yet. "),
                session.user.can_create_properties
                    ? h("a", {class: "button primary", href: "#/new"}, "Create the first one") : null));
}

async function propertyPage(id, rest, query, current) {
    const list = await properties(rest[0] === "settings");
    const property = list.find((p) => p.id === id) || await admin.get(path("properties", id));
    if (!current()) return;
    document.title = "Tally — " + property.name;
    if (rest[0] === "settings") return settingsPage(property, rest[1] || "general", {});
    const funnelsHref = (q) => "#/p/" + encodeURIComponent(id) + "/funnels" + (q.toString() ? "?" + q : "");
    if (rest[0] === "funnels") {
        return renderFunnels({
            root, property, query, onCleanup, current, go: (q) => navigate(funnelsHref(q)),
            signedOut: () => signInPage("Your session has ended: sign in again."),
        });
    }
    renderReports({
        root, propertyId: id, share: null, property, properties: list, query, onCleanup,
        go: (q) => navigate("#/p/" + encodeURIComponent(id) + (q.toString() ? "?" + q : "")),
        settingsHref: (tab) => `#/p/${encodeURIComponent(id)}/settings/${tab}`,
        funnelsHref,
        signedOut: () => signInPage("Your session has ended: sign in again."),
    });
}

function settingsPage(property, tab, extra) {
    renderSettings({
        root, property, tab, user: session.user, message: extra.message, secret: extra.secret, navigate,
        refresh: async (updated, message, secret) => {
            const current = viewCheck();
            cached = null;
            const fresh = updated || await admin.get(path("properties", property.id));
            if (!current()) return;
            leaveView();
            settingsPage(fresh, tab, {message, secret});
        },
    });
}

function sharePage(id, token, query) {
    document.title = "Tally — shared dashboard";
    drawNav("share");
    renderReports({
        root, propertyId: id, share: token, property: null, properties: null, query, onCleanup,
        go: (q) => navigate(`#/share/${encodeURIComponent(id)}/${encodeURIComponent(token)}` + (q.toString() ? "?" + q : "")),
        settingsHref: () => "#/",
        funnelsHref: () => "#/",
        signedOut: () => {},
    });
}

/* Draws the view the fragment names. Views that wait for the server check, once it answers, that
 * they are still the latest: a slow answer must not replace the view the user went on to. */
async function route() {
    leaveView();
    shown++;
    const current = viewCheck();
    const {parts, query} = parseHash();
    try {
        if (parts[0] === "share" && parts[1] && parts[2]) return sharePage(parts[1], parts[2], query);
        if (parts[0] === "invite" && parts[1]) {
            drawNav();
            return await renderInvite(root, parts[1], {onSignedIn, current});
        }
        if (!(await ensureSession(current))) return;
        drawNav();
        if (parts.length === 0) return await propertiesPage(query, current);
        if (parts[0] === "new") return renderNewProperty({root, navigate});
        if (parts[0] === "account") return await renderAccount({root, user: session.user, signOut});
        if (parts[0] === "p" && parts[1]) return await propertyPage(parts[1], parts.slice(2), query, current);
        navigate("#/");
    } catch (e) {
        if (!current()) return;
        if (e instanceof ApiError && e.status === 401) return signInPage("Your session has ended: sign in again.");
        replace(root, h("section", {class: "panel"}, h("h1", null, e.status === 404 ? "Not found" : "Something went wrong"),
                                h("p", {class: "error"}, e.message), h("a", {href: "#/"}, "Back to the properties")));
    }
}

window.addEventListener("hashchange", route);
route();
