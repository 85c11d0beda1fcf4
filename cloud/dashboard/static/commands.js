// Asset page, control: issue commands, approve (second person), follow their state machine
// (awaiting_approval → pending → delivered → accepted/rejected → executed/failed, expired,
// unknown) with reasons; record maintenance, whose reset rides down as a command too.
"use strict";

// What the operator is typing survives the page's live re-renders (SSE and polling).
const controlForm = { action: "set_setpoint", setpoint: "", value: "", reason: "", expires: "300",
  mAction: "bearing_replaced", mNote: "", mReset: true, error: "" };

function keep(id, key, input) {
  // Typed into an input a re-render has just replaced: the page shows the live copy, so it
  // gets the value too (else the form would submit, or refuse, what is no longer on screen).
  controlForm[key] = input.value;
  const live = document.getElementById(id);
  if (live && live !== input) live.value = input.value;
}

function field(id, attrs, key) {
  const input = el("input", { id, ...attrs, value: controlForm[key] });
  input.addEventListener("input", () => keep(id, key, input));
  return input;
}

function choice(id, options, key, onChange) {
  const s = el("select", { id },
    ...options.map(([v, label]) => el("option", { value: v, selected: v === controlForm[key] }, label)));
  s.addEventListener("change", () => { keep(id, key, s); if (onChange) onChange(); });
  return s;
}

async function submit(what, fn, rerender, clear = []) {
  try {
    await fn();
    controlForm.error = "";
    for (const key of clear) controlForm[key] = key === "expires" ? "300" : "";
    setStatus(`${what}: done`);
  } catch (err) {
    // The cloud's reason (out of limits, precondition, role, approval) stays on the page.
    controlForm.error = `${what} refused: ${err.message}`;
    setStatus(controlForm.error, true);
  }
  rerender();
}

function commandForm(gid, ctl, rerender) {
  const actions = [...(ctl.setpoints.length ? [["set_setpoint", "set setpoint"]] : []),
    ...ctl.actions.map((a) => [a.name, a.critical ? `${a.name} (needs 2nd approval)` : a.name])];
  if (!actions.length) return el("p", { class: "empty" }, "This asset type has no setpoints or commands.");
  if (!actions.some(([v]) => v === controlForm.action)) controlForm.action = actions[0][0];
  const sp = ctl.setpoints;
  if (!sp.some((s) => s.name === controlForm.setpoint)) controlForm.setpoint = sp.length ? sp[0].name : "";
  const spec = sp.find((s) => s.name === controlForm.setpoint);
  const isSetpoint = controlForm.action === "set_setpoint";
  const send = () => {
    const body = { action: controlForm.action, reason: controlForm.reason,
      expires_in_s: Number(controlForm.expires) || 300 };
    if (isSetpoint) Object.assign(body, { setpoint: controlForm.setpoint, value: Number(controlForm.value) });
    return submit(`command ${controlForm.action}`, () => api(`/api/v1/assets/${encodeURIComponent(gid)}/commands`,
      { method: "POST", body: JSON.stringify(body) }), rerender, ["reason", "expires"]);
  };
  return el("form", { class: "command-form", onsubmit: (e) => { e.preventDefault(); send(); } },
    choice("cmd-action", actions, "action", rerender),
    isSetpoint ? choice("cmd-setpoint", sp.map((s) => [s.name, s.name]), "setpoint", rerender) : null,
    isSetpoint ? field("cmd-value", { type: "number", step: "any", required: true, placeholder: "value" }, "value") : null,
    isSetpoint && spec ? el("span", { class: "meta limits" },
      `${spec.unit} · ${fmt(spec.min)} … ${fmt(spec.max)}` + (spec.max_step ? ` · step ≤ ${fmt(spec.max_step)}` : "")) : null,
    field("cmd-reason", { placeholder: "reason (kept in the ledger)", maxLength: 500 }, "reason"),
    el("label", { class: "meta" }, "expires in ",
      field("cmd-expires", { type: "number", min: "1", max: "86400", class: "short" }, "expires"), " s"),
    el("button", { id: "cmd-send", type: "submit" }, "Issue"));
}

