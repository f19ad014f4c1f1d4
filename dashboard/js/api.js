/* The two HTTP APIs the dashboard uses: admin.fcgi under /admin/api/ (session cookie, and the
 * session's CSRF token on every request that changes something) and report.fcgi under
 * /v1/properties/ (the same cookie, or ?share=<token> on a share link). Both are found relative
 * to the dashboard's own address, so a server that puts Tally under a prefix needs no change. */

const ADMIN = new URL("api/", document.baseURI);
const REPORTS = new URL("../v1/properties/", document.baseURI);

/* The address of the tracker, for the snippet. */
export const TRACKER_URL = new URL("../t.js", document.baseURI).href;

export class ApiError extends Error {
    constructor(status, message, retryAfter) {
        super(message);
        this.status = status;
        this.retryAfter = retryAfter;
    }
}

/* The CSRF token of the signed-in session: kept in memory only, for this page's lifetime. */
let csrfToken = null;

export function setSession(session) {
    csrfToken = session ? session.csrf_token : null;
}

async function parse(response) {
    if (response.status === 204) return null;
    let body = null;
    try {
        body = await response.json();
    } catch (e) {
        body = null;
    }
    if (!response.ok) {
        const message = body && typeof body.error === "string" ? body.error : "HTTP " + response.status;
        throw new ApiError(response.status, message, response.headers.get("Retry-After"));
    }
    return body;
}

async function call(method, path, body) {
    const headers = {"Accept": "application/json"};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
    let response;
    try {
        response = await fetch(new URL(path, ADMIN), {
            method, headers, credentials: "same-origin", cache: "no-store",
            body: body === undefined ? undefined : JSON.stringify(body),
        });
    } catch (e) {
        throw new ApiError(0, "the server cannot be reached (" + e.message + ")");
    }
    return parse(response);
}

/* Path segments from the network (ids) are encoded before they go into a URL. */
export function path(...parts) {
    return parts.map((p) => encodeURIComponent(String(p))).join("/");
}

export const admin = {
    get: (p) => call("GET", p),
    post: (p, body = {}) => call("POST", p, body),
    patch: (p, body) => call("PATCH", p, body),
    del: (p, body) => call("DELETE", p, body),
    /* A plain link (the raw-events export is a CSV download). */
    url: (p) => new URL(p, ADMIN).href,
};

/* The URL of one report: params is an object or URLSearchParams; share is a share-link token. */
export function reportUrl(propertyId, name, params, share) {
    const url = new URL(encodeURIComponent(propertyId) + "/" + name, REPORTS);
    for (const [k, v] of new URLSearchParams(params || {})) url.searchParams.set(k, v);
    if (share) url.searchParams.set("share", share);
    return url;
}

/* url, when given, is a report's whole address made by the caller (a saved funnel's query). */
export async function report(propertyId, name, params, share, url) {
    let response;
    try {
        response = await fetch(url || reportUrl(propertyId, name, params, share), {
            headers: {"Accept": "application/json"}, credentials: "same-origin", cache: "no-store",
        });
    } catch (e) {
        throw new ApiError(0, "the server cannot be reached (" + e.message + ")");
    }
    return parse(response);
}
