// Asset page: latest signals, model scores, trend chart with time range, alarms, commands and
// maintenance (commands.js), completeness.
"use strict";

const RANGES = { "1 h": 3600, "6 h": 21600, "24 h": 86400, "7 d": 604800, "30 d": 2592000, all: 0 };
const assetState = { signal: null, range: "6 h", zoom: null };

function select(id, options, value, onChange) {
  const s = el("select", { id }, ...options.map((o) => el("option", { value: o, selected: o === value }, o)));
  s.addEventListener("change", () => onChange(s.value));
  return s;
}

async function alarmActions(a, rerender) {
  const act = async (verb, body) => {
    try {
      await api(`/api/v1/alarms/${a.site}/${encodeURIComponent(a.alarm_id)}/${verb}`,
        { method: "POST", body: body ? JSON.stringify(body) : undefined });
      rerender();
    } catch (err) {
      setStatus(`${verb}: ${err.message}`, true);
    }
  };
  return el("span", { class: "actions" },
    a.acknowledged ? null : el("button", { class: "ack", onclick: () => act("ack") }, "Acknowledge"),
    a.shelved ? el("button", { onclick: () => act("unshelve") }, "Unshelve")
      : el("button", { onclick: () => act("shelve", { duration_s: 3600 }) }, "Shelve 1 h"),
    a.active ? el("button", { onclick: () => act("clear") }, "Clear") : null);
}

async function alarmTable(alarms, rerender) {
  if (!alarms.length) return el("p", { class: "empty" }, "No alarms.");
  const rows = [];
  for (const a of alarms) {
    rows.push(el("tr", { class: `alarm ${a.active ? "active" : "cleared"}`, "data-alarm": a.alarm_id },
      el("td", {}, el("span", { class: `sev sev-${a.severity}` }, a.severity)),
      el("td", {}, a.asset ? el("a", { href: `#/asset/${a.asset}` }, a.asset) : a.site),
      el("td", {}, a.message || a.signal || ""),
      el("td", { class: "state" }, a.state.replace("_", " ") + (a.shelved ? " · shelved" : "")),
      el("td", {}, fmtTime(a.raised_at)),
      el("td", {}, a.acked_by ? `${a.acked_by}` : ""),
      el("td", {}, await alarmActions(a, rerender))));
  }
  return el("table", { class: "list alarms" },
    el("tr", {}, ...["severity", "asset", "message", "state", "raised", "acked by", ""].map((h) => el("th", {}, h))),
    ...rows);
}

