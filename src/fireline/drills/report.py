"""The drill report, as JSON and as markdown."""

from __future__ import annotations

import json
from pathlib import Path

from fireline.drills.runner import DrillReport


def _s(value: float | None) -> str:
    return f"{value:.2f} s" if value is not None else "not reached"


def markdown(r: DrillReport) -> str:
    inc = r.incident or {}
    lines = [
        f"# Fire drill {r.drill_id}: {r.title}",
        "",
        f"- scenario: `{r.scenario}`, app `{r.app}`, started {r.started_at}",
        f"- harmful answers served to the drill cohort before detection: {r.harmful_sent}",
        f"- incident: {inc.get('id', 'none')} ({inc.get('type', '-')}, {inc.get('severity', '-')}"
        f"{', marked as a drill' if inc.get('drill') else ''})",
        f"- containment: {', '.join(c['kind'] for c in r.controls) or 'none'}"
        f"{' (auto-containment)' if r.auto_contained else ''}",
        "",
        "| from the first harmful answer to | time |",
        "|---|---|",
        f"| detection (incident open) | {_s(r.time_to_detect)} |",
        f"| acknowledgement | {_s(r.time_to_acknowledge)} |",
        f"| containment in force | {_s(r.time_to_contain)} |",
        f"| verified (probes show the harm stopped) | {_s(r.time_to_verify)} |",
        "",
        f"Afterwards: {len(r.cleanup.get('reverted', []))} control(s) reverted, "
        f"{len(r.cleanup.get('left_active', []))} left active, incident {r.cleanup.get('incident_state') or '-'}.",
        "",
        "## What was missing",
        "",
    ]
    lines += [f"- {gap}" for gap in r.gaps] or ["- nothing: detected, contained and verified."]
    return "\n".join(lines) + "\n"


def write(r: DrillReport, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / f"drill-{r.drill_id}.md"
    js = out_dir / f"drill-{r.drill_id}.json"
    md.write_text(markdown(r))
    js.write_text(json.dumps(r.as_dict(), indent=2, default=str))
    return md, js
