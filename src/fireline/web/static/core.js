// Fireline console, core: DOM helpers, the API client, formatting, dialogs, the router.
// Data only ever enters the page as text (text nodes, textContent, input values), never as HTML.
"use strict";

const state = { key: sessionStorage.getItem("fireline.key") || "", role: null, keyId: null };
const RANK = { ingest: 0, viewer: 1, responder: 2, admin: 3 };
const PAGES = {};
const TICKERS = new Set();
const AFTER = [];

// Work that needs the page on screen (charts measure their width): runs once the page is shown.
function later(fn) { AFTER.push(fn); }

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "value") node.value = v;
    else if (k === "checked") node.checked = !!v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function can(role) { return (RANK[state.role] ?? -1) >= RANK[role]; }

function toast(msg, kind = "info") {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.className = "show " + kind;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.className = ""), 5000);
}

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(method, path, body, opts = {}) {
  const init = { method, headers: { Authorization: "Bearer " + state.key } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (resp.status === 401) { signOut(); throw new ApiError(401, "key rejected"); }
  if (opts.blob && resp.ok) return resp;
  const ctype = resp.headers.get("content-type") || "";
  const data = ctype.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) throw new ApiError(resp.status, (data && data.detail) || `${resp.status} ${resp.statusText}`);
  return data;
}

function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
  return q.toString();
}

// ---- formatting ----
function when(t) { return t ? new Date(t).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" }) : "-"; }
function clock(t) { return t ? new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "-"; }
function dur(seconds) {
  if (seconds === null || seconds === undefined || isNaN(seconds)) return "-";
  const s = Math.abs(seconds);
  if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  if (d) return `${d}d ${h}h ${String(m).padStart(2, "0")}m`;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  return `${m}m ${String(sec).padStart(2, "0")}s`;
}
function ago(t) { return t ? dur((Date.now() - new Date(t)) / 1000) + " ago" : "-"; }
function pct(x, digits = 0) { return x === null || x === undefined ? "-" : (x * 100).toFixed(digits) + "%"; }
function num(x) { return x === null || x === undefined ? "-" : Math.abs(x) >= 100 ? x.toFixed(0) : +x.toPrecision(3) + ""; }
function words(s) { return String(s || "").replaceAll("_", " "); }

// A countdown that updates itself every second: "due in 1h 04m" / "overdue by 3m 10s" / "met".
function countdown(deadline, doneAt = null, doneLabel = "met") {
  const span = el("span", { class: "clock" });
  const tick = () => {
    if (!span.isConnected) { TICKERS.delete(tick); return; }
    if (doneAt) {
      span.textContent = `${doneLabel} ${when(doneAt)}`;
      span.className = "clock done";
      return;
    }
    const left = (new Date(deadline) - Date.now()) / 1000;
    span.textContent = left >= 0 ? `due in ${dur(left)}` : `overdue by ${dur(-left)}`;
    span.className = "clock " + (left < 0 ? "overdue" : left < 600 ? "soon" : "ok");
  };
  tick();
  TICKERS.add(tick);
  return span;
}
setInterval(() => { for (const t of [...TICKERS]) t(); }, 1000);

function sev(s) { return el("span", { class: `sev ${s}` }, s); }
function badge(text, cls = "") { return el("span", { class: `badge ${cls}` }, words(text)); }
function stateBadge(s) { return badge(s, "state-" + s); }

function table(headers, rows, attrs = {}) {
  return el("table", attrs, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), el("tbody", {}, rows));
}
function card(title, ...children) {
  return el("section", { class: "card" }, title ? el("h3", {}, title) : null, children);
}
function empty(text) { return el("p", { class: "muted" }, text); }
function field(label, input, hint) {
  return el("label", { class: "field" }, el("span", {}, label), input, hint ? el("small", { class: "muted" }, hint) : null);
}
function select(name, options, value, attrs = {}) {
  return el("select", { name, ...attrs }, options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, words(o)];
    return el("option", { value: v, selected: v === value }, label);
  }));
}

