// One incident: everything a responder needs in one place.
"use strict";

const MOVES = { detected: ["ack", "contain", "false-positive"], acknowledged: ["contain", "resolve"],
  contained: ["ack", "resolve"], resolved: ["close"] };
const MOVE_LABEL = { ack: "Acknowledge", contain: "Mark contained", resolve: "Resolve", close: "Close",
  "false-positive": "False positive" };
const ROLES = ["commander", "comms_lead", "scribe", "responder"];
const TEMPLATES = ["status_update", "customer_email", "in_product_notice", "regulator_notification"];
const CATEGORIES = ["model", "prompt", "data", "configuration", "infrastructure"];

const soft = (p) => p.catch(() => null);

PAGES.incident = async (page, id) => {
  const base = `/api/v1/incidents/${encodeURIComponent(id)}`;
  const responder = can("responder");
  const [inc, tl, verify, blast, series, controls, snaps, updates, rc, pm, actions, types, links, labelled, queue] = await Promise.all([
    api("GET", base), api("GET", base + "/timeline"), soft(api("GET", base + "/verify")),
    soft(api("GET", base + "/blast-radius")), soft(api("GET", base + "/blast-radius/series")),
    soft(api("GET", "/api/v1/controls?" + qs({ incident_id: id, all: "true" }))),
    soft(api("GET", base + "/snapshots")), soft(api("GET", base + "/updates")),
    soft(api("GET", base + "/root-cause")), soft(api("GET", base + "/postmortem?format=json")),
    soft(api("GET", base + "/actions")), incidentTypes(), soft(api("GET", base + "/links")),
    soft(api("GET", base + "/labels")), responder ? soft(api("GET", base + "/labels/queue?n=50")) : null,
  ]);
  page.append(header(inc, base, responder, types));
  for (const banner of [drillBanner(inc), mergedBanner(inc)]) if (banner) page.append(banner);
  const grid = el("div", { class: "columns" });
  const main = el("div", { class: "main-col" });
  const side = el("div", { class: "side-col" });
  grid.append(main, side);
  page.append(grid);

  side.append(slaCard(inc), rolesCard(inc, base, responder), obligationsCard(inc, base, responder));
  main.append(blastCard(blast, series), timelineCard(tl.entries, verify, base, responder));
  main.append(updatesCard(inc, base, updates, responder));
  side.append(controlsCard(controls, responder), evidenceCard(snaps, base, id, responder));
  side.append(linksCard(inc, links, base, responder));
  main.append(afterActionCard(inc, base, responder), labelsCard(base, labelled, queue, responder));
  main.append(rootCauseCard(rc, base, responder), postmortemCard(pm, actions, base, responder));
};

