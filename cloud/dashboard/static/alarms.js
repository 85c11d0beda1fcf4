// Alarms page (acknowledge, shelve, clear) and edges page (last seen, backlog, clock offset).
"use strict";

async function alarmsView(root, rerender) {
  const alarms = await api("/api/v1/alarms?limit=500");
  const active = alarms.data.filter((a) => a.active || !a.acknowledged);
  const rest = alarms.data.filter((a) => !(a.active || !a.acknowledged));
  root.replaceChildren(
    el("h2", {}, `Alarms needing attention (${active.length})`), await alarmTable(active, rerender),
    el("h2", {}, "Closed"), await alarmTable(rest, rerender));
  setStatus(`${alarms.count} alarms · refreshed ${new Date().toLocaleTimeString()}`);
}

async function edgesView(root) {
  const edges = await api("/api/v1/edges");
  root.replaceChildren(el("h2", {}, "Edges"),
    el("table", { class: "list edges" },
      el("tr", {}, ...["edge", "site", "status", "last seen", "outbox", "oldest unsent", "clock offset", "sources"].map((h) => el("th", {}, h))),
      ...edges.data.map((e) => {
        const hb = e.heartbeat || {};
        const status = e.revoked ? "revoked" : e.online ? "online" : "offline";
        return el("tr", { class: `edge ${status}`, "data-edge": e.edge_id },
          el("td", {}, e.edge_id), el("td", {}, e.site || "—"), el("td", { class: "state" }, status),
          el("td", {}, fmtTime(e.last_seen)), el("td", {}, hb.outbox_depth ?? "—"),
          el("td", {}, hb.oldest_unsent_s != null ? `${fmt(hb.oldest_unsent_s)} s` : "—"),
          el("td", {}, hb.clock_offset_s != null ? `${fmt(hb.clock_offset_s)} s` : "—"),
          el("td", {}, Object.entries(hb.sources || {}).map(([k, v]) => `${k}: ${v}`).join(", ")));
      })));
  setStatus(`${edges.count} edges · refreshed ${new Date().toLocaleTimeString()}`);
}
