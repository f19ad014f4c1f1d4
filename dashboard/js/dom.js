/* Building the page without HTML strings. Every value shown comes from the network (page paths,
 * referrers and UTM values are sent by anyone on the internet), so text only ever goes in as text
 * nodes, and the dashboard never asks the browser to parse a string as markup. */

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(node, attrs, children) {
    for (const [name, value] of Object.entries(attrs || {})) {
        if (value === null || value === undefined || value === false) continue;
        if (name.startsWith("on") && typeof value === "function") {
            node.addEventListener(name.slice(2), value);
        } else if (name === "class") {
            node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
        } else if (name === "value" || name === "checked" || name === "disabled" || name === "selected") {
            node[name] = value;
        } else if (name === "dataset") {
            Object.assign(node.dataset, value);
        } else {
            node.setAttribute(name, value === true ? "" : String(value));
        }
    }
    append(node, children);
    return node;
}

/* Appends children: nodes as they are, strings and numbers as text, arrays flattened, null skipped. */
export function append(node, children) {
    for (const child of children.flat(Infinity)) {
        if (child === null || child === undefined || child === false) continue;
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
}

/* h("a", {href: "#/", class: "x", onclick: f}, "text", otherNode) */
export function h(tag, attrs, ...children) {
    return fill(document.createElement(tag), attrs, children);
}

/* The same for SVG elements. */
export function svg(tag, attrs, ...children) {
    return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(node) {
    node.replaceChildren();
    return node;
}

/* Replaces a node's children (the same rules as append: null and false are skipped). */
export function replace(node, ...children) {
    node.replaceChildren();
    return append(node, children);
}

/* --- formatting ------------------------------------------------------------------------------ */

const compact = new Intl.NumberFormat("en", {notation: "compact", maximumFractionDigits: 1});
const whole = new Intl.NumberFormat("en");

export function number(n) {
    if (n === null || n === undefined) return "–";
    return Math.abs(n) >= 10000 ? compact.format(n) : whole.format(n);
}

export function percent(n) {
    return n === null || n === undefined ? "–" : (Math.round(n * 10) / 10) + "%";
}

export function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds);
    if (s < 60) return s + "s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + "m " + (s % 60) + "s";
    return Math.floor(m / 60) + "h " + (m % 60) + "m";
}

export function decimal(n) {
    return n === null || n === undefined ? "–" : String(Math.round(n * 100) / 100);
}

/* "2026-01-24T18:12:33Z" -> "2026-01-24 18:12" in the browser's time zone; null -> "never". */
export function timestamp(iso, never = "never") {
    if (!iso) return never;
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    const pad = (x) => String(x).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/* A report "date" ("2026-01-24", "2026-01-24T13:00:00") as a short label for the interval. */
export function dateLabel(date, interval) {
    const [y, m, d] = date.slice(0, 10).split("-").map(Number);
    if (interval === "hour") return date.slice(11, 16);
    if (interval === "month") return MONTHS[m - 1] + " " + y;
    return MONTHS[m - 1] + " " + d;
}

/* A longer label for tooltips. */
export function dateTitle(date, interval) {
    const [y, m, d] = date.slice(0, 10).split("-").map(Number);
    const day = `${MONTHS[m - 1]} ${d}, ${y}`;
    if (interval === "hour") return day + " " + date.slice(11, 16);
    if (interval === "week") return "Week of " + day;
    if (interval === "month") return MONTHS[m - 1] + " " + y;
    return day;
}

export function rangeLabel(from, to) {
    if (!from || !to) return "";
    return from === to ? dateTitle(from, "day") : dateTitle(from, "day") + " – " + dateTitle(to, "day");
}

let regionNames = null;
try {
    regionNames = new Intl.DisplayNames(["en"], {type: "region"});
} catch (e) {
    regionNames = null;
}

/* "DE" -> "Germany" where the browser knows it. */
export function countryName(code) {
    if (!code || !regionNames || !/^[A-Z]{2}$/.test(code)) return code;
    try {
        return regionNames.of(code) || code;
    } catch (e) {
        return code;
    }
}

/* A change from `before` to `now` as "+12%", "−5%", "new" or "0%". */
export function delta(now, before) {
    if (before === null || before === undefined || now === null || now === undefined) return null;
    if (before === 0) return now === 0 ? {text: "0%", sign: 0} : {text: "new", sign: 1};
    const pct = Math.round((now - before) / before * 100);
    return {text: (pct > 0 ? "+" : pct < 0 ? "−" : "") + Math.abs(pct) + "%", sign: Math.sign(pct)};
}