function header(inc, base, responder, types) {
  const move = async (m) => {
    let reason = null;
    if (m !== "ack") {
      const got = await dialog(`${MOVE_LABEL[m]} ${inc.id}?`, [inc.title],
        { confirm: MOVE_LABEL[m], danger: m === "false-positive", fields: [field("Reason", el("input", { name: "reason" }))] });
      if (!got) return;
      reason = got.reason || null;
    }
    await act(`${MOVE_LABEL[m]}: done`, () => api("POST", `${base}/${m}`, { reason }));
  };
  const playbook = async () => {
    const got = await dialog(`Apply the ${words(inc.playbook)} playbook?`,
      [`Its primary action on ${(inc.apps || []).join(", ") || "the incident's scope"}; a snapshot is taken first.`],
      { confirm: "Apply playbook", danger: true, fields: [el("label", { class: "check" }, el("input", { type: "checkbox", name: "all" }), " also the secondary actions")] });
    if (got) await act("playbook applied", () => api("POST", `${base}/playbook`, { all: got.all }));
  };
  const severity = async () => {
    const got = await dialog("Change the severity", [`Now ${inc.severity}. The SLA clocks follow the new severity.`],
      { confirm: "Change", fields: [field("Severity", select("severity", SEVERITIES, inc.severity)),
        field("Reason", el("input", { name: "reason", required: true }))] });
    if (got) await act(`severity ${got.severity}`, () => api("POST", `${base}/severity`, got));
  };
  const retype = async () => {
    const got = await dialog("Change the type", [`Now ${words(inc.type)}. The playbook follows the new type.`],
      { confirm: "Retype", fields: [field("Type", select("type", types.map((t) => t.name), inc.type)),
        field("Reason", el("input", { name: "reason", required: true }))] });
    if (got) await act(`type ${got.type}`, () => api("POST", `${base}/type`, got));
  };
  return el("div", { class: "incident-head" },
    el("div", { class: "crumbs" }, el("a", { href: "#/incidents" }, "Incidents"), " / ", el("span", { class: "mono" }, inc.id)),
    el("h2", {}, sev(inc.severity), " ", el("span", { id: "incident-title" }, inc.title)),
    el("div", { class: "meta" }, stateBadge(inc.state), badge(inc.type), inc.drill ? badge("drill", "drill") : null,
      el("span", { class: "muted" }, `apps ${(inc.apps || []).join(", ") || "-"} · playbook ${words(inc.playbook)} · `
        + `${inc.linked_calls.length} linked calls · ${[...(inc.owasp || []), ...(inc.atlas || []).map((a) => a.split(" ")[0])].join(" ")}`)),
    responder ? el("div", { class: "actions" },
      (MOVES[inc.state] || []).map((m) => el("button", { class: m === "contain" ? "primary" : "", "data-action": m, onclick: () => move(m) }, MOVE_LABEL[m])),
      ["detected", "acknowledged", "contained"].includes(inc.state) ? el("button", { class: "danger", id: "playbook", onclick: playbook }, "Apply playbook") : null,
      el("button", { id: "change-severity", onclick: severity }, "Severity…"),
      el("button", { id: "retype", onclick: retype }, "Type…")) : null);
}

function slaCard(inc) {
  const sla = inc.sla || {};
  const row = (label, due, done, breached) => el("div", { class: "sla" }, el("span", {}, label),
    countdown(due, done, "met"), breached ? el("span", { class: "error" }, ` breached ${clock(breached)}`) : null);
  const m = inc.metrics || {};
  return card("SLA",
    row("Acknowledge", sla.ack_due_at, inc.acknowledged_at || (inc.state !== "detected" ? inc.contained_at : null), sla.ack_breached_at),
    row("Contain", sla.contain_due_at, inc.contained_at, sla.contain_breached_at),
    el("div", { class: "muted small" }, `detected ${when(inc.detected_at)} · to contain ${dur(m.time_to_contain_s)}`
      + (inc.onset_at ? ` · onset ${clock(inc.onset_at)}` : "")));
}

function rolesCard(inc, base, responder) {
  const r = inc.roles || {};
  const assign = async () => {
    const got = await dialog("Assign a role", [], { confirm: "Assign", fields: [
      field("Role", select("role", ROLES, "commander")), field("Who", el("input", { name: "who", required: true, placeholder: "name or handle" })),
      field("Reason", el("input", { name: "reason" }))] });
    if (got) await act(`${words(got.role)}: ${got.who}`, () => api("POST", `${base}/assign`, { ...got, reason: got.reason || null }));
  };
  const remove = (role, who) => act(`removed ${who}`, () => api("POST", `${base}/assign`, { role, who, remove: true }));
  const line = (label, role, who) => el("div", { class: "role" }, el("span", { class: "muted" }, label),
    who ? el("span", {}, who, responder && role !== "commander" ? el("button", { class: "link", title: "remove", onclick: () => remove(role, who) }, " ×") : null)
      : el("span", { class: "muted" }, "unassigned"));
  return card("Roles",
    line("Commander", "commander", r.commander), line("Comms lead", "comms_lead", r.comms_lead), line("Scribe", "scribe", r.scribe),
    (r.responders || []).map((p) => line("Responder", "responder", p)),
    responder ? el("button", { id: "assign", onclick: assign }, "Assign…") : null);
}

