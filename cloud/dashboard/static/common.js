// Egiz dashboard helpers: authenticated API calls, DOM building, number and time formats.
"use strict";

const egiz = { pollMs: 2000 };

function authHeaders() {
  // The login page stores the bearer token here; every API call needs it.
  const token = localStorage.getItem("egiz.token");
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function toLogin() {
  localStorage.removeItem("egiz.token");
  const next = location.pathname + location.hash;
  location.assign(`/dashboard/login.html?next=${encodeURIComponent(next)}`);
}

async function api(path, options = {}) {
  const headers = { ...authHeaders(), ...(options.body ? { "Content-Type": "application/json" } : {}) };
  const resp = await fetch(path, { ...options, headers });
  if (resp.status === 401) {
    toLogin();
    throw new Error("not logged in");
  }
  const body = resp.status === 204 ? null : await resp.json();
  if (!resp.ok) throw new Error((body && body.detail && String(body.detail)) || `HTTP ${resp.status}`);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("data-") || k === "href" || k === "title") node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(c));
  }
  return node;
}

function fmt(value) {
  if (value === null || value === undefined) return "—";
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e5 || abs < 1e-2)) return value.toExponential(3);
  return value.toFixed(abs >= 100 ? 1 : 2);
}

function fmtTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

function setStatus(text, error = false) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

function healthClass(health, alarms) {
  if (alarms > 0 || (health !== null && health !== undefined && health < 50)) return "h-bad";
  if (health !== null && health !== undefined && health < 80) return "h-warn";
  return health === null || health === undefined ? "h-none" : "h-good";
}
