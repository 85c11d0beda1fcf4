// Egiz login: exchanges username and password for a bearer token kept in localStorage.
"use strict";

document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const error = document.getElementById("error");
  error.hidden = true;
  const body = {
    username: document.getElementById("username").value,
    password: document.getElementById("password").value,
  };
  try {
    const resp = await fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await resp.json();
    if (!resp.ok) throw new Error(data.detail || `HTTP ${resp.status}`);
    localStorage.setItem("egiz.token", data.access_token);
    localStorage.setItem("egiz.user", data.username);
    const next = new URLSearchParams(location.search).get("next") || "/dashboard/";
    location.assign(next.startsWith("/") ? next : "/dashboard/");
  } catch (err) {
    error.textContent = typeof err.message === "string" ? err.message : "login failed";
    error.hidden = false;
  }
});
