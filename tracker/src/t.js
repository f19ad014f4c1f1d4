/* Tally tracker, core: pageviews (on load and on single-page-app navigation), custom events with
 * properties and revenue, calls queued before the script loaded, an opt-out flag and localhost
 * exclusion. Each event goes as a one-event envelope to POST /v1/events by sendBeacon (or fetch
 * with keepalive) as text/plain, so no CORS preflight is needed. No cookies, no storage writes, no
 * layout reads. Snippet and API: tracker/README.md. */
(function (window, document, location, history) {
    var script = document.currentScript, config = script.dataset;
    // sendBeacon cannot set headers: the write key (public by nature, like the property id) rides
    // in the query string. The endpoint defaults to v1/events next to this script.
    var endpoint = (config.api || new URL("v1/events", script.src)) + "?key=" + config.key;
    var lastPage;       // the page of the last pageview, so that a navigation is counted once
    // This page load's visit token: random, kept in memory only. A shop passes tally.visit to its
    // backend, which puts it in the Stripe checkout's metadata (tally_visit), so that the payment
    // is credited to this visit.
    var visit = crypto.getRandomValues(new Uint32Array(2)).join("-");
    var ignored;
    try {
        // The site owner's own opt-out, set by hand in the browser console; only ever read.
        ignored = localStorage.tally_ignore == "true";
    } catch (e) {
        // Storage disabled or blocked: not an opt-out.
    }
    // Pages on a developer's machine (localhost, 127.x, [::1], file:) are not counted unless the
    // snippet says data-allow-localhost.
    ignored = ignored || config.allowLocalhost == null && /^(localhost|127\..*|\[::1\]|)$/.test(location.hostname);

    // tally("signup", {props: {plan: "pro"}, revenue: {amount: "49.90", currency: "EUR"}})
    // onlyNewPage: not sent when the page is the last pageview's (history events).
    function tally(name, options, onlyNewPage) {
        options = options || {};
        var page = {url: options.url || location.href, referrer: document.referrer};
        var event = {
            // 128 random bits (crypto.randomUUID would need a secure context). The server stores
            // a (property, event_id) pair once, so a request sent twice is counted once.
            event_id: crypto.getRandomValues(new Uint32Array(4)).join("-"),
            type: name,
            interactive: options.interactive,
            context: {page: page, screen: {width: screen.width}},
            identity: {visit_token: visit},
            // revenue {amount, currency} travels as data.revenue; undefined members are not sent.
            data: Object.assign({revenue: options.revenue}, options.props)
        };
        // Extensions (and the site) see and may adjust each event: it is the detail of a "tally"
        // event on window. Exceptions in their listeners do not reach this code.
        dispatchEvent(new CustomEvent("tally", {detail: event}));
        if (name == "pageview") {
            var key = page.path || location.pathname;
            if (onlyNewPage && key == lastPage) return;
            lastPage = key;
        }
        if (ignored) return;
        var body = JSON.stringify({property_id: config.property, events: [event]});
        // sendBeacon with a string body sends text/plain and outlives the page; fetch with
        // keepalive (also text/plain) where sendBeacon is missing or refuses (its queue is full).
        if (!(navigator.sendBeacon && navigator.sendBeacon(endpoint, body)))
            fetch(endpoint, {method: "POST", body: body, keepalive: true});
    }

    var navigated = () => tally("pageview", 0, 1);
    // Calls made before this script ran wait in tally.q (snippet: tracker/README.md).
    var queue = window.tally?.q || [];
    window.tally = tally;
    tally.visit = visit;
    navigated();
    queue.forEach((args) => tally(...args));

    // Single-page apps: pushState is wrapped; popstate covers back/forward and #fragment changes.
    var pushState = history.pushState;
    history.pushState = function () {
        pushState.apply(history, arguments);
        navigated();
    };
    addEventListener("popstate", navigated);
    // A page restored from the back/forward cache is a new view of it.
    addEventListener("pageshow", (e) => e.persisted && tally("pageview"));
})(window, document, location, history);
