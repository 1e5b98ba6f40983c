// Drills: launch a shipped scenario, follow it, read its report; drill incidents apart from real ones.
"use strict";

PAGES.drills = async (page, id) => {
  const [scen, jobs, incs] = await Promise.all([api("GET", "/api/v1/drills/scenarios"), api("GET", "/api/v1/drills"),
    api("GET", "/api/v1/incidents?" + qs({ drill: "true", limit: 100 }))]);
  page.append(el("div", { class: "page-head" }, el("h2", {}, "Drills"),
    el("span", { class: "muted" }, "Inject a fault for a drill cohort through the gateway; time detect, acknowledge, contain, verify.")));
  if (can("admin")) {
    const form = el("form", { class: "filters", id: "drill-form", onsubmit: async (ev) => {
      ev.preventDefault();
      const f = ev.target.elements;
      const sc = scen.scenarios.find((s) => s.name === f.scenario.value);
      const ok = await dialog(`Run the ${sc.name} drill?`, [sc.title, `Faults are injected for a drill cohort of app ${f.app.value} only.`],
        { confirm: "Run drill", danger: true });
      if (!ok) return;
      const job = await act("drill started", () => api("POST", "/api/v1/drills", { scenario: f.scenario.value, app: f.app.value,
        auto_ack: f.auto_ack.checked, contain: f.contain.checked }), { reload: false });
      if (job) go("#/drills/" + encodeURIComponent(job.id));
    } },
      field("Scenario", select("scenario", scen.scenarios.map((s) => [s.name, `${words(s.name)}: ${s.title}`]), "data_leak")),
      field("App", el("input", { name: "app", value: "drill", size: 12 })),
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "auto_ack", checked: true }), " acknowledge as the drill"),
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "contain", checked: true }), " apply the playbook if nothing contained it"),
      el("button", { type: "submit", class: "danger" }, "Run drill…"));
    page.append(form);
  }
  const shown = id ? jobs.drills.filter((j) => j.id === id) : jobs.drills;
  for (const j of shown) page.append(drillCard(j));
  if (!jobs.drills.length) page.append(empty("No drill run from this server since it started."));
  if (jobs.drills.some((j) => j.state === "running")) {
    const hash = location.hash;
    setTimeout(() => { if (location.hash === hash) route(); }, 1500);
  }
  const rows = incs.incidents.filter((i) => i.drill);
  page.append(card("Drill incidents", rows.length ? table(["", "Incident", "State", "Detected", "Contained in"], rows.map((i) =>
    el("tr", { class: "link", onclick: () => go("#/incidents/" + encodeURIComponent(i.id)) }, el("td", {}, sev(i.severity)),
      el("td", {}, i.title, el("div", { class: "muted mono" }, i.id)), el("td", {}, stateBadge(i.state)), el("td", {}, when(i.detected_at)),
      el("td", {}, i.metrics ? dur(i.metrics.time_to_contain_s) : "-")))) : empty("None recorded as drills.")));
};

function drillCard(j) {
  const r = j.report || {};
  const metric = (v, label) => el("div", { class: "metric" }, el("b", {}, v === null || v === undefined ? "-" : dur(v)), el("span", {}, label));
  return el("section", { class: "card drill", "data-id": j.id },
    el("div", { class: "card-head" }, el("h3", {}, el("a", { href: "#/drills/" + encodeURIComponent(j.id) }, j.id), " ", el("span", { class: "muted" }, j.title)),
      badge(j.state, j.state === "done" ? "state-ok" : j.state === "running" ? "state-acknowledged" : "error")),
    j.report ? el("div", { class: "metrics" }, metric(r.time_to_detect, "to detect"), metric(r.time_to_acknowledge, "to acknowledge"),
      metric(r.time_to_contain, "to contain"), metric(r.time_to_verify, "to verify")) : null,
    r.incident ? el("p", {}, "Incident ", el("a", { href: "#/incidents/" + encodeURIComponent(r.incident.id), class: "mono" }, r.incident.id)) : null,
    (r.gaps || []).length ? el("div", {}, el("h4", {}, "Gaps"), el("ul", {}, r.gaps.map((g) => el("li", { class: "missing" }, g)))) : null,
    j.error ? el("p", { class: "error" }, j.error) : null,
    el("details", { open: j.state === "running" }, el("summary", {}, `${j.steps.length} step(s)`),
      el("ol", { class: "steps" }, j.steps.map((s) => el("li", {}, el("span", { class: "muted" }, clock(s.at) + "  "), s.message)))),
    j.markdown ? el("details", {}, el("summary", {}, "report (Markdown)"), el("pre", { class: "doc" }, j.markdown)) : null);
}
