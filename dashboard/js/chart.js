/* The visitors/pageviews graph and the realtime sparkline: inline SVG drawn from the report rows.
 * Labels and tooltips are text nodes (see dom.js). */

import {h, svg, number, dateLabel, dateTitle} from "./dom.js";

const HEIGHT = 260;
const MARGIN = {top: 14, right: 16, bottom: 28, left: 48};
const MAX_DOTS = 62;          /* above this many points the dots would crowd the lines */

const TICKS = 4;

/* The top of the y axis: TICKS steps of a round whole number (1, 2, 5 x 10^k, or 2.5 x 10^k from
 * 25 on), so that every gridline is a count that can happen. */
function niceMax(max) {
    const raw = Math.max(1, max / TICKS);
    const exp = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) {
        const step = m * exp;
        if (step >= raw && Number.isInteger(step)) return step * TICKS;
    }
    return 10 * exp * TICKS;
}

function linePath(points) {
    return points.map((p, i) => (i ? "L" : "M") + p[0].toFixed(1) + "," + p[1].toFixed(1)).join("");
}

/*
 * rows: [{date, unique_visitors, pageviews}, …]; previous: the same for the previous period, or
 * null; series: [{key, label, cls}]; interval: hour|day|week|month; width: pixels to draw for.
 * Returns a <div class="chart"> with the SVG and its tooltip.
 */
export function lineChart({rows, previous, series, interval, width}) {
    const W = Math.max(320, Math.floor(width));
    const plotW = W - MARGIN.left - MARGIN.right, plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
    const n = rows.length;
    let max = 0;
    for (const list of [rows, previous || []])
        for (const r of list) for (const s of series) max = Math.max(max, r[s.key] || 0);
    const top = niceMax(max);
    const x = (i) => MARGIN.left + (n <= 1 ? plotW / 2 : i * plotW / (n - 1));
    const y = (v) => MARGIN.top + plotH - (v / top) * plotH;

    const chart = svg("svg", {class: "chart-svg", viewBox: `0 0 ${W} ${HEIGHT}`, width: "100%", height: HEIGHT,
                              role: "img", "aria-label": series.map((s) => s.label).join(" and ") + " over time",
                              "data-points": n});
    // Grid and y axis.
    const grid = svg("g", {class: "grid"});
    for (let t = 0; t <= TICKS; t++) {
        const v = top * t / TICKS, yy = y(v);
        grid.append(svg("line", {x1: MARGIN.left, x2: W - MARGIN.right, y1: yy, y2: yy}));
        grid.append(svg("text", {x: MARGIN.left - 8, y: yy + 4, class: "axis-y"}, number(v)));
    }
    chart.append(grid);
    // X labels: at most about eight.
    const step = Math.max(1, Math.ceil(n / 8));
    const xAxis = svg("g", {class: "axis-x"});
    for (let i = 0; i < n; i += step)
        xAxis.append(svg("text", {x: x(i), y: HEIGHT - 8}, dateLabel(rows[i].date, interval)));
    chart.append(xAxis);

    // The previous period first (underneath), dashed.
    if (previous && previous.length) {
        for (const s of series) {
            const pts = previous.slice(0, Math.max(n, 1)).map((r, i) => [x(i), y(r[s.key] || 0)]);
            chart.append(svg("path", {class: "line previous " + s.cls, d: linePath(pts)}));
        }
    }
    // The current period: an area under the first series, a line for each, dots on each point.
    series.forEach((s, k) => {
        const pts = rows.map((r, i) => [x(i), y(r[s.key] || 0)]);
        if (!pts.length) return;
        if (k === 0) {
            const area = linePath(pts) + `L${pts[pts.length - 1][0].toFixed(1)},${y(0)}L${pts[0][0].toFixed(1)},${y(0)}Z`;
            chart.append(svg("path", {class: "area " + s.cls, d: area}));
        }
        chart.append(svg("path", {class: "line " + s.cls, d: linePath(pts)}));
        if (n <= MAX_DOTS) {
            const dots = svg("g", {class: "dots " + s.cls});
            pts.forEach((p) => dots.append(svg("circle", {cx: p[0], cy: p[1], r: 2.5})));
            chart.append(dots);
        }
    });

    // Hover: a guide line, the nearest point of each series, and a tooltip.
    const guide = svg("line", {class: "guide", y1: MARGIN.top, y2: MARGIN.top + plotH, visibility: "hidden"});
    const marks = series.map((s) => svg("circle", {class: "mark " + s.cls, r: 4, visibility: "hidden"}));
    const overlay = svg("rect", {class: "overlay", x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH});
    chart.append(guide, ...marks, overlay);
    const tip = h("div", {class: "chart-tip", role: "status", hidden: true});
    const wrap = h("div", {class: "chart"}, chart, tip);

    function show(i) {
        const r = rows[i], p = previous && previous[i];
        guide.setAttribute("x1", x(i));
        guide.setAttribute("x2", x(i));
        guide.setAttribute("visibility", "visible");
        series.forEach((s, k) => {
            marks[k].setAttribute("cx", x(i));
            marks[k].setAttribute("cy", y(r[s.key] || 0));
            marks[k].setAttribute("visibility", "visible");
        });
        const before = (s) => p ? `(previous ${dateTitle(p.date, interval)}: ${number(p[s.key] || 0)})` : null;
        tip.replaceChildren(
            h("div", {class: "tip-title"}, dateTitle(r.date, interval)),
            ...series.map((s) => h("div", {class: "tip-row"},
                h("span", {class: "swatch " + s.cls}), s.label + ": ", h("b", null, number(r[s.key] || 0)),
                p ? h("span", {class: "tip-prev"}, " ", before(s)) : null)));
        tip.hidden = false;
        // Place the tooltip beside the point, inside the chart.
        const scale = chart.getBoundingClientRect().width / W || 1;
        const px = x(i) * scale, room = wrap.clientWidth - px;
        tip.style.left = (room > tip.offsetWidth + 16 ? px + 12 : Math.max(0, px - tip.offsetWidth - 12)) + "px";
        tip.style.top = "8px";
    }
    function hide() {
        guide.setAttribute("visibility", "hidden");
        marks.forEach((m) => m.setAttribute("visibility", "hidden"));
        tip.hidden = true;
    }
    overlay.addEventListener("mousemove", (e) => {
        if (!n) return;
        const box = chart.getBoundingClientRect();
        const mx = (e.clientX - box.left) * (W / box.width);
        const i = n <= 1 ? 0 : Math.round((mx - MARGIN.left) / (plotW / (n - 1)));
        show(Math.min(n - 1, Math.max(0, i)));
    });
    overlay.addEventListener("mouseleave", hide);
    return wrap;
}

/* Pageviews per minute over the last 30 minutes, as bars (oldest first). */
export function sparkline(values, width = 300, height = 48) {
    const max = Math.max(1, ...values);
    const bw = width / Math.max(1, values.length);
    const g = svg("svg", {class: "sparkline", viewBox: `0 0 ${width} ${height}`, width: "100%", height,
                          role: "img", "aria-label": "pageviews per minute, last 30 minutes",
                          "data-total": values.reduce((a, b) => a + b, 0)});
    values.forEach((v, i) => {
        const bh = v ? Math.max(2, (v / max) * (height - 4)) : 1;
        g.append(svg("rect", {x: (i * bw + 1).toFixed(1), y: (height - bh).toFixed(1), width: Math.max(1, bw - 2).toFixed(1),
                              height: bh.toFixed(1), class: v ? "bar" : "bar empty"},
                     svg("title", null, `${values.length - 1 - i} min ago: ${v} pageviews`)));
    });
    return g;
}
