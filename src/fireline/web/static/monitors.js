// Monitors: each monitor's value against its baseline over hours or days, with the threshold band,
// where the alert fired (its recovery period included) and where the raw condition held; firing
// monitors first. A firing group whose condition is clear says when it resolves if it stays clear.
"use strict";

const RANGES = [["1", "1 hour"], ["6", "6 hours"], ["24", "24 hours"], ["72", "3 days"], ["168", "7 days"]];

PAGES.monitors = async (page, name, params) => {
  const hours = params.get("hours") || "24";
  const only = params.get("show") || "active";
  const data = await api("GET", "/api/v1/monitors");
  const mons = data.monitors.slice().sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  const active = (m) => m.groups.some((g) => g.state === "firing") || m.alerts_fired > 0
    || m.groups.some((g) => (g.value || 0) > 0) || name === m.name;
  const shown = mons.filter((m) => (name ? m.name === name : only === "all" || active(m)));
  const controls = el("form", { class: "filters", id: "monitor-range", onsubmit: (ev) => ev.preventDefault() },
    field("Range", select("hours", RANGES, hours, { onchange: (ev) => go(`#/monitors${name ? "/" + name : ""}?` + qs({ hours: ev.target.value, show: only })) })),
    name ? null : field("Show", select("show", [["active", "with data or alerts"], ["all", "all monitors"]], only,
      { onchange: (ev) => go("#/monitors?" + qs({ hours, show: ev.target.value })) })));
  const firing = mons.filter((m) => m.groups.some((g) => g.state === "firing"));
  page.append(el("div", { class: "page-head" }, el("h2", {}, name ? el("a", { href: "#/monitors" }, "Monitors") : "Monitors", name ? ` / ${name}` : ""),
    el("span", { class: "muted" }, `${firing.length} firing · ${mons.length} monitors`)), controls);
  if (!shown.length) page.append(empty("No monitor has seen data yet."));
  const grid = el("div", { class: "monitor-grid" });
  page.append(grid);
  // charts load in parallel, each into its own card
  await Promise.all(shown.map(async (m) => {
    const group = params.get("group") && name ? params.get("group") : null;
    const box = chartBox("chart monitor-chart");
    const def = m.definition;
    const top = (group && m.groups.find((g) => g.group === group)) || m.groups[0];  // the charted group's state
    const c = el("section", { class: "card monitor", "data-monitor": m.name },
      el("div", { class: "card-head" }, el("h3", {}, el("a", { href: `#/monitors/${encodeURIComponent(m.name)}?` + qs({ hours }) }, m.name)),
        el("span", {}, top ? stateBadge(top.state === "firing" ? "firing" : "ok") : badge("no data"),
          top && top.state === "firing" && top.clear_since ? badge("recovering", "state-recovering") : null)),
      el("div", { class: "muted small" }, `${def.signal}${def.feature ? " " + def.feature : ""} · ${def.condition} · window ${def.window}`
        + ` · ${words(def.type)} ${def.severity}`));
    grid.append(c);
    try {
      const s = await api("GET", `/api/v1/monitors/${encodeURIComponent(m.name)}/series?` + qs({ hours, group }));
      const last = s.points.length ? s.points[s.points.length - 1] : null;
      c.append(el("div", { class: "muted small" }, `group ${s.group || "-"}${s.groups.length > 1 ? ` (of ${s.groups.length})` : ""}`
        + (last ? ` · now ${fmtValue(last.value, def)} vs baseline ${fmtValue(last.baseline, def)}` : "")
        + ` · ${(s.alerting || []).length} firing period(s) (condition held ${s.firing.length}×), ${(s.alerts || []).length} alert(s)`));
      if (s.recovery) c.append(recoveryNote(s.recovery));
      if (name && s.groups.length > 1) {
        c.append(field("Group", select("group", s.groups, s.group, { onchange: (ev) => go(`#/monitors/${encodeURIComponent(m.name)}?` + qs({ hours, group: ev.target.value })) })));
      }
      c.append(box);
      if (s.points.length) { c.append(monitorKey()); later(() => monitorChart(box, s, { height: name ? 320 : 180 })); }
      else box.append(empty("No data in this range."));
    } catch (e) { c.append(el("p", { class: "error" }, e.message)); }
  }));
  if (name) {
    const m = mons.find((x) => x.name === name);
    if (m) page.append(card("Groups now", table(["group", "value", "baseline", "ratio", "calls", "state", "last fired", "recovery"], m.groups.map((g) =>
      el("tr", {}, el("td", { class: "mono" }, g.group), el("td", {}, fmtValue(g.value, m.definition)), el("td", {}, fmtValue(g.baseline, m.definition)),
        el("td", {}, num(g.ratio)), el("td", {}, g.volume), el("td", {}, stateBadge(g.state)), el("td", {}, g.last_fired ? when(g.last_fired) : "-"),
        el("td", { class: "small" }, g.state === "firing" && g.clear_since ? recoveryText(g.clear_since, resolvesAt(g.clear_since, m.definition)) : "-")))),
    el("pre", { class: "small" }, JSON.stringify(m.definition, null, 2))));
  }
};

// "clear since 10:42, resolves at 10:57 if it stays clear": a firing group in its recovery period.
function hm(t) { return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }
function recoveryText(clearSince, resolves) {
  return `clear since ${hm(clearSince)}, resolves at ${hm(resolves)} if it stays clear`;
}
function recoveryNote(r) {
  return el("p", { class: "recovery-note small", "data-role": "recovery", "data-resolves-at": r.resolves_at },
    "Still firing: ", recoveryText(r.clear_since, r.resolves_at));
}
function resolvesAt(clearSince, def) {
  return new Date(new Date(clearSince).getTime() + (parseInt(def.recover_after, 10) || 0) * 60000).toISOString();
}

function rank(m) {
  if (m.groups.some((g) => g.state === "firing")) return 0;
  if (m.alerts_fired > 0) return 1;
  return m.groups.length ? 2 : 3;
}
