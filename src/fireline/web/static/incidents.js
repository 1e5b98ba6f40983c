// Incidents: the list with its filters, and declaring one.
"use strict";

const STATES = ["detected", "acknowledged", "contained", "resolved", "closed", "false_positive"];
const SEVERITIES = ["P0", "P1", "P2", "P3"];
let TYPES_CACHE = null;
async function incidentTypes() {
  if (!TYPES_CACHE) TYPES_CACHE = (await api("GET", "/api/v1/incident-types")).types;
  return TYPES_CACHE;
}

PAGES.incidents = async (page, id, params) => {
  if (id) return PAGES.incident(page, id, params);
  const types = await incidentTypes();
  const filters = { state: params.get("state") || "", severity: params.get("severity") || "",
    type: params.get("type") || "", app: params.get("app") || "", drill: params.get("drill") || "" };
  const query = { ...filters, limit: 200 };
  const data = await api("GET", "/api/v1/incidents?" + qs(query));
  let rows = data.incidents;
  // the server filters drills where it knows them; older servers: tell them apart by the flag if present
  if (filters.drill === "true") rows = rows.filter((i) => i.drill === true);
  if (filters.drill === "false") rows = rows.filter((i) => !i.drill);
  const form = el("form", { class: "filters", id: "incident-filters", onsubmit: (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    go("#/incidents?" + qs({ state: f.state.value, severity: f.severity.value, type: f.type.value, app: f.app.value,
      drill: f.drill.value }));
  } },
    field("State", select("state", [["", "any state"], ...STATES], filters.state)),
    field("Severity", select("severity", [["", "any"], ...SEVERITIES], filters.severity)),
    field("Type", select("type", [["", "any type"], ...types.map((t) => t.name)], filters.type)),
    field("App", el("input", { name: "app", value: filters.app, placeholder: "any app", size: 14 })),
    field("Drills", select("drill", [["", "real and drills"], ["false", "real only"], ["true", "drills only"]], filters.drill)),
    el("button", { type: "submit", class: "primary" }, "Filter"),
    el("a", { href: "#/incidents", class: "button" }, "Clear"));
  const open = rows.filter((i) => !["resolved", "closed", "false_positive"].includes(i.state));
  page.append(el("div", { class: "page-head" },
    el("h2", {}, "Incidents"),
    el("span", { class: "muted" }, `${open.length} open · ${rows.length} shown`),
    can("responder") ? el("a", { href: "#/declare", class: "button danger", id: "declare-link" }, "Declare an incident") : null),
    form);
  if (!rows.length) { page.append(empty("No incident matches. All quiet.")); return; }
  page.append(table(["", "Incident", "State", "Type", "Apps", "Detected", "Contained in"], rows.map((i) =>
    el("tr", { class: "link", "data-id": i.id, onclick: () => go("#/incidents/" + encodeURIComponent(i.id)) },
      el("td", {}, sev(i.severity)),
      el("td", {}, el("div", { class: "title" }, i.title), el("div", { class: "muted mono" }, i.id, " ", i.drill ? badge("drill", "drill") : null)),
      el("td", {}, stateBadge(i.state)),
      el("td", {}, words(i.type)),
      el("td", {}, (i.apps || []).join(", ")),
      el("td", {}, el("div", {}, ago(i.detected_at)), el("div", { class: "muted" }, when(i.detected_at))),
      el("td", {}, i.metrics && i.metrics.time_to_contain_s !== null ? dur(i.metrics.time_to_contain_s) : "-"))),
  { class: "list", id: "incidents" }));
};

PAGES.declare = async (page) => {
  const types = await incidentTypes();
  const splitList = (v) => v.split(",").map((s) => s.trim()).filter(Boolean);
  const form = el("form", { class: "stack", id: "declare-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    const body = { title: f.title.value, type: f.type.value, apps: splitList(f.apps.value),
      tenants: splitList(f.tenants.value), models: splitList(f.models.value), call_ids: splitList(f.calls.value) };
    if (f.severity.value) body.severity = f.severity.value;
    if (f.summary.value.trim()) body.summary = f.summary.value.trim();
    if (f.drill.checked) body.drill = true;
    const inc = await act("declared", () => api("POST", "/api/v1/incidents", body), { reload: false });
    if (inc) go("#/incidents/" + encodeURIComponent(inc.id));
  } },
    field("Title", el("input", { name: "title", required: true, maxlength: 500, placeholder: "What users see going wrong" })),
    el("div", { class: "row" },
      field("Type", select("type", types.map((t) => [t.name, `${words(t.name)} (default ${t.severity})`]), "data_leakage")),
      field("Severity", select("severity", [["", "from the triage matrix"], ...SEVERITIES], ""))),
    el("div", { class: "row" },
      field("Apps", el("input", { name: "apps", placeholder: "support-bot" }), "comma-separated"),
      field("Tenants", el("input", { name: "tenants", placeholder: "all" })),
      field("Models", el("input", { name: "models", placeholder: "all" }))),
    field("Calls to link", el("input", { name: "calls", placeholder: "call ids, comma-separated" })),
    field("Summary", el("textarea", { name: "summary", rows: 3 })),
    el("label", { class: "check" }, el("input", { type: "checkbox", name: "drill" }), " This is a drill (kept apart from real incidents)"),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "danger" }, "Declare")));
  page.append(el("h2", {}, "Declare an incident"),
    el("p", { class: "muted" }, "You become its commander; it starts acknowledged, with its SLA clocks running."),
    card(null, form));
};
