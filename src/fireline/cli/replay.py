"""After-action commands through the API:

    fireline replay INC [--call ID ...] [-n 20] [--prompt-version V | --system-prompt FILE]
                        [--model M] [--seed S] [--upstream NAME] [--red-team [--family F ...]]
                        [--concurrency C] [--yes] [--json]
    fireline verify INC [--window 5m] [--min-calls 20] [--wait SECONDS] [--json]

Replay shows its token and cost estimate and asks before spending (unless --yes), then follows
the job with a progress bar and prints the failure rate per case with its 95% interval, the
current version beside the candidate. `fireline verify` checks a fix (routing and the monitor);
it is not `fireline incident verify`, which checks the timeline's hash chain.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from fireline.cli import tables
from fireline.cli.client import Api, fail
from fireline.cli.evals import progress_bar
from fireline.cli.tables import Col

out = Console()
err = Console(stderr=True)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _rate(a: dict[str, Any] | None) -> str:
    if not a or not a.get("samples"):
        return "no answers" if a else ""
    return f"{_pct(a['rate'])} [{_pct(a['ci_low'])}-{_pct(a['ci_high'])}]"


def _estimate_line(est: dict[str, Any]) -> str:
    cost = f"about ${est['cost_usd']:.4f}" if est.get("cost_usd") is not None else "cost unknown (no pricing)"
    variants = f", {est['variants']} red-team variants" if est.get("variants") else ""
    return (f"{est['cases']} case(s) x {len(est['arms'])} arm(s) ({', '.join(est['arms'])}) x n={est['n']}{variants}"
            f" = {est['requests']} requests to {est['upstream']}\n"
            f"about {est['input_tokens']:,} input + {est['output_tokens']:,} output tokens, {cost}; "
            f"judged by {', '.join(est['judges'])}")


def replay(incident_id: str,
           call: list[str] = typer.Option([], "--call", help="replay only this linked call (repeatable)"),
           n: int | None = typer.Option(None, "-n", min=1, max=10_000, help="samples per case (default 20)"),
           prompt_version: str | None = typer.Option(None, "--prompt-version", help="candidate prompt version"),
           system_prompt: Path | None = typer.Option(None, "--system-prompt", help="candidate prompt from a file"),
           model: str | None = typer.Option(None, "--model", help="candidate model"),
           seed: int | None = typer.Option(None, "--seed", help="sent as `seed` (plus the sample number)"),
           upstream: str | None = typer.Option(None, "--upstream", help="a named upstream (config `upstreams`)"),
           red_team: bool = typer.Option(False, "--red-team", help="also replay variations of the attack input"),
           family: list[str] = typer.Option([], "--family", help="red-team families (default: all)"),
           variants: int = typer.Option(16, "--variants", min=1, max=100, help="at most this many per family"),
           concurrency: int | None = typer.Option(None, "--concurrency", min=1, max=64),
           yes: bool = typer.Option(False, "--yes", "-y", help="do not ask before sending"),
           as_json: bool = typer.Option(False, "--json", help="print the result as JSON")) -> None:
    """Re-send the incident's logged inputs N times and measure the failure rate (current vs candidate)."""
    if prompt_version and system_prompt:
        fail("give the candidate prompt as --prompt-version or --system-prompt, not both", 2)
    body: dict[str, Any] = {"call_ids": call, "n": n, "prompt_version": prompt_version, "model": model, "seed": seed,
                            "upstream": upstream, "red_team": red_team, "families": family, "variants": variants,
                            "concurrency": concurrency}
    if system_prompt is not None:
        try:
            body["system_prompt"] = system_prompt.read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"--system-prompt {system_prompt}: {exc.strerror}", 2)
    body = {k: v for k, v in body.items() if v not in (None, [])}
    api = Api()
    est = api.post(f"/api/v1/incidents/{incident_id}/replays", json={**body, "dry_run": True})["estimate"]
    err.print(f"Replay of {incident_id}: {_estimate_line(est)}", soft_wrap=True, highlight=False)
    for s in est.get("skipped") or []:
        err.print(f"[yellow]skipped[/yellow] call {s['call_id']}: {s['reason']}")
    try:
        go = yes or typer.confirm("Send them?", default=False, err=True)
    except typer.Abort:
        go = False
    if not go:
        fail("not sent (answer y, or pass --yes)", 1)
    job = api.post(f"/api/v1/incidents/{incident_id}/replays", json=body)
    rid = job["id"]
    try:
        with progress_bar(err) as bar:
            task = bar.add_task(rid[:16], total=job["progress"]["total"])
            while job["state"] in ("queued", "running"):
                time.sleep(0.3)
                job = api.get(f"/api/v1/incidents/{incident_id}/replays/{rid}")
                bar.update(task, completed=job["progress"]["done"])
    except KeyboardInterrupt:
        api.delete(f"/api/v1/incidents/{incident_id}/replays/{rid}")
        fail(f"cancelled replay {rid}", 130)
    if job["state"] != "done":
        fail(f"replay {rid} {job['state']}: {job.get('error') or ''}")
    result = job["result"]
    if as_json:
        print(json.dumps(job, indent=2))
        return
    print_result(rid, result)