function obligationsCard(inc, base, responder) {
  const obs = inc.obligations || [];
  const met = async (o) => {
    const got = await dialog(`Mark met: ${o.title}`, [`Due ${when(o.deadline)}.`],
      { confirm: "Mark met", fields: [field("How it was met", el("input", { name: "note", required: true }))] });
    if (got) await act("obligation met", () => api("POST", `${base}/obligations/${encodeURIComponent(o.id)}/met`, got));
  };
  const highRisk = async () => {
    const got = await dialog("High risk to the individuals?", ["Opens the GDPR Art. 34 obligation to tell the people affected."],
      { confirm: "Mark high-risk", danger: true, fields: [field("Reason", el("input", { name: "reason", required: true })),
        field("Likely consequences", el("input", { name: "likely_consequences" }))] });
    if (got) await act("marked high-risk", () => api("POST", `${base}/high-risk`, { high_risk: true, ...got }));
  };
  return card("Disclosure obligations",
    obs.length ? obs.map((o) => el("div", { class: "obligation", "data-id": o.id },
      el("div", {}, el("b", {}, o.title)),
      el("div", {}, countdown(o.deadline, o.met_at, "met"), el("span", { class: "muted" }, ` · ${o.recipient || ""}`)),
      el("div", { class: "muted small" }, o.legal_basis || ""),
      el("details", {}, el("summary", {}, "required contents"), el("ul", {}, (o.required_contents || []).map((c) =>
        el("li", { class: c.missing ? "missing" : "" }, `${c.label}: `, c.missing ? "missing" : JSON.stringify(c.value))))),
      responder && !o.met_at ? el("button", { class: "small", onclick: () => met(o) }, "Mark met…") : null))
      : empty("None: no personal data involved so far."),
    responder ? el("button", { class: "small", onclick: highRisk }, "High risk to individuals…") : null);
}

function blastCard(blast, series) {
  if (!blast) return card("Blast radius", empty("Not measured."));
  const metric = (v, label) => el("div", { class: "metric" }, el("b", {}, v === null || v === undefined ? "?" : String(v)), el("span", {}, label));
  const pii = Object.entries(blast.pii || {}).map(([k, v]) => `${words(k).toLowerCase()} ${v}`).join(", ");
  const box = chartBox();
  const c = card("Blast radius",
    el("div", { class: "metrics" }, metric(blast.calls, "calls"), metric(blast.users, "users"), metric(blast.sessions, "sessions"),
      metric(blast.tenants, "tenants"), metric(blast.first_occurrence ? clock(blast.first_occurrence) : "-", "first occurrence"),
      metric(blast.lead_time_s !== null && blast.lead_time_s !== undefined ? dur(blast.lead_time_s) : "-", "before detection")),
    pii ? el("p", {}, "Personal data exposed: ", el("b", {}, pii)) : null,
    series && series.calls ? [el("div", { class: "muted small" }, `Affected calls over time by tenant (${dur(series.step_seconds)} steps)`), box]
      : empty("No affected call to draw."));
  if (series && series.calls) later(() => blastChart(box, series));
  return c;
}

function timelineCard(entries, verify, base, responder) {
  const note = el("form", { class: "inline", id: "note-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    if (!f.text.value.trim()) return;
    await act(`${f.kind.value} added`, () => api("POST", `${base}/notes`, { text: f.text.value.trim(), kind: f.kind.value }));
  } }, select("kind", ["note", "decision", "hypothesis", "action"], "note"),
    el("input", { name: "text", placeholder: "What you found, decided or did", class: "grow" }),
    el("button", { type: "submit" }, "Add"));
  const chain = verify ? el("span", { class: verify.ok ? "ok" : "error", id: "verify" },
    verify.ok ? `✓ ${verify.entries ?? entries.length} entries, hash chain verified` : `✗ chain broken at entry ${verify.first_broken}`) : null;
  return card(null, el("div", { class: "card-head" }, el("h3", {}, "Timeline"), chain),
    responder ? note : null,
    el("ol", { class: "timeline", id: "timeline" }, entries.map((e) => el("li", { class: "kind-" + e.kind.replace(".", "-") },
      el("time", { title: when(e.at) }, clock(e.at)),
      el("div", {}, el("div", { class: "sentence" }, e.text || `${e.actor} ${words(e.kind)}`),
        el("details", {}, el("summary", {}, "details"),
          el("div", { class: "muted small" }, `#${e.seq} · ${e.kind} · by ${e.actor} · ${when(e.at)}`),
          el("pre", {}, JSON.stringify(e.data, null, 2))))))));
}

