// Fireline console: one page over the HTTP API. Data is only ever inserted as text, never as HTML.
"use strict";

const state = { key: sessionStorage.getItem("fireline.key") || "" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick" || k === "onsubmit") node[k] = v;
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function toast(msg) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.style.display = "block";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.style.display = "none"), 4000);
}

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + state.key } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  if (resp.status === 401) { signOut(); throw new Error("key rejected"); }
  const data = resp.headers.get("content-type")?.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) throw new Error((data && data.detail) || resp.status + " " + resp.statusText);
  return data;
}

function signOut() {
  sessionStorage.removeItem("fireline.key");
  state.key = "";
  route();
}

function sev(s) { return el("span", { class: "sev " + s }, s); }
function when(t) { return t ? new Date(t).toLocaleString() : "-"; }
function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), el("tbody", {}, rows));
}

async function incidentsView(view) {
  const data = await api("GET", "/api/v1/incidents");
  view.append(el("h2", {}, "Incidents"));
  if (!data.incidents.length) view.append(el("p", { class: "muted" }, "No incidents. All quiet."));
  else view.append(table(["id", "severity", "type", "state", "title", "apps", "detected"],
    data.incidents.map((i) => el("tr", { class: "link", "data-id": i.id, onclick: () => (location.hash = "#/incidents/" + i.id) },
      el("td", {}, i.id), el("td", {}, sev(i.severity)), el("td", {}, i.type), el("td", { class: "state" }, i.state),
      el("td", {}, i.title), el("td", {}, (i.apps || []).join(", ")), el("td", {}, when(i.detected_at))))));
}

const MOVES = { detected: ["ack", "contain", "false-positive"], acknowledged: ["contain", "resolve"],
  contained: ["resolve"], resolved: ["close"] };

async function incidentView(view, id) {
  const [inc, tl, verify, blast, controls, snaps] = await Promise.all([
    api("GET", `/api/v1/incidents/${id}`), api("GET", `/api/v1/incidents/${id}/timeline`),
    api("GET", `/api/v1/incidents/${id}/verify`), api("GET", `/api/v1/incidents/${id}/blast-radius`).catch(() => null),
    api("GET", `/api/v1/controls?incident_id=${encodeURIComponent(id)}&all=true`).catch(() => ({ controls: [] })),
    api("GET", `/api/v1/incidents/${id}/snapshots`).catch(() => ({ snapshots: [] })),
  ]);
  const act = async (action) => {
    try { await api("POST", `/api/v1/incidents/${id}/${action}`, {}); toast(`${action}: done`); route(); }
    catch (e) { toast(`${action}: ${e.message}`); }
  };
  const playbook = async () => {
    try { const r = await api("POST", `/api/v1/incidents/${id}/playbook`, {}); toast(`applied ${r.controls.map((c) => c.kind).join(", ")}`); route(); }
    catch (e) { toast(`playbook: ${e.message}`); }
  };
  view.append(
    el("h2", {}, sev(inc.severity), " ", inc.id, " ", inc.title),
    el("p", { class: "muted" }, `${inc.type} · state ${inc.state} · commander ${inc.commander || "none"} · OWASP ${(inc.owasp || []).join(" ")} · ATLAS ${(inc.atlas || []).join(" ")}`),
    el("div", { class: "actions" },
      (MOVES[inc.state] || []).map((m) => el("button", { class: m === "contain" ? "danger" : "", "data-action": m, onclick: () => act(m) }, m)),
      ["detected", "acknowledged"].includes(inc.state) ? el("button", { class: "primary", onclick: playbook }, "apply playbook") : null),
  );
  if (blast) view.append(el("div", { class: "card grid" },
    ["users", "sessions", "tenants", "calls"].map((k) => el("div", { class: "metric" }, el("b", {}, blast[k]), el("span", {}, k))),
    el("div", { class: "metric" }, el("b", {}, blast.first_occurrence ? when(blast.first_occurrence) : "-"), el("span", {}, "first occurrence")),
    el("div", { class: "metric" }, el("b", {}, Object.entries(blast.pii || {}).map(([k, v]) => `${k} ${v}`).join(", ") || "none"), el("span", {}, "personal data"))));
  if ((inc.obligations || []).length) view.append(el("h3", {}, "Disclosure obligations"), table(["obligation", "deadline", "status"],
    inc.obligations.map((o) => el("tr", {}, el("td", {}, o.kind), el("td", {}, when(o.deadline)), el("td", { class: o.status === "overdue" ? "error" : "" }, o.status)))));
  view.append(el("h3", {}, "Controls"), controls.controls.length ? table(["id", "kind", "scope", "actor", "state"],
    controls.controls.map((c) => el("tr", {}, el("td", {}, c.id), el("td", {}, c.kind), el("td", {}, JSON.stringify(c.scope)),
      el("td", {}, c.actor), el("td", {}, c.reverted_at ? "reverted" : "active")))) : el("p", { class: "muted" }, "none"));
  view.append(el("h3", {}, "Evidence snapshots"), snaps.snapshots.length ? table(["id", "taken", "reason"],
    snaps.snapshots.map((s) => el("tr", {}, el("td", {}, String(s.id).slice(0, 24) + "…"), el("td", {}, when(s.taken_at || s.created_at)), el("td", {}, s.reason || "")))) : el("p", { class: "muted" }, "none"));
  view.append(el("h3", {}, "Timeline ", el("span", { class: verify.ok ? "ok" : "error", id: "verify" },
    verify.ok ? "✓ hash chain verified" : `✗ chain broken at ${JSON.stringify(verify.first_broken)}`)));
  const note = el("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    const text = ev.target.elements.note.value.trim();
    if (!text) return;
    try { await api("POST", `/api/v1/incidents/${id}/notes`, { text }); route(); } catch (e) { toast(e.message); }
  } }, el("input", { name: "note", placeholder: "add a note", size: 60 }), " ", el("button", { type: "submit" }, "note"));
  view.append(note, table(["#", "time", "actor", "kind", "data"], tl.entries.map((e) => el("tr", {},
    el("td", {}, e.seq), el("td", {}, when(e.at || e.time)), el("td", {}, e.actor), el("td", {}, e.kind),
    el("td", {}, el("pre", {}, JSON.stringify(e.data, null, 1)))))));
}

