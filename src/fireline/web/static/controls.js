// Controls: what is in force (with its scope), apply any kind with a confirmation, revert.
"use strict";

const KIND_HELP = {
  kill_switch: "Answer every request in scope with the fallback message; the model is not called.",
  model_pin: "Route requests in scope to this model version (a rollback).",
  prompt_pin: "Use this registered system-prompt version.",
  disable_tool: "Strip this tool from requests and refuse calls to it.",
  read_only: "Strip every write tool (the app keeps reading).",
  rate_limit: "At most N requests per minute for each user / tenant / session / API key.",
  budget: "At most N tokens or dollars per period for each API key / user / tenant / session.",
  guardrail_threshold: "Block or redact answers where these detectors fire at or above a severity.",
  block_pattern: "Refuse requests or answers matching an RE2 pattern.",
};
const KINDS_ORDER = Object.keys(KIND_HELP);

function paramFields(kind, registry, app) {
  const reg = (registry.apps || {})[app] || {};
  const models = reg.models || [];
  const prompts = (reg.prompts || []).map((p) => p.version);
  const tools = Object.keys(reg.tools || {});
  const keyChoice = (dflt) => field("Counted per", select("p_key", ["user", "tenant", "session", "key"], dflt));
  switch (kind) {
    case "kill_switch": return [field("Message", el("input", { name: "p_message", placeholder: reg.fallback || "the app's fallback" }))];
    case "model_pin": return [field("Model", models.length ? select("p_model", models, models[1] || models[0]) : el("input", { name: "p_model", required: true }))];
    case "prompt_pin": return [field("Prompt version", prompts.length ? select("p_version", prompts, prompts[1] || prompts[0]) : el("input", { name: "p_version", required: true }))];
    case "disable_tool": return [field("Tool", tools.length ? select("s_tool", tools, tools[0]) : el("input", { name: "s_tool", required: true }))];
    case "read_only": return [];
    case "rate_limit": return [field("Requests per minute", el("input", { name: "p_per_minute", type: "number", min: 1, value: 30, required: true })), keyChoice("user")];
    case "budget": return [field("Limit", el("input", { name: "p_limit", type: "number", min: 0, step: "any", value: 100000, required: true })),
      field("Of", select("p_unit", [["tokens", "tokens"], ["usd", "US dollars"]], "tokens")),
      field("Per", select("p_per", ["minute", "hour", "day"], "hour")), keyChoice("key")];
    case "guardrail_threshold": return [field("Detectors", el("input", { name: "p_detectors", placeholder: "pii, secrets (empty: all)" })),
      field("Action", select("p_action", ["block", "redact"], "block")), field("From severity", select("p_min_severity", SEVERITIES, "P2")),
      field("Min confidence", el("input", { name: "p_min_confidence", type: "number", min: 0, max: 1, step: 0.05, placeholder: "any", size: 6 }))];
    case "block_pattern": return [field("Pattern (RE2)", el("input", { name: "p_pattern", required: true, placeholder: "(?i)ignore previous instructions" })),
      field("On", select("p_on", ["input", "output"], "input"))];
    default: return [];
  }
}

function readParams(kind, f) {
  const v = (n) => (f[n] ? f[n].value.trim() : "");
  const scope = {}, params = {};
  for (const k of ["app", "tenant", "user", "model"]) if (v("s_" + k)) scope[k] = v("s_" + k);
  if (v("s_tool")) scope.tool = v("s_tool");
  if (kind === "kill_switch" && v("p_message")) params.message = v("p_message");
  if (kind === "model_pin") params.model = v("p_model");
  if (kind === "prompt_pin") params.version = v("p_version");
  if (kind === "rate_limit") { params.per_minute = Number(v("p_per_minute")); params.key = v("p_key"); }
  if (kind === "budget") { params[v("p_unit")] = Number(v("p_limit")); params.per = v("p_per"); params.key = v("p_key"); }
  if (kind === "guardrail_threshold") {
    params.action = v("p_action"); params.min_severity = v("p_min_severity");
    if (v("p_min_confidence")) params.min_confidence = Number(v("p_min_confidence"));
    if (v("p_detectors")) params.detectors = v("p_detectors").split(",").map((s) => s.trim()).filter(Boolean);
  }
  if (kind === "block_pattern") { params.pattern = v("p_pattern"); params.on = v("p_on"); }
  return { scope, params };
}

