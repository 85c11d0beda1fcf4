// Egiz fleet page: polls /api/v1/assets?latest=true and renders assets by site and area.
"use strict";

const state = { pollMs: 2000, timer: null };

function authHeaders() {
  // The login page stores the bearer token here; every API call needs it.
  const token = localStorage.getItem("egiz.token");
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function toLogin() {
  localStorage.removeItem("egiz.token");
  location.assign(`/dashboard/login.html?next=${encodeURIComponent(location.pathname)}`);
}

async function logout() {
  await fetch("/api/v1/auth/logout", { method: "POST", headers: authHeaders() }).catch(() => {});
  toLogin();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c));
  return node;
}

function fmt(value) {
  if (value === null || value === undefined) return "—";
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e5 || abs < 1e-2)) return value.toExponential(3);
  return value.toFixed(abs >= 100 ? 1 : 2);
}

function signalRow(asset, s) {
  const when = s.ts ? new Date(s.ts).toLocaleTimeString() : "";
  return el("tr", { "data-signal": s.name },
    el("td", { class: "q", title: s.quality || "no data" },
      el("span", { class: `q-dot q-${s.quality || "none"}` })),
    el("td", { class: "name", title: when }, s.name),
    el("td", { class: "value", "data-asset": asset.id, "data-signal": s.name }, fmt(s.value)),
    el("td", { class: "unit" }, s.unit));
}

function card(asset) {
  const table = el("table", {}, ...(asset.signals || []).map((s) => signalRow(asset, s)));
  const updated = asset.updated ? `updated ${new Date(asset.updated).toLocaleTimeString()}` : "no data";
  return el("article", { class: "card", "data-asset": asset.id },
    el("h4", {}, asset.name || asset.asset),
    el("div", { class: "meta" }, `${asset.id} · ${asset.type} · ${updated}`),
    table);
}

function render(assets) {
  const fleet = document.getElementById("fleet");
  document.getElementById("empty").hidden = assets.length > 0;
  const sites = new Map();
  for (const a of assets) {
    if (!sites.has(a.site)) sites.set(a.site, new Map());
    const areas = sites.get(a.site);
    if (!areas.has(a.area)) areas.set(a.area, []);
    areas.get(a.area).push(a);
  }
  const sections = [];
  for (const [site, areas] of sites) {
    const sec = el("section", { class: "site", "data-site": site }, el("h2", {}, site));
    for (const [area, list] of areas) {
      sec.append(el("section", { class: "area", "data-area": area },
        el("h3", {}, area), el("div", { class: "cards" }, ...list.map(card))));
    }
    sections.push(sec);
  }
  fleet.querySelectorAll("section.site").forEach((n) => n.remove());
  fleet.append(...sections);
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const resp = await fetch("/api/v1/assets?latest=true", { headers: authHeaders() });
    if (resp.status === 401) return toLogin();
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const body = await resp.json();
    render(body.data);
    status.textContent = `${body.count} assets · refreshed ${new Date().toLocaleTimeString()}`;
    status.classList.remove("error");
  } catch (err) {
    status.textContent = `cannot reach the cloud API: ${err.message}`;
    status.classList.add("error");
  } finally {
    state.timer = setTimeout(refresh, state.pollMs);
  }
}

async function start() {
  if (!localStorage.getItem("egiz.token")) return toLogin();
  document.getElementById("user").textContent = localStorage.getItem("egiz.user") || "";
  document.getElementById("logout").addEventListener("click", logout);
  try {
    const resp = await fetch("/dashboard/settings.json");
    if (resp.ok) state.pollMs = (await resp.json()).poll_ms || state.pollMs;
  } catch (_) { /* defaults are fine */ }
  refresh();
}

start();
