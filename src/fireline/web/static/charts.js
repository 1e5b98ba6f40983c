// Charts on uPlot (vendored: uPlot.iife.min.js, MIT, see uPlot.LICENSE.txt). Data comes as JSON
// from the API and goes to uPlot as numbers; labels are drawn on the canvas as text.
"use strict";

const PALETTE = ["#ff8c1a", "#5fb3f9", "#3ecf8e", "#c678dd", "#f5c518", "#ff6b81", "#56d4dd", "#a3be8c", "#9aa3b2"];
const ALERT_RED = "#ff4d4f", RECOVERY_AMBER = "#f5c518";
const AXIS = { stroke: "#9aa3b2", grid: { stroke: "#252b36", width: 1 }, ticks: { stroke: "#2a2f3a" } };

function secs(t) { return new Date(t).getTime() / 1000; }

function chartBox(cls = "chart") { return el("div", { class: cls }); }

function widthOf(box) { return Math.max(320, (box.clientWidth || box.parentElement?.clientWidth || 900) - 8); }

// Shaded vertical spans (firing periods, the incident's effect) and labelled marker lines.
function spansPlugin(spans, markers) {
  return {
    hooks: {
      drawClear: [(u) => {
        const { ctx } = u;
        const top = u.bbox.top, height = u.bbox.height;
        ctx.save();
        for (const s of spans) {
          const x0 = u.valToPos(s.from, "x", true), x1 = u.valToPos(s.to, "x", true);
          ctx.fillStyle = s.color || "rgba(255, 77, 79, 0.16)";
          // a strip: a bar of `strip` px along the top (the alert's state), else the full height
          const h = s.strip ? s.strip * devicePixelRatio : height;
          ctx.fillRect(Math.min(x0, x1), top, Math.max(Math.abs(x1 - x0), 2), h);
        }
        ctx.restore();
      }],
      draw: [(u) => {
        const { ctx } = u;
        ctx.save();
        ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
        let row = 0;
        for (const m of markers) {
          const x = u.valToPos(m.at, "x", true);
          if (x < u.bbox.left - 1 || x > u.bbox.left + u.bbox.width + 1) continue;
          ctx.strokeStyle = m.color; ctx.fillStyle = m.color;
          ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
          ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
          ctx.fillText(m.label, x + 4 * devicePixelRatio, u.bbox.top + (12 + 13 * (row++ % 3)) * devicePixelRatio);
        }
        ctx.restore();
      }],
    },
  };
}

// A monitor: its value, its baseline, the band of values that fire, firing periods and alerts.
function monitorChart(box, data, { height = 220 } = {}) {
  const pts = data.points;
  const xs = pts.map((p) => secs(p.t));
  const step = data.step_minutes * 60;
  const value = pts.map((p) => p.value);
  const base = pts.map((p) => p.baseline);
  const hasLow = pts.some((p) => p.band_low !== null), hasHigh = pts.some((p) => p.band_high !== null);
  const top = Math.max(1e-9, ...value.filter((v) => v !== null), ...base.filter((v) => v !== null),
    ...pts.map((p) => p.band_low).filter((v) => v !== null)) * 1.15;
  // the band runs from the threshold to the top of the chart (or from zero to a drop threshold)
  const threshold = pts.map((p) => (hasLow ? p.band_low : hasHigh ? p.band_high : null));
  const edge = pts.map((p) => (hasLow ? (p.band_low === null ? null : top * 4) : hasHigh ? 0 : null));
  // where the alert fired (a light shade and a bar on top, amber where its condition was clear: a flap,
  // the recovery period), and darker, where the raw condition held
  const spans = [];
  for (const a of data.alerting || []) {
    spans.push({ from: secs(a.from), to: secs(a.to), color: "rgba(255, 77, 79, 0.08)" },
      { from: secs(a.from), to: secs(a.to), color: ALERT_RED, strip: 6 });
  }
  for (let i = 0; i < pts.length; i++) {
    if (!pts[i].clear) continue;
    let j = i;
    while (j + 1 < pts.length && pts[j + 1].clear) j++;
    const end = j + 1 < pts.length && !pts[j + 1].alert ? pts[j + 1].t : pts[j].t;  // through the step it resolved in
    spans.push({ from: secs(pts[i].t) - step, to: secs(end), color: RECOVERY_AMBER, strip: 6 });
    i = j;
  }
  for (const f of data.firing) spans.push({ from: secs(f.from), to: secs(f.to), color: "rgba(255, 77, 79, 0.28)" });
  const markers = (data.alerts || []).slice(-5).map((a) => ({ at: secs(a.at), label: "alert", color: "#ff4d4f" }));
  const series = [{}, { label: "value", stroke: "#ff8c1a", width: 2, spanGaps: false, points: { show: false } },
    { label: "baseline", stroke: "#5fb3f9", width: 1.5, dash: [6, 4], points: { show: false } },
    { label: "threshold", stroke: "rgba(255, 77, 79, 0.7)", width: 1, points: { show: false } },
    { label: "", stroke: "transparent", points: { show: false } }];
  const opts = {
    width: widthOf(box), height, legend: { show: true, live: false }, cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true }, y: { range: [0, top] } },
    axes: [{ ...AXIS }, { ...AXIS, size: 56, values: (u, vals) => vals.map((v) => fmtValue(v, data.definition)) }],
    series, bands: hasLow || hasHigh ? [{ series: hasLow ? [4, 3] : [3, 4], fill: "rgba(255, 77, 79, 0.06)" }] : [],
    plugins: [spansPlugin(spans, markers)],
  };
  return new uPlot(opts, [xs, value, base, threshold, edge], box);
}

