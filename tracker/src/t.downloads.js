/* Tally tracker extension: file downloads. A click (or middle click) on a link to a file of a
 * common download type, or on a link with the download attribute, sends the event
 * "File Download" with the property url: the file's address without its query string (the event
 * and property names Plausible uses). */
["click", "auxclick"].forEach((type) => addEventListener(type, (e) => {
    var link = e.button < 2 && e.target.closest?.("a[href]");   // left or middle button
    if (link && (link.hasAttribute("download") ||
                 /\.(pdf|docx?|xlsx?|pptx?|csv|txt|zip|gz|7z|rar|exe|dmg|pkg|mp[34]|mov|wav)$/i.test(link.pathname)))
        tally("File Download", {props: {url: (link.origin + link.pathname).slice(0, 500)}});
}, true));
