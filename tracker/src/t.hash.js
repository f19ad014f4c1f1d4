/* Tally tracker extension: hash-based routing. For apps whose routes live in the fragment
 * (https://app.example/#/settings), the route becomes the page's path (/settings): every event
 * gets context.page.path, and a change of route counts as a pageview (the core listens to
 * popstate, which browsers also fire for fragment changes, and compares paths). Load it before
 * t.js (tracker/README.md), so that the first pageview has the route too. */
addEventListener("tally", ({detail: event}) => {
    var page = event.context.page, url = new URL(page.url);
    // "#/a/b", "#!/a/b" and "#a/b" all name the route a/b, under the page's own path.
    var route = url.hash.replace(/^#!?\/?/, "");
    if (route) page.path = url.pathname.replace(/\/$/, "") + "/" + route;
});
