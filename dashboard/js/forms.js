/* Small form helpers shared by the sign-in and settings pages. */

import {h} from "./dom.js";

/* A labelled field: field("Email", input) -> <label><span>Email</span>input<small>hint</small></label> */
export function field(label, input, hint) {
    return h("label", {class: "field"}, h("span", {class: "field-label"}, label), input,
             hint ? h("small", {class: "hint"}, hint) : null);
}

/* A line of feedback under a form: error or success, read out by screen readers. */
export function status() {
    const node = h("p", {class: "status", role: "status", hidden: true});
    node.error = (message) => {
        node.hidden = false;
        node.className = "status error";
        node.textContent = message;
    };
    node.ok = (message) => {
        node.hidden = false;
        node.className = "status ok";
        node.textContent = message;
    };
    node.clear = () => {
        node.hidden = true;
        node.textContent = "";
    };
    return node;
}

/*
 * A form whose submit runs `action` (async) with the submit button disabled meanwhile; an error
 * thrown by it is shown in the form's status line. Returns the <form>.
 */
export function form(attrs, children, action, statusLine = status()) {
    const node = h("form", attrs, children, statusLine);
    node.status = statusLine;
    node.addEventListener("submit", async (e) => {
        e.preventDefault();
        const buttons = node.querySelectorAll("button[type=submit]");
        buttons.forEach((b) => { b.disabled = true; });
        statusLine.clear();
        try {
            await action(node);
        } catch (err) {
            let msg = err.message || String(err);
            if (err.status === 429 && err.retryAfter) msg += " (try again in " + err.retryAfter + " s)";
            statusLine.error(msg);
        } finally {
            buttons.forEach((b) => { b.disabled = false; });
        }
    });
    return node;
}

/* "a\nb, c" -> ["a", "b", "c"]: list settings are edited one per line (commas work too). */
export function lines(text) {
    return text.split(/[\n,]/).map((x) => x.trim()).filter(Boolean);
}

/*
 * A button that asks once more before acting: the first click turns it into "Confirm …" for a few
 * seconds, the second runs `action`. (No window.confirm: it blocks the page and cannot be styled.)
 */
export function confirmButton(label, confirmLabel, action, cls = "danger") {
    let armed = false, timer = null;
    const button = h("button", {type: "button", class: cls}, label);
    button.addEventListener("click", async () => {
        if (!armed) {
            armed = true;
            button.textContent = confirmLabel;
            button.classList.add("armed");
            timer = setTimeout(() => {
                armed = false;
                button.textContent = label;
                button.classList.remove("armed");
            }, 5000);
            return;
        }
        clearTimeout(timer);
        armed = false;
        button.disabled = true;
        try {
            await action();
        } finally {
            button.disabled = false;
            button.textContent = label;
            button.classList.remove("armed");
        }
    });
    return button;
}

/* Copies text to the clipboard: the Clipboard API where the page may use it (HTTPS), else the
 * selection of a (read-only) text field. Returns whether it worked. */
export async function copyText(text, fallbackField) {
    try {
        if (navigator.clipboard && window.isSecureContext) {
            await navigator.clipboard.writeText(text);
            return true;
        }
    } catch (e) {
        /* fall through to the selection */
    }
    if (!fallbackField) return false;
    fallbackField.focus();
    fallbackField.select();
    try {
        return document.execCommand("copy");
    } catch (e) {
        return false;
    }
}

/* A secret shown once, with a copy button and the warning that it will not be shown again. */
export function secretBox(title, secret, note) {
    const field = h("input", {type: "text", readonly: true, value: secret, class: "secret-value", spellcheck: "false",
                              "aria-label": title});
    const copied = h("span", {class: "muted copied"}, "");
    return h("div", {class: "secret", role: "alert"},
        h("strong", null, title),
        h("div", {class: "secret-row"}, field,
          h("button", {type: "button", onclick: async () => {
              copied.textContent = (await copyText(secret, field)) ? "Copied" : "Select and copy it";
          }}, "Copy"), copied),
        h("p", {class: "muted"}, note || "Shown only now: Tally keeps only its hash. Copy it before you leave this page."));
}
