// Egiz dashboard: hash routes (#/, #/asset/<id>, #/alarms, #/edges); live by SSE, plus polling.
"use strict";

let timer = null;

let rendering = null; // the render in progress, if any
let renderAgain = false; // a render was asked for while one was in progress

async function render() {
  // One render at a time, and the newest request always honoured: overlapping renders could
  // finish out of order, putting an older page (and older form values) over a newer one.
  if (rendering) {
    renderAgain = true;
    return rendering;
  }
  const view = document.getElementById("view");
  view.dataset.rendering = "1"; // lets a browser test wait for a settled page
  rendering = (async () => {
    do {
      renderAgain = false;
      await renderOnce(view);
    } while (renderAgain);
  })();
  try {
    await rendering;
  } finally {
    rendering = null;
    delete view.dataset.rendering;
  }
}

async function renderOnce(root) {
  clearTimeout(timer);
  const hash = location.hash.replace(/^#/, "") || "/";
  const [, page, arg] = hash.split("/");
  document.querySelectorAll("nav a").forEach((a) =>
    a.classList.toggle("current", a.dataset.nav === (page || "fleet")));
  try {
    if (page === "asset") await assetView(root, decodeURIComponent(arg), render);
    else if (page === "alarms") await alarmsView(root, render);
    else if (page === "edges") await edgesView(root);
    else await fleetView(root);
  } catch (err) {
    setStatus(`cannot reach the cloud API: ${err.message}`, true);
  }
  timer = setTimeout(refreshLater, egiz.pollMs);
}

function refreshLater() {
  // What the user is working with (an open select, a field being typed in, a drag on the
  // chart) is not re-rendered.
  if (egiz.busy || ["SELECT", "INPUT", "TEXTAREA"].includes(document.activeElement?.tagName)) {
    timer = setTimeout(refreshLater, egiz.pollMs);
    return;
  }
  render();
}

function listen() {
  // Server-Sent Events say that new data was stored; the page then re-reads the API.
  const token = encodeURIComponent(localStorage.getItem("egiz.token") || "");
  const source = new EventSource(`/api/v1/stream?access_token=${token}`);
  source.addEventListener("change", () => {
    clearTimeout(timer);
    timer = setTimeout(refreshLater, 50); // coalesce bursts of batches into one refresh
  });
  // On errors EventSource reconnects by itself; polling covers the gap.
}

async function logout() {
  await fetch("/api/v1/auth/logout", { method: "POST", headers: authHeaders() }).catch(() => {});
  toLogin();
}

async function start() {
  if (!localStorage.getItem("egiz.token")) return toLogin();
  document.getElementById("user").textContent = localStorage.getItem("egiz.user") || "";
  document.getElementById("logout").addEventListener("click", logout);
  try {
    const resp = await fetch("/dashboard/settings.json");
    if (resp.ok) egiz.pollMs = (await resp.json()).poll_ms || egiz.pollMs;
  } catch (_) { /* defaults are fine */ }
  window.addEventListener("hashchange", render);
  listen();
  render();
}

start();
