/* Tally tracker extension: outbound links. A click (or middle click) on a link to another host
 * sends the event "Outbound Link: Click" with the property url (the event and property names
 * Plausible uses). */
["click", "auxclick"].forEach((type) => addEventListener(type, (e) => {
    var link = e.button < 2 && e.target.closest?.("a[href]");   // left or middle button
    // link.host is empty for mailto:, tel: and javascript: links.
    if (link && link.host && link.host != location.host)
        tally("Outbound Link: Click", {props: {url: link.href.slice(0, 500)}});
}, true));