function commandRow(c, ctl, me, rerender) {
  const what = c.action === "set_setpoint" ? `${c.setpoint} → ${c.value}`
    : c.action === "reset_baseline" ? `reset ${c.value}` : c.action;
  const approve = c.state === "awaiting_approval" && ctl.can_issue && c.issuer !== me
    ? el("button", { class: "approve", onclick: () => submit("approve",
      () => api(`/api/v1/commands/${c.id}/approve`, { method: "POST" }), rerender) }, "Approve")
    : null;
  const trail = (c.history || []).map((h) => h.state.replace("_", " ")).join(" → ");
  return el("tr", { class: `command st-${c.state}`, "data-command": c.id },
    el("td", {}, fmtTime(c.issued_at)),
    el("td", { class: "what" }, what),
    el("td", {}, c.issuer + (c.approved_by ? ` · approved by ${c.approved_by}` : "")),
    el("td", { class: "state" }, el("span", { class: `cstate cs-${c.state}`, title: trail }, c.state.replace("_", " "))),
    el("td", { class: "reason" }, c.reason || ""),
    el("td", {}, fmtTime(c.updated_at)),
    el("td", { class: "actions" }, approve));
}

function maintenanceForm(gid, rerender) {
  const send = () => submit("maintenance", () => api(`/api/v1/assets/${encodeURIComponent(gid)}/maintenance`, {
    method: "POST",
    body: JSON.stringify({ action: controlForm.mAction, note: controlForm.mNote,
      resets: controlForm.mReset ? ["health_baseline"] : [] }),
  }), rerender, ["mNote"]);
  const reset = el("input", { id: "mnt-reset", type: "checkbox", checked: controlForm.mReset });
  reset.addEventListener("change", () => { controlForm.mReset = reset.checked; });
  return el("form", { class: "command-form", onsubmit: (e) => { e.preventDefault(); send(); } },
    choice("mnt-action", [["bearing_replaced", "bearing replaced"], ["recalibration", "recalibration"],
      ["seal_replaced", "seal replaced"], ["inspection", "inspection"]], "mAction"),
    field("mnt-note", { placeholder: "note", maxLength: 2000 }, "mNote"),
    el("label", { class: "meta" }, reset, " reset the health baseline"),
    el("button", { id: "mnt-send", type: "submit" }, "Record"));
}

async function controlSection(gid, rerender) {
  const path = `/api/v1/assets/${encodeURIComponent(gid)}`;
  const [ctl, mnt] = await Promise.all([api(`${path}/commands`), api(`${path}/maintenance`)]);
  const me = localStorage.getItem("egiz.user") || "";
  return el("section", { class: "control" },
    el("h3", {}, "Commands"),
    ctl.can_issue ? commandForm(gid, ctl, rerender)
      : el("p", { class: "empty" }, "Issuing commands needs the operator or admin role on this site."),
    el("p", { id: "command-error", class: "error", role: "alert" }, controlForm.error),
    ctl.data.length ? el("table", { class: "list commands" },
      el("tr", {}, ...["issued", "command", "by", "state", "reason", "updated", ""].map((h) => el("th", {}, h))),
      ...ctl.data.map((c) => commandRow(c, ctl, me, rerender)))
      : el("p", { class: "empty" }, "No commands."),
    el("h3", {}, "Maintenance"),
    mnt.can_record ? maintenanceForm(gid, rerender) : null,
    mnt.data.length ? el("table", { class: "list maintenance" },
      el("tr", {}, ...["when", "action", "by", "note", "resets"].map((h) => el("th", {}, h))),
      ...mnt.data.map((m) => el("tr", { "data-maintenance": m.id },
        el("td", {}, fmtTime(m.ts)), el("td", {}, m.action.replace("_", " ")), el("td", {}, m.by),
        el("td", {}, m.note), el("td", { class: "resets" }, m.resets.join(", ") || "—",
          m.reset_state ? el("span", { class: `cstate cs-${m.reset_state}` }, m.reset_state.replace("_", " ")) : null))))
      : el("p", { class: "empty" }, "No maintenance recorded."));
}
