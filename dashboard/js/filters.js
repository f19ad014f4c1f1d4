/* Report filters: the `filters` parameter of report.fcgi ("dim==value;dim!=value;dim=~text", with
 * ';' and '\' in values escaped by a backslash) as a list of {dim, op, value}, and back. */

export const DIMENSION_LABELS = {
    path: "Page", entry_page: "Entry page", exit_page: "Exit page", source: "Source", campaign: "Campaign",
    country: "Country", device: "Device", browser: "Browser", os: "OS", event_type: "Event", goal: "Goal",
    hostname: "Host", referrer: "Referrer", utm_source: "UTM source", utm_medium: "UTM medium",
    utm_campaign: "UTM campaign", utm_term: "UTM term", utm_content: "UTM content", region: "Region", city: "City",
};

const OPS = ["==", "!=", "=~"];
const OP_LABELS = {"==": "is", "!=": "is not", "=~": "contains"};

export function parseFilters(text) {
    const out = [];
    let term = "";
    const flush = () => {
        const m = /^([A-Za-z_][A-Za-z0-9_.:-]*)(==|!=|=~)([\s\S]*)$/.exec(term);
        if (m) out.push({dim: m[1], op: m[2], value: m[3]});
        term = "";
    };
    for (let i = 0; i < (text || "").length; i++) {
        const c = text[i];
        if (c === "\\" && (text[i + 1] === ";" || text[i + 1] === "\\")) {
            term += text[++i];
        } else if (c === ";") {
            flush();
        } else {
            term += c;
        }
    }
    if (term) flush();
    return out;
}

export function formatFilters(list) {
    return list.filter((f) => OPS.includes(f.op))
        .map((f) => f.dim + f.op + f.value.replace(/[\\;]/g, (c) => "\\" + c)).join(";");
}

export function describe(f) {
    const dim = f.dim.startsWith("prop:") ? "Property " + f.dim.slice(5) : (DIMENSION_LABELS[f.dim] || f.dim);
    return {dim, op: OP_LABELS[f.op] || f.op, value: f.value};
}

export function sameFilter(a, b) {
    return a.dim === b.dim && a.op === b.op && a.value === b.value;
}
