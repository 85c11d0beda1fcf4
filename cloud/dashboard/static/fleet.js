// Fleet page: ranking (worst RUL first, health colours, alarm counts) and assets by site/area.
"use strict";

function signalRow(asset, s) {
  return el("tr", { "data-signal": s.name },
    el("td", { class: "q", title: s.quality || "no data" },
      el("span", { class: `q-dot q-${s.quality || "none"}` })),
    el("td", { class: "name", title: s.ts ? new Date(s.ts).toLocaleString() : "" }, s.name),
    el("td", { class: "value", "data-asset": asset.id, "data-signal": s.name }, fmt(s.value)),
    el("td", { class: "unit" }, s.unit));
}

function assetCard(asset, rank) {
  const r = rank.get(asset.id) || {};
  const updated = asset.updated ? `updated ${new Date(asset.updated).toLocaleTimeString()}` : "no data";
  return el("article", { class: `card ${healthClass(r.health, r.active_alarms || 0)}`, "data-asset": asset.id },
    el("h4", {}, el("a", { href: `#/asset/${asset.id}` }, asset.name || asset.asset),
      r.active_alarms ? el("span", { class: "badge", title: "active alarms" }, String(r.active_alarms)) : null),
    el("div", { class: "meta" }, `${asset.id} · ${asset.type} · ${updated}`),
    el("table", {}, ...(asset.signals || []).map((s) => signalRow(asset, s))));
}

function rankingTable(ranking) {
  const rows = ranking.filter((r) => r.rul !== null || r.health !== null || r.active_alarms > 0);
  if (!rows.length) return null;
  return el("section", { class: "ranking" }, el("h2", {}, "Needs attention first"),
    el("table", { class: "list" },
      el("tr", {}, ...["asset", "health", "RUL", "interval", "alarms", "model"].map((h) => el("th", {}, h))),
      ...rows.slice(0, 10).map((r) => el("tr", { class: healthClass(r.health, r.active_alarms) },
        el("td", {}, el("a", { href: `#/asset/${r.id}` }, r.id)),
        el("td", {}, fmt(r.health)),
        el("td", {}, r.rul === null ? "—" : `${fmt(r.rul)} ${r.rul_unit || ""}`),
        el("td", {}, r.rul === null ? "" : `${fmt(r.rul_low)} … ${fmt(r.rul_high)}`),
        el("td", {}, String(r.active_alarms)),
        el("td", {}, r.model ? `${r.model} ${r.version}` : "")))));
}

async function fleetView(root) {
  const [assets, ranking] = await Promise.all([
    api("/api/v1/assets?latest=true"), api("/api/v1/fleet/health?limit=1000"),
  ]);
  const rank = new Map(ranking.data.map((r) => [r.id, r]));
  const sites = new Map();
  for (const a of assets.data) {
    if (!sites.has(a.site)) sites.set(a.site, new Map());
    const areas = sites.get(a.site);
    if (!areas.has(a.area)) areas.set(a.area, []);
    areas.get(a.area).push(a);
  }
  const parts = [rankingTable(ranking.data)];
  if (!assets.data.length) {
    parts.push(el("p", { class: "empty" },
      "No assets yet: an edge registers its site with its first uplink (its manifest)."));
  }
  for (const [site, areas] of sites) {
    const sec = el("section", { class: "site", "data-site": site }, el("h2", {}, site));
    for (const [area, list] of areas) {
      sec.append(el("section", { class: "area", "data-area": area },
        el("h3", {}, area), el("div", { class: "cards" }, ...list.map((a) => assetCard(a, rank)))));
    }
    parts.push(sec);
  }
  root.replaceChildren(...parts.filter(Boolean));
  setStatus(`${assets.count} assets · refreshed ${new Date().toLocaleTimeString()}`);
}