async function controlsView(view) {
  const data = await api("GET", "/api/v1/controls");
  view.append(el("h2", {}, "Active controls ", el("span", { class: "muted" }, `revision ${data.revision}`)));
  const revert = async (id) => {
    try { await api("DELETE", `/api/v1/controls/${id}`); toast(`reverted ${id}`); route(); } catch (e) { toast(e.message); }
  };
  view.append(data.controls.length ? table(["id", "kind", "scope", "params", "incident", "actor", "expires", ""],
    data.controls.map((c) => el("tr", {}, el("td", {}, c.id), el("td", {}, c.kind), el("td", {}, JSON.stringify(c.scope)),
      el("td", {}, JSON.stringify(c.params)), el("td", {}, c.incident_id || "-"), el("td", {}, c.actor), el("td", {}, when(c.expires_at)),
      el("td", {}, el("button", { onclick: () => revert(c.id) }, "revert"))))) : el("p", { class: "muted" }, "No control in force."));
  const form = el("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    try {
      const r = await api("POST", "/api/v1/controls", { kind: "kill_switch", scope: { app: f.app.value }, reason: f.reason.value || null });
      toast(`kill switch ${r.id} at revision ${r.revision}`); route();
    } catch (e) { toast(e.message); }
  } }, el("h3", {}, "Kill switch"), el("input", { name: "app", placeholder: "app", required: true }), " ",
    el("input", { name: "reason", placeholder: "reason", size: 40 }), " ", el("button", { class: "danger", type: "submit" }, "stop this app"));
  view.append(form);
}