PAGES.controls = async (page, _, params) => {
  const showAll = params.get("all") === "true";
  const [data, registry] = await Promise.all([api("GET", "/api/v1/controls?" + qs({ all: showAll ? "true" : "" })),
    api("GET", "/api/v1/controls/registry")]);
  const apps = Object.keys(registry.apps || {});
  page.append(el("div", { class: "page-head" }, el("h2", {}, "Controls"),
    el("span", { class: "muted" }, `revision ${data.revision} · ${data.controls.filter((c) => c.active).length} in force`),
    el("a", { href: showAll ? "#/controls" : "#/controls?all=true", class: "button" }, showAll ? "Only in force" : "Show reverted and expired")));
  page.append(data.controls.length ? table(["Kind", "Scope", "Settings", "Incident", "By", "Since", "Expires", ""], data.controls.map((c) =>
    el("tr", { "data-id": c.id, class: c.active ? "" : "inactive" },
      el("td", {}, el("b", {}, words(c.kind)), el("div", { class: "muted small mono" }, c.id)),
      el("td", {}, scopeText(c.scope)),
      el("td", { class: "small" }, Object.entries(c.params || {}).filter(([k]) => k !== "output" && k !== "window_s").map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(",") : v}`).join(" · ") || "-"),
      el("td", {}, c.incident_id ? el("a", { href: "#/incidents/" + encodeURIComponent(c.incident_id), class: "mono small" }, c.incident_id) : "-"),
      el("td", {}, c.actor), el("td", {}, ago(c.created_at)), el("td", {}, c.expires_at ? when(c.expires_at) : "never"),
      el("td", {}, c.active && can("responder") ? el("button", { class: "revert", onclick: () => revertControl(c) }, "Revert…")
        : c.active ? "" : el("span", { class: "muted" }, c.reverted_by ? "reverted" : "expired")))), { class: "list", id: "controls" })
    : empty("No control in force: every app runs as configured."));
  if (!can("responder")) return;
  const kind = params.get("kind") || "kill_switch";
  const app = params.get("app") || apps[0] || "";
  const kindSel = select("kind", KINDS_ORDER, kind, { id: "control-kind", onchange: (ev) => go("#/controls?" + qs({ all: showAll ? "true" : "", kind: ev.target.value, app: form.elements.s_app.value })) });
  const appInput = apps.length ? select("s_app", [["", "every app"], ...apps], app, { onchange: (ev) => go("#/controls?" + qs({ kind, app: ev.target.value })) })
    : el("input", { name: "s_app", value: app });
  const form = el("form", { class: "stack", id: "apply-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    const { scope, params: p } = readParams(kind, f);
    const body = { kind, scope, params: p, reason: f.reason.value.trim() || null, incident_id: f.incident.value.trim() || null };
    if (f.expires.value) body.expires_at = new Date(Date.now() + Number(f.expires.value) * 60000).toISOString();
    const settings = Object.entries(p).map(([k, v]) => `${k} ${v}`).join(", ");
    const ok = await dialog(`Apply ${words(kind)}?`, [`Scope: ${scopeText(scope)}`, settings ? `Settings: ${settings}` : null,
      KIND_HELP[kind], body.expires_at ? `Expires ${when(body.expires_at)}.` : "No expiry: it stays until reverted."],
    { confirm: `Apply ${words(kind)}`, danger: true });
    if (!ok) return;
    const r = await act("applied", () => api("POST", "/api/v1/controls", body), { reload: false });
    if (r) { toast(`applied ${r.kind} ${r.id} at revision ${r.revision}`, "ok"); go("#/controls"); }
  } },
    el("div", { class: "row" }, field("Kind", kindSel), field("App", appInput),
      field("Tenant", el("input", { name: "s_tenant", placeholder: "all tenants", size: 12 })),
      field("User", el("input", { name: "s_user", placeholder: "all users", size: 12 })),
      kind === "model_pin" || kind === "kill_switch" ? field("Requests for model", el("input", { name: "s_model", placeholder: "any", size: 14 })) : null),
    el("p", { class: "muted" }, KIND_HELP[kind]),
    el("div", { class: "row" }, paramFields(kind, registry, app)),
    el("div", { class: "row" }, field("Reason", el("input", { name: "reason", size: 40, placeholder: "why, for the timeline" })),
      field("Incident", el("input", { name: "incident", placeholder: "INC-… (optional)", size: 30, value: params.get("incident") || "" })),
      field("Expires after (minutes)", el("input", { name: "expires", type: "number", min: 1, placeholder: "never", size: 8 }))),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "danger" }, "Apply…")));
  page.append(card("Apply a control", form));
};