// The key to a monitor chart's shades (drawn on the canvas, named here as text).
function monitorKey() {
  const item = (cls, text) => el("span", { class: "key-item" }, el("span", { class: "swatch " + cls }), text);
  return el("div", { class: "chart-key muted small" }, item("swatch-alert", "alert firing"),
    item("swatch-recovery", "clear, still firing (until recover_after)"), item("swatch-condition", "condition held"));
}

function fmtValue(v, def) {
  if (v === null || v === undefined) return "";
  const agg = def.aggregate || def.agg;
  if (agg === "rate" || agg === "disparity") return (v * 100).toFixed(v < 0.1 ? 1 : 0) + "%";
  if (def.signal === "latency") return v >= 1000 ? (v / 1000).toFixed(1) + " s" : v.toFixed(0) + " ms";
  if (def.signal === "cost") return "$" + v.toFixed(2);
  return Math.abs(v) >= 100 ? v.toFixed(0) : +v.toPrecision(2) + "";
}

// The blast radius over time: affected calls per step, stacked by tenant, with onset, detection
// and containment marked, and the effect's span shaded.
function blastChart(box, data, { height = 240 } = {}) {
  const xs = data.times.map(secs);
  const stacked = [];
  const acc = xs.map(() => 0);
  for (const t of data.tenants) {
    t.calls.forEach((n, i) => (acc[i] += n));
    stacked.push(acc.slice());
  }
  const bars = uPlot.paths.bars({ size: [0.85, 60], align: 1 });
  const series = [{}];
  const dataArr = [xs];
  // draw the tallest stack first, so each tenant's band shows on top of the one before
  for (let i = data.tenants.length - 1; i >= 0; i--) {
    const color = PALETTE[i % PALETTE.length];
    series.push({ label: data.tenants[i].tenant, fill: color, stroke: color, paths: bars, points: { show: false },
      value: (u, v, si, idx) => (idx === null ? "" : String(data.tenants[i].calls[idx])) });
    dataArr.push(stacked[i]);
  }
  const m = data.markers;
  const markers = [];
  if (m.onset) markers.push({ at: secs(m.onset), label: "onset", color: "#f5c518" });
  if (m.detected_at) markers.push({ at: secs(m.detected_at), label: "detected", color: "#ff8c1a" });
  if (m.contained_at) markers.push({ at: secs(m.contained_at), label: "contained", color: "#3ecf8e" });
  const start = m.onset || m.first_occurrence || m.detected_at;
  const end = m.contained_at || m.resolved_at;
  const spans = start ? [{ from: secs(start), to: end ? secs(end) : xs[xs.length - 1], color: "rgba(255, 140, 26, 0.08)" }] : [];
  const top = Math.max(1, ...acc) * 1.25;
  const opts = {
    width: widthOf(box), height, legend: { show: true, live: false },
    scales: { x: { time: true, range: [xs[0], xs[xs.length - 1] + data.step_seconds] }, y: { range: [0, top] } },
    axes: [{ ...AXIS }, { ...AXIS, size: 44, label: "calls / " + dur(data.step_seconds), labelSize: 18 }],
    series, plugins: [spansPlugin(spans, markers)],
  };
  return new uPlot(opts, dataArr, box);
}
