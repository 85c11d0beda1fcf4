// Trend chart in our own SVG: the mean of each window as a line, min..max as a band.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function trendChart(points, { width = 860, height = 260, unit = "", onZoom = null } = {}) {
  const pad = { l: 90, r: 12, t: 10, b: 28 };
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img" });
  const usable = points.filter((p) => p.mean !== null);
  if (!usable.length) {
    const t = svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "axis" });
    t.textContent = "no data in this range";
    root.append(t);
    return root;
  }
  const ts = usable.map((p) => Date.parse(p.start));
  const lo = Math.min(...usable.map((p) => (p.min ?? p.mean)));
  const hi = Math.max(...usable.map((p) => (p.max ?? p.mean)));
  const t0 = Math.min(...ts), t1 = Math.max(...ts) || t0 + 1;
  const span = hi - lo || Math.abs(hi) || 1;
  const x = (t) => pad.l + ((t - t0) / (t1 - t0 || 1)) * (width - pad.l - pad.r);
  const y = (v) => pad.t + (1 - (v - (lo - span * 0.05)) / (span * 1.1)) * (height - pad.t - pad.b);
  for (const frac of [0, 0.5, 1]) {
    const v = lo + frac * (hi - lo);
    root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), class: "grid" }));
    const label = svg("text", { x: pad.l - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" });
    label.textContent = `${fmt(v)}${unit ? " " + unit : ""}`;
    root.append(label);
  }
  for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
    const label = svg("text", { x: x(t), y: height - 8, "text-anchor": anchor, class: "axis" });
    label.textContent = new Date(t).toLocaleString();
    root.append(label);
  }
  const band = usable.map((p, i) => `${x(ts[i])},${y(p.max ?? p.mean)}`)
    .concat(usable.map((p, i) => `${x(ts[i])},${y(p.min ?? p.mean)}`).reverse());
  root.append(svg("polygon", { points: band.join(" "), class: "band" }));
  root.append(svg("polyline", {
    points: usable.map((p, i) => `${x(ts[i])},${y(p.mean)}`).join(" "), class: "line",
  }));
  const dots = svg("g", { class: "dots" });
  usable.forEach((p, i) => {
    const c = svg("circle", {
      cx: x(ts[i]), cy: y(p.mean), r: usable.length > 300 ? 1 : 2.5,
      "data-t": p.start, "data-v": String(p.mean),
    });
    const tip = svg("title");
    tip.textContent = `${new Date(ts[i]).toLocaleString()}: ${fmt(p.mean)} (${fmt(p.min)}…${fmt(p.max)})`;
    c.append(tip);
    dots.append(c);
  });
  root.append(dots);
  if (onZoom) addZoom(root, x, t0, t1, pad, width, height, onZoom);
  return root;
}

// Drag across the chart to zoom into that time span; double-click to go back to the range.
function addZoom(root, x, t0, t1, pad, width, height, onZoom) {
  const sel = svg("rect", { y: pad.t, height: height - pad.t - pad.b, class: "zoom", width: 0 });
  root.append(sel);
  const toT = (px) => t0 + ((px - pad.l) / (width - pad.l - pad.r)) * (t1 - t0);
  const local = (ev) => {
    const box = root.getBoundingClientRect();
    return ((ev.clientX - box.left) / box.width) * width;
  };
  let from = null;
  root.addEventListener("mousedown", (ev) => {
    from = local(ev);
    egiz.busy = true; // no refresh under a drag
    sel.setAttribute("x", from);
  });
  root.addEventListener("mousemove", (ev) => {
    if (from === null) return;
    const to = local(ev);
    sel.setAttribute("x", Math.min(from, to));
    sel.setAttribute("width", Math.abs(to - from));
  });
  root.addEventListener("mouseup", (ev) => {
    const to = local(ev);
    if (from !== null && Math.abs(to - from) > 4) {
      const [a, b] = [toT(Math.min(from, to)), toT(Math.max(from, to))];
      onZoom(new Date(a).toISOString(), new Date(b).toISOString());
    }
    from = null;
    egiz.busy = false;
    sel.setAttribute("width", 0);
  });
  root.addEventListener("dblclick", () => onZoom(null, null));
}