def print_result(rid: str, result: dict[str, Any]) -> None:
    arms = list(result["arms"])
    table = Table(title=f"{rid}: failure rate (95% CI), n={result['n']}")
    table.add_column("case", max_width=8)
    table.add_column("input", overflow="fold", max_width=30)
    for arm in arms:
        table.add_column(arm, justify="right")
    for c in result["cases"]:
        table.add_row(c["case_id"], c["label"], *[_rate(c["arms"].get(a)) for a in arms])
    table.add_row("all", "", *[_rate(result["summary"].get(a)) for a in arms], style="bold")
    out.print(table)
    if result.get("families"):
        fams = Table(title="red-team families")
        fams.add_column("family")
        fams.add_column("variants", justify="right")
        for arm in arms:
            fams.add_column(arm, justify="right")
        names = sorted({f["family"] for f in result["families"]})
        for name in names:
            rows = {f["arm"]: f for f in result["families"] if f["family"] == name}
            fams.add_row(name, str(max(f["variants"] for f in rows.values())), *[_rate(rows.get(a)) for a in arms])
        out.print(fams)
    errors = sum(a.get("errors", 0) for a in result["summary"].values())
    out.print(f"{sum(a['samples'] for a in result['summary'].values())} answers judged by "
              f"{', '.join(result['judges'])} in {result['seconds']:.1f} s"
              + (f"; [yellow]{errors} requests failed[/yellow]" if errors else ""))


def replays(incident_id: str, wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """The incident's replay jobs, newest first (`fireline replay` starts one)."""
    got = Api().get(f"/api/v1/incidents/{incident_id}/replays")
    if as_json:
        tables.print_json(got)
        return
    tables.show(got["replays"], [
        Col("replay", lambda j: j["id"], id=True),
        Col("state", lambda j: j["state"]),
        Col("done", lambda j: f"{j['progress']['done']}/{j['progress']['total']}"),
        Col("started", lambda j: tables.when(j.get("started_at") or j.get("created_at"))),
        Col("arms", lambda j: (j.get("estimate") or {}).get("arms"), wide=True),
        Col("by", lambda j: j.get("created_by"), wide=True),
    ], wide=wide, empty=f"{incident_id}: no replay yet")


PENDING_EXIT = 3


def verify(incident_id: str,
           window: str | None = typer.Option(None, "--window", help="new traffic to judge: 30s, 5m, 1h"),
           min_calls: int | None = typer.Option(None, "--min-calls", min=1, help="calls needed since the fix"),
           wait: float = typer.Option(0.0, "--wait", min=0, help="keep checking up to this many seconds"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Verify the fix on new traffic: exit 0 passed, 1 failed, 3 still pending.

    Passes when new traffic runs on the pinned version and the monitor that fired is back under its
    baseline for a window. (The timeline's hash chain is `fireline incident verify`.)"""
    api = Api()
    body: dict[str, Any] = {k: v for k, v in {"window": window, "min_calls": min_calls}.items() if v is not None}
    path = f"/api/v1/incidents/{incident_id}/fix-verification"
    deadline = time.monotonic() + wait
    result = api.post(path, json={**body, "record": wait <= 0})
    with err.status(f"verifying {incident_id}: {result['summary']}") as status:
        while result["verdict"] == "pending" and time.monotonic() < deadline:
            time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))
            result = api.post(path, json={**body, "record": False})
            status.update(f"verifying {incident_id}: {result['summary']}")
    if wait > 0:  # the verdict the wait ended on goes on the timeline once
        result = api.post(path, json={**body, "record": True})
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        colour = {"passed": "green", "failed": "red", "pending": "yellow"}[result["verdict"]]
        out.print(f"{incident_id}: fix verification [{colour}]{result['verdict'].upper()}[/{colour}] "
                  f"(since {result['since'][:19]}, window {result['window']})", highlight=False)
        table = Table("check", "status", "detail")
        for c in result["checks"]:
            table.add_row(c["check"], c["status"], c["detail"])
        out.print(table)
    if result["verdict"] != "passed":
        raise typer.Exit(1 if result["verdict"] == "failed" else PENDING_EXIT)