async function callsView(view) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const form = el("form", { onsubmit: (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const k of ["app", "tenant", "user", "q"]) if (ev.target.elements[k].value) q.set(k, ev.target.elements[k].value);
    location.hash = "#/calls?" + q.toString();
  } }, ["app", "tenant", "user", "q"].map((k) => [el("input", { name: k, placeholder: k === "q" ? "text" : k, value: params.get(k) || "" }), " "]),
    el("button", { type: "submit" }, "search"));
  view.append(el("h2", {}, "Calls"), form);
  const data = await api("GET", "/api/v1/calls?" + params.toString());
  view.append(table(["id", "time", "app", "tenant", "model", "status", "findings", "output"], data.calls.map((c) =>
    el("tr", { class: "link", onclick: () => (location.hash = "#/call/" + encodeURIComponent(c.id)) }, el("td", {}, c.id), el("td", {}, when(c.started_at)),
      el("td", {}, c.app), el("td", {}, c.tenant || ""), el("td", {}, c.model || ""), el("td", {}, c.status),
      el("td", {}, c.findings.map((f) => `${f.detector}:${f.kind}`).join(" ")), el("td", {}, (c.output || "").slice(0, 80))))));
}

async function callView(view, id) {
  const c = await api("GET", `/api/v1/calls/${encodeURIComponent(id)}?raw=false`);
  const showRaw = async () => {
    const reason = prompt("Why do you need the raw content? (written to the access log)");
    if (reason === null) return;
    try {
      const raw = await api("GET", `/api/v1/calls/${encodeURIComponent(id)}?raw=true&reason=${encodeURIComponent(reason)}`);
      view.querySelector("pre.content").textContent = JSON.stringify({ input: raw.input, output: raw.output }, null, 2);
      toast("raw content shown; the read was logged");
    } catch (e) { toast(e.message); }
  };
  view.append(el("h2", {}, "Call ", c.id), el("p", { class: "muted" }, `${c.app} · ${c.tenant || "-"} · ${c.user_pseudonym || "-"} · ${c.model_resolved || c.model || "-"} · ${c.status}`),
    el("div", { class: "actions" }, el("button", { onclick: showRaw }, "show raw (responder)")),
    el("pre", { class: "content" }, JSON.stringify({ input: c.input, output: c.output }, null, 2)),
    el("h3", {}, "Findings"), table(["detector", "kind", "severity", "location", "evidence"], c.findings.map((f) =>
      el("tr", {}, el("td", {}, f.detector), el("td", {}, f.kind), el("td", {}, sev(f.severity)), el("td", {}, f.location), el("td", {}, f.evidence || "")))));
}

async function monitorsView(view) {
  const data = await api("GET", "/api/v1/monitors");
  view.append(el("h2", {}, "Monitors"), table(["name", "type", "severity", "groups"], data.monitors.map((m) => el("tr", {},
    el("td", {}, m.name), el("td", {}, m.type || m.definition?.type || ""), el("td", {}, m.severity || m.definition?.severity || ""),
    el("td", {}, el("pre", {}, JSON.stringify(m.groups || m.state || [], null, 1).slice(0, 600)))))));
}

async function route() {
  const login = document.getElementById("login");
  const view = document.getElementById("view");
  view.replaceChildren();
  if (!state.key) { login.hidden = false; document.getElementById("who").textContent = ""; return; }
  login.hidden = true;
  document.getElementById("who").replaceChildren(el("button", { onclick: signOut }, "sign out"));
  const hash = location.hash || "#/incidents";
  const [, name, arg] = hash.split("?")[0].split("/");
  for (const a of document.querySelectorAll("nav a[data-view]")) a.classList.toggle("active", a.dataset.view === name);
  const views = { incidents: arg ? (v) => incidentView(v, arg) : incidentsView, controls: controlsView, calls: callsView,
    call: (v) => callView(v, decodeURIComponent(arg)), monitors: monitorsView };
  try { await (views[name] || incidentsView)(view); }
  catch (e) { view.append(el("p", { class: "error" }, e.message)); }
}

document.getElementById("login-form").onsubmit = async (ev) => {
  ev.preventDefault();
  state.key = document.getElementById("key").value.trim();
  try {
    await api("GET", "/api/v1/incidents");
    sessionStorage.setItem("fireline.key", state.key);
    route();
  } catch (e) {
    document.getElementById("login-error").textContent = "That key was not accepted: " + e.message;
  }
};
window.addEventListener("hashchange", route);
route();