// A modal: title, text lines (shown as text), optional form fields; resolves with the values or null.
function dialog(title, lines, { confirm = "Confirm", danger = false, fields = [] } = {}) {
  return new Promise((resolve) => {
    const form = el("form", { method: "dialog", class: "dialog-form" },
      el("h3", {}, title),
      [lines].flat().filter(Boolean).map((l) => el("p", {}, l)),
      fields,
      el("div", { class: "actions" },
        el("button", { type: "button", value: "cancel", "data-role": "cancel" }, "Cancel"),
        el("button", { type: "submit", class: danger ? "danger" : "primary", "data-role": "confirm" }, confirm)));
    const dlg = el("dialog", { class: "modal" }, form);
    document.body.append(dlg);
    const close = (value) => { dlg.close(); dlg.remove(); resolve(value); };
    form.querySelector("[data-role=cancel]").addEventListener("click", () => close(null));
    dlg.addEventListener("cancel", (ev) => { ev.preventDefault(); close(null); });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      const values = {};
      for (const input of form.querySelectorAll("[name]")) values[input.name] = input.type === "checkbox" ? input.checked : input.value;
      close(values);
    });
    dlg.showModal();
  });
}

// Runs an action, reports it, re-renders the page. Errors are shown, never thrown at the page.
async function act(label, fn, { reload = true } = {}) {
  try {
    const result = await fn();
    toast(label, "ok");
    if (reload) await route();
    return result;
  } catch (e) {
    toast(`${label.split(":")[0]} failed: ${e.message}`, "error");
    return null;
  }
}

async function download(path, filename) {
  const resp = await api("GET", path, undefined, { blob: true });
  const blob = await resp.blob();
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
  return blob.size;
}

// ---- session and router ----
function signOut() {
  sessionStorage.removeItem("fireline.key");
  state.key = ""; state.role = null;
  route();
}

function parseHash() {
  const hash = location.hash || "#/incidents";
  const [path, query] = hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || "incidents", arg: parts[1] || null, params: new URLSearchParams(query || "") };
}

let routing = 0;
async function route() {
  const login = document.getElementById("login");
  const view = document.getElementById("view");
  const mine = ++routing;
  if (!state.key) {
    view.replaceChildren();
    login.hidden = false;
    document.getElementById("who").replaceChildren();
    return;
  }
  login.hidden = true;
  if (!state.role) {
    try {
      const me = await api("GET", "/api/v1/keys/me");
      state.role = me.role; state.keyId = me.id;
    } catch (e) { return; }
  }
  document.getElementById("who").replaceChildren(
    el("span", { class: "muted" }, `${state.keyId} · ${state.role}`), " ",
    el("button", { class: "link", onclick: signOut }, "sign out"));
  const { name, arg, params } = parseHash();
  for (const a of document.querySelectorAll("nav a[data-view]")) a.classList.toggle("active", a.dataset.view === name);
  const page = el("div", { class: "page", "data-page": name });
  try {
    await (PAGES[name] || PAGES.incidents)(page, arg, params);
  } catch (e) {
    page.append(el("p", { class: "error" }, e.message));
  }
  const jobs = AFTER.splice(0);
  if (mine !== routing) return;
  view.replaceChildren(page);
  for (const fn of jobs) {
    try { fn(); } catch (e) { console.warn("chart:", e.message); }
  }
  document.body.dataset.ready = name;
}

function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = document.getElementById("key").value.trim();
    const resp = await fetch("/api/v1/keys/me", { headers: { Authorization: "Bearer " + key } });
    if (!resp.ok) {
      document.getElementById("login-error").textContent = "That key was not accepted (" + resp.status + ").";
      return;
    }
    const me = await resp.json();
    state.key = key; state.role = me.role; state.keyId = me.id;
    sessionStorage.setItem("fireline.key", key);
    document.getElementById("login-error").textContent = "";
    route();
  });
  window.addEventListener("hashchange", route);
  route();
});
