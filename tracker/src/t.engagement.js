/* Tally tracker extension: engagement time and scroll depth. When the page is hidden (another
 * tab, window minimised, page left or closed) and when a single-page app moves on to another
 * page, it sends the event "engagement" for the page with the properties engaged_ms (how long the
 * page was visible since the last such event) and scroll_depth (how far down the page was seen,
 * in percent). The server never counts "engagement" as an interaction, so it does not turn a
 * bounce into a visit. Scrolling only notes scrollY; layout is read when sending, never on load.
 * Load it before t.js (tracker/README.md), so that it sees the first pageview. */
((document, now) => {
    var page, visibleSince, maxScrollY = 0;

    // Sends the visible time since the last call, if there is any; notes if the page is visible.
    var flush = () => {
        var root = document.documentElement;
        if (visibleSince) tally("engagement", {url: page?.url, props: {
            engaged_ms: now() - visibleSince,
            // maxScrollY + clientHeight is at most scrollHeight: the depth is at most 100.
            scroll_depth: (maxScrollY + root.clientHeight) * 100 / root.scrollHeight | 0
        }});
        visibleSince = !document.hidden && now();
    };

    // Each pageview ends the page before it: its engagement is sent (before the pageview).
    addEventListener("tally", ({detail: event}) => {
        if (event.type == "pageview") {
            flush();
            // A history navigation keeps the scroll position; on load, reading it would be a
            // layout read (and it is 0 or about to be restored).
            maxScrollY = page ? scrollY : 0;
            page = event.context.page;
        }
    });
    addEventListener("visibilitychange", flush);
    addEventListener("scroll", () => maxScrollY = Math.max(maxScrollY, scrollY));
})(document, Date.now);