function updatesCard(inc, base, updates, responder) {
  const list = (updates && updates.updates) || [];
  const text = el("textarea", { name: "message", rows: 4, required: true, id: "update-message", placeholder: "What is known, what we are doing, when the next update comes." });
  const tmpl = select("template", [["", "Start from a template…"], ...TEMPLATES], "", { id: "update-template" });
  tmpl.addEventListener("change", async () => {
    if (!tmpl.value) return;
    try {
      const m = await api("GET", `${base}/messages/${tmpl.value}`);
      text.value = (m.subject ? m.subject + "\n\n" : "") + m.body;
      if (m.missing && m.missing.length) toast(`template needs: ${m.missing.join(", ")}`);
    } catch (e) { toast(e.message, "error"); }
  });
  const form = el("form", { class: "stack", id: "update-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    const ok = f.public.checked ? await dialog("Post on the public status page?", [f.message.value], { confirm: "Post publicly", danger: true }) : {};
    if (ok) await act(f.public.checked ? "public update posted" : "update posted", () => api("POST", `${base}/updates`, { message: f.message.value, public: f.public.checked }));
  } }, tmpl, text, el("div", { class: "actions" },
    el("label", { class: "check" }, el("input", { type: "checkbox", name: "public", checked: true }), " also on the public status page"),
    el("button", { type: "submit", class: "primary" }, "Post update")));
  return card("Updates",
    responder ? form : null,
    list.length ? el("ul", { class: "updates" }, list.slice().reverse().map((u) => el("li", {},
      el("div", { class: "muted small" }, `${when(u.at)} · ${u.public ? "public" : "internal"}${u.status ? " · " + u.status : ""}`),
      el("div", { class: "message" }, u.message)))) : empty("No update posted yet."));
}

function controlsCard(controls, responder) {
  const rows = (controls && controls.controls) || [];
  return card("Controls",
    rows.length ? rows.map((c) => el("div", { class: "control " + (c.active ? "active" : "inactive"), "data-id": c.id },
      el("div", {}, el("b", {}, words(c.kind)), " ", el("span", { class: "muted" }, scopeText(c.scope))),
      el("div", { class: "muted small mono" }, c.id),
      el("div", { class: "muted small" }, c.active ? `since ${clock(c.created_at)} by ${c.actor}` : `${c.reverted_by ? "reverted by " + c.reverted_by : "expired"}`),
      responder && c.active ? el("button", { class: "small", onclick: () => revertControl(c) }, "Revert…") : null))
      : empty("No control applied for this incident."),
    el("a", { href: "#/controls", class: "small" }, "All controls →"));
}

function evidenceCard(snaps, base, id, responder) {
  const rows = (snaps && snaps.snapshots) || [];
  const take = async () => {
    const got = await dialog("Take an evidence snapshot", ["Freezes the linked calls (legal hold), controls, monitors and config now."],
      { confirm: "Snapshot", fields: [field("Reason", el("input", { name: "reason", value: "manual" }))] });
    if (got) await act("snapshot taken", () => api("POST", `${base}/snapshots`, { reason: got.reason || "manual" }));
  };
  const exp = async (s) => {
    const got = await dialog("Export the evidence bundle", ["It holds raw content: the read is written to the access log and the timeline."],
      { confirm: "Export", fields: [field("Reason", el("input", { name: "reason", required: true }))] });
    if (!got) return;
    await act("bundle downloaded", () => download(`/api/v1/snapshots/${s.id}/export?` + qs({ reason: got.reason }), `${id}-${s.id.slice(0, 12)}.tar.gz`));
  };
  return card("Evidence",
    rows.length ? rows.map((s) => el("div", { class: "snapshot" },
      el("div", {}, el("span", { class: "mono" }, s.id.slice(0, 16) + "…"), " ", el("span", { class: "muted" }, clock(s.taken_at || s.created_at))),
      el("div", { class: "muted small" }, `${s.reason || ""} · ${s.calls ?? s.call_count ?? "?"} calls`),
      responder ? el("button", { class: "small export", onclick: () => exp(s) }, "Export…") : null)) : empty("No snapshot yet."),
    responder ? el("button", { class: "small", id: "snapshot", onclick: take }, "Take snapshot…") : null);
}

