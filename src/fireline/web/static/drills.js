// Drills: drill incidents (kept apart from real ones) and their reports.
"use strict";

PAGES.drills = async (page) => {
  const data = await api("GET", "/api/v1/incidents?" + qs({ drill: "true", limit: 100 }));
  const rows = data.incidents.filter((i) => i.drill);
  page.append(el("div", { class: "page-head" }, el("h2", {}, "Drills")),
    el("p", { class: "muted" }, "Rehearse: inject a fault for a drill cohort through the gateway and time detect, acknowledge, contain and verify."));
  page.append(rows.length ? table(["", "Drill incident", "State", "Detected", "Contained in"], rows.map((i) =>
    el("tr", { class: "link", onclick: () => go("#/incidents/" + encodeURIComponent(i.id)) }, el("td", {}, sev(i.severity)),
      el("td", {}, i.title, el("div", { class: "muted mono" }, i.id)), el("td", {}, stateBadge(i.state)), el("td", {}, when(i.detected_at)),
      el("td", {}, i.metrics ? dur(i.metrics.time_to_contain_s) : "-")))) : empty("No drill yet."));
};
