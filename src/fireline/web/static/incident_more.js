// The incident page, continued: the drill marker, linked and merged incidents, and the labelling queue.
"use strict";

const LABELS = [["factual_error", "Factual error"], ["invented_citation", "Invented citation"],
  ["confabulation", "Confabulation"], ["other", "Other"], ["correct", "Correct (false positive)"]];
const LINK_WORDS = { related: "related to", merged_into: "merged into", merged_from: "merged from",
  repeat_of: "a repeat of", repeated_by: "repeated by" };

// A drill is marked on every view of it: what it does and does not do.
function drillBanner(inc) {
  if (!inc.drill) return null;
  return el("div", { class: "banner drill", id: "drill-banner", role: "note" },
    el("b", {}, "DRILL"), " This incident is a drill: notifications go to drill channels only (tagged [DRILL]), ",
    "obligations are shown as would-open and never opened, the public status page does not change, ",
    "it counts in drill metrics only (never MTTA/MTTR), and its controls are reverted when the drill ends.");
}

function mergedBanner(inc) {
  if (!inc.merged_into) return null;
  return el("div", { class: "banner", id: "merged-banner", role: "note" }, "Merged into ",
    el("a", { href: "#/incidents/" + encodeURIComponent(inc.merged_into), class: "mono" }, inc.merged_into),
    ": that incident carries on with this one's calls, keys and controls.");
}

function linksCard(inc, links, base, responder) {
  const rows = (links && links.links) || [];
  const link = async () => {
    const got = await dialog("Link a related incident", ["Both timelines record the link."], { confirm: "Link",
      fields: [field("Incident", el("input", { name: "other", required: true, placeholder: "INC-…" })),
        field("Reason", el("input", { name: "reason" }))] });
    if (got) await act("linked", () => api("POST", `${base}/links`, { other: got.other.trim(), reason: got.reason || null }));
  };
  const merge = async () => {
    const got = await dialog(`Merge ${inc.id} into another incident?`,
      ["Its calls, scope, dedup keys and controls move there; the highest severity wins; this one ends as merged."],
      { confirm: "Merge", danger: true, fields: [field("Into incident", el("input", { name: "into", required: true, placeholder: "INC-…" })),
        field("Reason", el("input", { name: "reason", required: true }))] });
    if (!got) return;
    const into = got.into.trim();
    const done = await act("merged", () => api("POST", `${base}/merge`, { into, reason: got.reason }), { reload: false });
    if (done) go("#/incidents/" + encodeURIComponent(into));
  };
  const open = !["closed", "false_positive", "merged"].includes(inc.state);
  return card("Linked incidents",
    rows.length ? el("ul", { class: "links", id: "incident-links" }, rows.map((r) => el("li", { "data-kind": r.kind },
      el("span", { class: "muted" }, (LINK_WORDS[r.kind] || words(r.kind)) + " "),
      el("a", { href: "#/incidents/" + encodeURIComponent(r.id), class: "mono" }, r.id),
      el("span", { class: "muted small" }, ` · ${r.actor || ""} ${r.reason ? "· " + r.reason : ""} · ${when(r.at)}`))))
      : empty("None."),
    responder && open ? el("div", { class: "actions" },
      el("button", { class: "small", id: "link-incident", onclick: link }, "Link…"),
      el("button", { class: "small danger", id: "merge-incident", onclick: merge }, "Merge into…")) : null);
}

// "Sample the affected outputs; categorise": one answer at a time, the counts go into the post-mortem.
function labelsCard(base, counts, queue, responder) {
  const c = (counts && counts.counts) || {};
  const tally = el("table", { class: "compact", id: "label-counts" }, el("tbody", {}, LABELS.map(([k, label]) =>
    el("tr", { "data-label": k }, el("td", {}, label), el("td", { class: "num" }, String(c[k] || 0)),
      el("td", { class: "muted num" }, pct((counts && counts.shares && counts.shares[k]) || 0))))));
  const parts = [el("p", { class: "muted small" }, `${(counts && counts.labelled) || 0} labelled`
    + (queue ? ` · ${queue.remaining} affected answers not labelled yet` : "")), tally];
  const next = queue && queue.calls && queue.calls[0];
  if (responder && next) {
    const label = (k) => act(`labelled ${words(k)}`, () => api("POST", `${base}/labels`, { call_id: next.call_id, label: k }));
    parts.push(el("div", { class: "label-item", id: "label-next", "data-call": next.call_id },
      el("div", { class: "muted small" }, el("a", { href: "#/call/" + encodeURIComponent(next.call_id), class: "mono" }, next.call_id),
        ` · ${next.model || ""} · ${when(next.started_at)}` + (next.findings.length ? ` · ${next.findings.join(", ")}` : "")),
      el("pre", { class: "doc answer" }, next.output || "(no answer text)"),
      el("div", { class: "actions" }, LABELS.map(([k, text]) => el("button", { class: "small", "data-label": k, onclick: () => label(k) }, text)))));
  } else if (responder && queue) {
    parts.push(empty("Every affected answer in the sample is labelled."));
  }
  return card("Labelling queue", ...parts);
}