function armRow(arm, s) {
  const bar = el("div", { class: "rate-bar" }, el("div", { class: "ci", style: null }), el("div", { class: "point" }));
  // widths through the CSSOM (no style attribute strings built from data)
  bar.firstChild.style.left = pct(s.ci_low, 1); bar.firstChild.style.width = pct(Math.max(0.005, s.ci_high - s.ci_low), 1);
  bar.lastChild.style.left = pct(s.rate, 1);
  return el("tr", {}, el("td", {}, arm), el("td", {}, `${s.failures}/${s.samples}`), el("td", {}, el("b", {}, pct(s.rate))),
    el("td", { class: "muted" }, `${pct(s.ci_low)}–${pct(s.ci_high)}`), el("td", { class: "bar-cell" }, bar));
}

function afterActionCard(inc, base, responder) {
  const aa = inc.after_action || {};
  const lock = aa.eval_lock, replay = aa.last_replay, fix = aa.fix_verification;
  const parts = [];
  if (replay) {
    const s = replay.summary || (replay.result && replay.result.summary) || {};
    const p = replay.params || {};
    parts.push(el("div", { class: "sub", id: "replay" }, el("h4", {}, "Replay ", el("span", { class: "muted small mono" }, replay.id)),
      el("p", { class: "muted small" }, `${replay.state} · ${replay.estimate ? replay.estimate.cases : "?"} logged input(s) × ${p.n || "?"} samples`
        + (p.model ? ` · candidate model ${p.model}` : "") + (p.prompt_version ? ` · candidate prompt ${p.prompt_version}` : "")),
      Object.keys(s).length ? table(["arm", "failed", "rate", "95% CI", ""], Object.entries(s).map(([arm, v]) => armRow(arm, v)), { class: "compact" }) : null));
  } else parts.push(el("p", { class: "muted" }, "No replay yet (", el("span", { class: "mono" }, `fireline replay ${inc.id}`), ")."));
  if (lock) {
    const last = lock.last_run;
    parts.push(el("div", { class: "sub", id: "eval-lock" }, el("h4", {}, "Eval lock"),
      lock.exists ? el("p", {}, el("span", { class: "mono" }, lock.suite_id), ` · ${lock.cases} case(s) · `,
        last ? el("b", { class: last.status === "passed" ? "ok" : "error" }, `last run ${last.status}`) : el("span", { class: "muted" }, "never run"),
        lock.waived ? el("span", { class: "muted" }, ` · waived: ${lock.waived.reason || ""}`) : null)
        : el("p", { class: "muted" }, "No lock yet: closing waits for one."),
      responder && !lock.exists ? el("button", { class: "small", id: "make-lock", onclick: () => act("eval lock made", () => api("POST", `${base}/evals`, {})) }, "Make the eval lock") : null));
  }
  parts.push(el("div", { class: "sub", id: "fix" }, el("h4", {}, "Fix verification"),
    fix ? [el("p", {}, el("b", { class: fix.verdict === "passed" ? "ok" : fix.verdict === "failed" ? "error" : "" }, fix.verdict), " · ", fix.summary || ""),
      table(["check", "status", "detail"], (fix.checks || []).map((c) => el("tr", {}, el("td", {}, c.check), el("td", {}, c.status), el("td", {}, c.detail || ""))), { class: "compact" })]
      : el("p", { class: "muted" }, "Not verified yet."),
    responder ? el("button", { class: "small", id: "verify-fix", onclick: () => act("fix verification recorded", () => api("POST", `${base}/fix-verification`, {})) }, "Verify the fix now") : null));
  return card("After action: replay, eval lock, verification", parts);
}