async function assetView(root, gid, rerender) {
  const [site, assetId] = [gid.split(".")[0], gid.split(".").slice(1).join(".")];
  const q = (o) => new URLSearchParams(o).toString();
  const [asset, alarms, gaps, edges] = await Promise.all([
    api(`/api/v1/assets/${encodeURIComponent(gid)}`),
    api(`/api/v1/alarms?${q({ site })}`),
    api(`/api/v1/events?${q({ site, asset: assetId, kind: "data_gap", limit: 20 })}`),
    api("/api/v1/edges"),
  ]);
  const signals = asset.signals || [];
  if (!assetState.signal || !signals.some((s) => s.name === assetState.signal)) {
    assetState.signal = signals.length ? signals[0].name : null;
  }
  const spec = signals.find((s) => s.name === assetState.signal) || {};
  const params = new URLSearchParams({ resolution: "auto", limit: "5000" });
  if (assetState.signal) params.set("signal", assetState.signal);
  const span = RANGES[assetState.range];
  if (assetState.zoom) {
    params.set("start", assetState.zoom[0]);
    params.set("end", assetState.zoom[1]);
  } else if (span && asset.updated) {
    // The range ends at the newest data (data time may run faster than the wall clock).
    const end = Date.parse(asset.updated) + (spec.window_length_s || 0) * 1000 + 1;
    params.set("start", new Date(end - span * 1000).toISOString());
    params.set("end", new Date(end).toISOString());
  }
  const src = `/api/v1/assets/${encodeURIComponent(gid)}/history?${params}`;
  const hist = await api(src);
  const s = asset.scores;
  const mine = alarms.data.filter((a) => a.asset === gid);
  root.replaceChildren(
    el("p", { class: "crumbs" }, el("a", { href: "#/" }, "Fleet"), ` / ${asset.path.join(" / ")}`),
    el("h2", {}, asset.name || asset.asset, el("span", { class: "sub" }, ` ${asset.id} · ${asset.type}`)),
    el("div", { class: "facts" },
      el("div", {}, el("b", {}, "Health "), s && s.health !== null ? fmt(s.health) : "—"),
      el("div", {}, el("b", {}, "RUL "), s && s.rul ? `${fmt(s.rul.value)} ${s.rul.unit} (${fmt(s.rul.low)} … ${fmt(s.rul.high)})` : "—"),
      el("div", {}, el("b", {}, "Model "), s ? `${s.model} ${s.version}` : "—"),
      el("div", {}, el("b", {}, "Newest window "), fmtTime(asset.updated))),
    el("section", { class: "trend" },
      el("div", { class: "controls" },
        select("signal", signals.map((x) => x.name), assetState.signal, (v) => { assetState.signal = v; rerender(); }),
        select("range", Object.keys(RANGES), assetState.range, (v) => { assetState.range = v; assetState.zoom = null; rerender(); }),
        el("span", { class: "meta" }, `${hist.count} points · ${hist.resolution}${hist.truncated ? " · truncated" : ""}` +
          (assetState.zoom ? " · zoomed (double-click to reset)" : " · drag to zoom"))),
      el("div", { id: "trend", "data-signal": assetState.signal || "", "data-count": String(hist.count), "data-src": src },
        trendChart(hist.data, {
          unit: spec.unit || "",
          onZoom: (a, b) => { assetState.zoom = a ? [a, b] : null; rerender(); },
        }))),
    el("h3", {}, "Signals"),
    el("table", { class: "list signals" },
      el("tr", {}, ...["", "signal", "value", "unit", "time", "samples", "bad", "uncertain", "out of range"].map((h) => el("th", {}, h))),
      ...signals.map((x) => el("tr", { "data-signal": x.name },
        el("td", {}, el("span", { class: `q-dot q-${x.quality || "none"}`, title: x.quality || "no data" })),
        el("td", {}, x.name), el("td", { class: "value" }, fmt(x.value)), el("td", {}, x.unit),
        el("td", {}, fmtTime(x.ts)), el("td", {}, String(x.count)), el("td", {}, String(x.bad)),
        el("td", {}, String(x.uncertain)), el("td", {}, String(x.out_of_range))))),
    el("h3", {}, "Alarms"),
    await alarmTable(mine, rerender),
    await controlSection(gid, rerender),
    completeness(edges.data.filter((e) => e.site === site), gaps.data));
  setStatus(`${asset.id} · refreshed ${new Date().toLocaleTimeString()}`);
}

function completeness(edges, gaps) {
  // Is the data complete? The site's edge (last seen, backlog) and the gaps it reported.
  const rows = edges.map((e) => {
    const hb = e.heartbeat || {};
    return el("tr", { "data-edge": e.edge_id },
      el("td", {}, e.edge_id), el("td", {}, e.online ? "online" : "offline"),
      el("td", {}, fmtTime(e.last_seen)), el("td", {}, String(hb.outbox_depth ?? "—")),
      el("td", {}, hb.oldest_unsent_s != null ? `${fmt(hb.oldest_unsent_s)} s` : "—"));
  });
  return el("section", { class: "completeness" },
    el("h3", {}, "Data completeness"),
    el("table", { class: "list" },
      el("tr", {}, ...["edge", "status", "last seen", "outbox depth", "backlog age"].map((h) => el("th", {}, h))),
      ...rows),
    gaps.length ? el("table", { class: "list gaps" },
      el("tr", {}, ...["gap from", "to", "signal", "message"].map((h) => el("th", {}, h))),
      ...gaps.map((g) => el("tr", { "data-seq": String(g.seq) },
        el("td", {}, fmtTime(g.start || g.ts)), el("td", {}, fmtTime(g.end)),
        el("td", {}, g.signal || "all"), el("td", {}, g.message))))
      : el("p", { class: "empty" }, "No data gaps reported."));
}
