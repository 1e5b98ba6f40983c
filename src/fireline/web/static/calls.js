// The calls explorer: filters, pages, one call redacted (raw on request, with a reason, access-logged).
"use strict";

const CALL_FILTERS = [["app", "App"], ["tenant", "Tenant"], ["user", "User (raw id)"], ["session", "Session"],
  ["model", "Model"], ["prompt_version", "Prompt version"], ["finding", "Finding kind"], ["detector", "Detector"],
  ["status", "Status"], ["q", "Text"]];
const PAGE_SIZE = 25;

function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

PAGES.calls = async (page, _, params) => {
  const form = el("form", { class: "filters wrap", id: "call-filters", onsubmit: (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    const q = {};
    for (const [k] of CALL_FILTERS) q[k] = f[k].value.trim();
    for (const k of ["since", "until"]) q[k] = f[k].value ? new Date(f[k].value).toISOString() : "";
    go("#/calls?" + qs(q));
  } },
    CALL_FILTERS.map(([k, label]) => field(label, el("input", { name: k, value: params.get(k) || "", size: k === "q" ? 24 : 12 }))),
    field("From", el("input", { name: "since", type: "datetime-local", value: localInput(params.get("since")) })),
    field("To", el("input", { name: "until", type: "datetime-local", value: localInput(params.get("until")) })),
    el("button", { type: "submit", class: "primary" }, "Search"), el("a", { href: "#/calls", class: "button" }, "Clear"));
  const query = {};
  for (const [k] of [...CALL_FILTERS, ["since"], ["until"], ["cursor"]]) if (params.get(k)) query[k] = params.get(k);
  const filters = { ...query };
  delete filters.cursor;
  const [data, count] = await Promise.all([api("GET", "/api/v1/calls?" + qs({ ...query, limit: PAGE_SIZE })),
    api("GET", "/api/v1/calls/count?" + qs(filters))]);
  page.append(el("div", { class: "page-head" }, el("h2", {}, "Calls"),
    el("span", { class: "muted", id: "call-count" }, `${count.count} matching`),
    el("span", { class: "muted" }, can("responder") ? "content redacted; open a call to read it raw" : "content redacted (viewer)")), form);
  if (!data.calls.length) { page.append(empty("No call matches these filters.")); return; }
  const pager = el("div", { class: "pager" },
    query.cursor ? el("a", { class: "button", href: "#/calls?" + qs(filters), id: "first-page" }, "« First page") : null,
    data.next_cursor ? el("a", { class: "button", id: "next-page", href: "#/calls?" + qs({ ...filters, cursor: data.next_cursor }) }, "Next page »") : null);
  page.append(table(["Started", "Call", "App / tenant", "Model", "Findings", "Output (redacted)"], data.calls.map((c) =>
    el("tr", { class: "link", "data-id": c.id, onclick: () => go("#/call/" + encodeURIComponent(c.id)) },
      el("td", {}, el("div", {}, clock(c.started_at)), el("div", { class: "muted small" }, new Date(c.started_at).toLocaleDateString())),
      el("td", { class: "mono small" }, c.id),
      el("td", {}, c.app, el("div", { class: "muted small" }, c.tenant || "-")),
      el("td", { class: "small" }, c.model_resolved || c.model || "-", el("div", { class: "muted" }, c.prompt_version || "")),
      el("td", {}, findingChips(c.findings), c.status !== "ok" ? badge(c.status, "error") : null),
      el("td", { class: "clip" }, c.output ? c.output.slice(0, 160)
        : el("span", { class: "muted" }, (c.user_visible_output || "").slice(0, 160))))), { class: "list", id: "calls" }), pager);
};

function findingChips(findings) {
  const seen = new Map();
  for (const f of findings || []) {
    const k = `${f.detector}:${f.kind}`;
    if (!seen.has(k) || f.severity < seen.get(k)) seen.set(k, f.severity);
  }
  return [...seen].map(([k, s]) => el("span", { class: `chip ${s}` }, k));
}

function messagesView(input, output) {
  const msgs = (input || []).map((m) => el("div", { class: `msg ${m.role}` }, el("div", { class: "role" }, m.role),
    el("div", { class: "content" }, typeof m.content === "string" ? m.content : JSON.stringify(m.content, null, 2))));
  msgs.push(el("div", { class: "msg assistant" }, el("div", { class: "role" }, "answer"), el("div", { class: "content" }, output ?? "")));
  return msgs;
}

PAGES.call = async (page, id) => {
  const c = await api("GET", `/api/v1/calls/${encodeURIComponent(id)}?raw=false`);
  const content = el("div", { class: "conversation", id: "content", "data-raw": "false" }, messagesView(c.input, c.output));
  const showRaw = async () => {
    const got = await dialog("Read the raw content?", ["Raw prompts and answers may hold personal data. Your reason is written to the access log with your key."],
      { confirm: "Show raw", danger: true, fields: [field("Reason", el("input", { name: "reason", required: true, minlength: 3, placeholder: "e.g. investigating INC-…" }))] });
    if (!got) return;
    try {
      const raw = await api("GET", `/api/v1/calls/${encodeURIComponent(id)}?` + qs({ raw: "true", reason: got.reason }));
      content.replaceChildren(...messagesView(raw.input, raw.output));
      content.dataset.raw = "true";
      toast("raw content shown; the read was logged", "ok");
    } catch (e) { toast(e.message, "error"); }
  };
  append(page, [el("div", { class: "crumbs" }, el("a", { href: "#/calls" }, "Calls"), " / ", el("span", { class: "mono" }, c.id)),
    el("h2", {}, "Call ", el("span", { class: "mono" }, c.id)),
    el("div", { class: "meta" }, badge(c.status, c.status === "ok" ? "" : "error"),
      el("span", { class: "muted" }, [`app ${c.app}`, `tenant ${c.tenant || "-"}`, `user ${c.user_pseudonym || "-"}`, `session ${c.session_id || "-"}`,
        `model ${c.model_resolved || c.model || "-"}`, `prompt ${c.prompt_version || "-"}`, when(c.started_at),
        c.latency_ms ? `${Math.round(c.latency_ms)} ms` : null, c.output_tokens ? `${c.output_tokens} tokens out` : null].filter(Boolean).join(" · "))),
    el("div", { class: "actions" }, can("responder") ? el("button", { id: "show-raw", onclick: showRaw }, "Show raw…")
      : el("span", { class: "muted" }, "Redacted: raw content needs a responder key.")),
    card("Conversation", content),
    card("Findings", (c.findings || []).length ? table(["detector", "kind", "severity", "where", "entity"], c.findings.map((f) =>
      el("tr", {}, el("td", {}, f.detector), el("td", {}, f.kind), el("td", {}, sev(f.severity)), el("td", {}, f.location || ""),
        el("td", {}, f.entity || "")))) : empty("No finding.")),
    (c.tool_calls || []).length ? card("Tool calls", el("pre", {}, JSON.stringify(c.tool_calls, null, 2))) : null]);
};