function rootCauseCard(rc, base, responder) {
  rc = rc || { whys: [], factors: [], remediation: [] };
  const whys = el("ol", { class: "whys" });
  const addWhy = (v = "") => whys.append(el("li", {}, el("input", { name: "why", value: v, placeholder: whys.children.length ? "Why was that?" : "Why did users see it?", disabled: !responder })));
  (rc.whys.length ? rc.whys : ["", "", ""]).forEach(addWhy);
  const lines = (name, values, ph) => el("textarea", { name, rows: 2, placeholder: ph, disabled: !responder }, (values || []).join("\n"));
  const form = el("form", { class: "stack", id: "root-cause-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const list = (name) => f.elements[name].value.split("\n").map((s) => s.trim()).filter(Boolean);
    const body = { category: f.elements.category.value || null,
      whys: [...f.querySelectorAll("input[name=why]")].map((i) => i.value.trim()).filter(Boolean),
      factors: list("factors"), remediation: list("remediation"),
      regression_test: f.elements.regression_test.value.trim() || null, prevention: f.elements.prevention.value.trim() || null,
      summary: f.elements.summary.value.trim() || null, finding: f.elements.finding.value.trim() || null };
    await act("root cause saved", () => api("PUT", `${base}/root-cause`, body));
  } },
    el("div", { class: "row" }, field("Category", select("category", [["", "not known yet"], ...CATEGORIES], rc.category || "", { disabled: !responder })),
      field("Regression test (eval suite)", el("input", { name: "regression_test", value: rc.regression_test || "", placeholder: "lock-INC-…", disabled: !responder }))),
    field("Summary", el("input", { name: "summary", value: rc.summary || "", disabled: !responder })),
    el("div", { class: "field" }, el("span", {}, "Five whys"), whys,
      responder ? el("button", { type: "button", class: "small", onclick: () => addWhy() }, "+ why") : null),
    el("div", { class: "row" }, field("Contributing factors", lines("factors", rc.factors, "one per line")),
      field("Remediation", lines("remediation", rc.remediation, "one step per line"))),
    field("Recurrence prevention", el("input", { name: "prevention", value: rc.prevention || "", disabled: !responder })),
    field("Blameless finding", el("input", { name: "finding", value: rc.finding || "", disabled: !responder })),
    responder ? el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Save root cause")) : null);
  return card("Root cause and five whys", rc.updated_at ? el("p", { class: "muted small" }, `updated ${when(rc.updated_at)} by ${rc.updated_by}`) : null, form);
}

function postmortemCard(pm, actions, base, responder) {
  const items = (actions && actions.actions) || [];
  const add = async () => {
    const got = await dialog("Add an action item", [], { confirm: "Add", fields: [
      field("Title", el("input", { name: "title", required: true })), field("Owner", el("input", { name: "owner", required: true })),
      field("Due", el("input", { name: "due", type: "date", required: true }))] });
    if (got) await act("action item added", () => api("POST", `${base}/actions`, got));
  };
  const milestones = pm && pm.timeline && pm.timeline.milestones ? pm.timeline.milestones : [];
  return card("Post-mortem",
    pm ? [el("table", { class: "compact milestones" }, el("tbody", {}, milestones.map((m) => el("tr", {},
      el("td", {}, m.label), el("td", { class: m.at ? "" : "muted" }, m.at ? when(m.at) : "not yet"))))),
    el("h4", {}, "Action items"),
    items.length ? el("ul", { class: "actions-list" }, items.map((a) => el("li", {}, a.done_at || a.completed_at ? "✓ " : "☐ ", a.title,
      el("span", { class: "muted" }, ` · ${a.owner} · due ${a.due}`)))) : empty("None yet."),
    responder ? el("button", { class: "small", onclick: add }, "Add action item…") : null,
    el("details", { id: "postmortem", open: true }, el("summary", {}, "The generated post-mortem (Markdown)"), el("pre", { class: "doc" }, pm.markdown || "")),
    el("div", { class: "actions" }, el("button", { class: "small", onclick: () => download(`${base}/postmortem?format=md`, `${pm.incident_id}-postmortem.md`) }, "Download .md"))]
      : empty("Not available."));
}

function scopeText(scope) {
  const parts = Object.entries(scope || {}).filter(([k]) => k !== "user_match").map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(" · ") : "everywhere";
}

async function revertControl(c) {
  const got = await dialog(`Revert ${words(c.kind)}?`, [`Scope: ${scopeText(c.scope)}`, `Control ${c.id}. The behaviour before it comes back on the next request.`],
    { confirm: "Revert", danger: true, fields: [field("Reason", el("input", { name: "reason" }))] });
  if (got) await act(`reverted ${c.id}`, () => api("DELETE", `/api/v1/controls/${encodeURIComponent(c.id)}?` + qs({ reason: got.reason })));
}
