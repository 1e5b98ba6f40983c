"""The eval lock on the command line:

    fireline eval run PATH --target URL --app A [-n N] [--max-failure-rate R] [--junit FILE]
                          [--summary FILE] [--model M] [--prompt-version V] [--concurrency C]
    fireline eval export INC [--format yaml|promptfoo|json] [--raw] [--out FILE]
    fireline eval list | show SUITE | import FILE

`eval run` works without a Fireline server (any OpenAI-compatible endpoint, the suite files of a
repo); it exits 0 when every case passed, 1 when a case's upper confidence bound is over the
threshold or no sample of a case could be judged, 2 on a usage error (bad file, bad target).
With FIRELINE_TOKEN set it also reports the result to Fireline (the lock's last result).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from fireline.cli import tables
from fireline.cli.client import Api, fail, write_file
from fireline.cli.tables import Col

eval_app = typer.Typer(help="The eval lock: regression suites from incidents, run in CI.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)
KEY_ENVS = ("FIRELINE_EVAL_API_KEY", "OPENAI_API_KEY", "FIRELINE_TOKEN")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def progress_bar(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True)


def results_table(cases: list[dict[str, Any]], *, arms: bool = False, families: bool = False) -> Table:
    """Failure rate per case with its interval, readable at 80 columns."""
    table = Table(expand=False)
    table.add_column("case", overflow="fold", max_width=28)
    if families:
        table.add_column("family")
    if arms:
        table.add_column("arm")
    for col in ("fails/n", "rate", "95% CI", "status"):
        table.add_column(col, justify="right" if col != "status" else "left")
    for c in cases:
        colour = {"passed": "green", "failed": "red", "error": "yellow"}[c["status"]]
        row = [c["case_id"]]
        if families:
            row.append(c.get("family") or "")
        if arms:
            row.append(c.get("arm") or "")
        conf = f"{_pct(c['ci_low'])}-{_pct(c['ci_high'])}"
        row += [f"{c['failures']}/{c['samples']}" + (f" +{c['errors']}e" if c["errors"] else ""), _pct(c["rate"]),
                conf, f"[{colour}]{c['status']}[/{colour}]"]
        table.add_row(*row)
    return table


def error_summary(cases: list[dict[str, Any]], most: int = 3) -> list[str]:
    """Why samples errored, most frequent first: a table of `error` rows alone does not say."""
    kinds: Counter[str] = Counter()
    for c in cases:
        kinds.update(c.get("error_kinds") or {})
    return [f"{n} errored: {kind}" for kind, n in kinds.most_common(most)]


def _base_url(target: str) -> str:
    try:
        url = httpx.URL(target)
    except Exception:
        fail(f"--target {target!r} is not a URL", 2)
    if url.scheme not in ("http", "https") or not url.host:
        fail(f"--target must be an http(s) URL such as http://127.0.0.1:8700/v1, not {target!r}", 2)
    if url.path in ("", "/"):
        url = url.copy_with(path="/v1")
    return str(url).rstrip("/")


def _rate(value: float | None) -> float | None:
    if value is not None and not 0.0001 <= value <= 0.9999:
        raise typer.BadParameter(f"{value} is not a failure rate between 0 and 1 (e.g. 0.05)")
    return value


@eval_app.command("run")
def run(path: Path = typer.Argument(..., help="a suite file or a directory of them"),
        target: str = typer.Option(..., "--target", help="OpenAI-compatible base URL (the gateway or staging)"),
        app: str = typer.Option(..., "--app", help="the app the calls are for (X-Fireline-App)"),
        n: int | None = typer.Option(None, "-n", min=1, max=10_000, metavar="N",
                                     help="samples per case (default: the suite's)"),
        max_failure_rate: float | None = typer.Option(None, "--max-failure-rate", metavar="R", callback=_rate,
                                                      help="pass at most this failure rate, 0 < R < 1 "
                                                           "(default: each case's)"),
        junit_file: Path | None = typer.Option(None, "--junit", help="write JUnit XML here"),
        summary_file: Path | None = typer.Option(None, "--summary", help="write a Markdown summary here"),
        model: str | None = typer.Option(None, "--model", help="ask for this model"),
        prompt_version: str | None = typer.Option(None, "--prompt-version", help="send as the prompt version"),
        concurrency: int = typer.Option(8, "--concurrency", min=1, max=64, metavar="N",
                                        help="requests in flight"),
        api_key_env: str | None = typer.Option(None, "--api-key-env",
                                               metavar="VAR", help="env var with the target's key "
                                                                   f"(default: {' or '.join(KEY_ENVS)})"),
        report: bool | None = typer.Option(None, "--report/--no-report",
                                           help="send the result to Fireline (default: when FIRELINE_TOKEN is set)"),
        as_json: bool = typer.Option(False, "--json", help="print the reports as JSON")) -> None:
    """Run eval suites N times per case; exit 1 when a case's failure rate is credibly over the threshold."""
    from fireline.config import ConfigError, get_config
    from fireline.evals import report as reports
    from fireline.evals.run import Options, judging_for, run_suite
    from fireline.evals.runner import Target
    from fireline.evals.suite import SuiteError, load

    try:
        suites = load(path)
        config = get_config()
    except (SuiteError, ConfigError) as exc:
        fail(str(exc), 2)
    key = os.environ.get(api_key_env) if api_key_env else next((os.environ[k] for k in KEY_ENVS if os.environ.get(k)),
                                                               None)
    if api_key_env and not key:
        fail(f"--api-key-env: {api_key_env} is not set", 2)
    tgt = Target(base_url=_base_url(target), api_key=key)
    canaries = {t: "(suite)" for s in suites for c in s.cases for t in c.expect.must_not_contain_canaries}
    judging = judging_for(config, canaries)
    opts = Options(app=app, n=n, max_failure_rate=max_failure_rate, model=model, prompt_version=prompt_version,
                   concurrency=concurrency)
    results: list[dict[str, Any]] = []
    with progress_bar(err) as bar:
        for suite in suites:
            task = bar.add_task(f"{suite.id[:30]}", total=None)

            def advance(done: int, total: int, task: Any = task) -> None:
                bar.update(task, completed=done, total=total)

            try:
                rep = run_suite(suite, tgt, opts, judging, config, progress=advance)
            except ValueError as exc:
                fail(str(exc), 2)
            results.append(rep)
    if junit_file:
        write_file(junit_file, reports.junit(results), "--junit")
    summary = reports.markdown(results)
    if summary_file:
        write_file(summary_file, summary, "--summary")
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with open(step, "a", encoding="utf-8") as fh:
            fh.write(summary + "\n")
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        for rep in results:
            out.print(f"[bold]{rep['suite_id']}[/bold] against {rep['target']} ({rep['app']}): "
                      f"{rep['status'].upper()}, {rep['counts']['passed']} passed, {rep['counts']['failed']} failed, "
                      f"{rep['counts']['error']} errors, threshold {_pct(rep['max_failure_rate'])}")
            out.print(results_table(rep["cases"]))
            for line in error_summary(rep["cases"]):
                out.print(f"[yellow]{line}[/yellow]", highlight=False, soft_wrap=True)
    if report or (report is None and os.environ.get("FIRELINE_TOKEN")):
        _report(results)
    if any(r["status"] != "passed" for r in results):
        raise typer.Exit(1)


def _report(results: list[dict[str, Any]]) -> None:
    api = Api()
    for rep in results:
        try:
            resp = api.http.post(f"/api/v1/evals/{rep['suite_id']}/results", json=rep)
        except httpx.HTTPError as exc:
            err.print(f"[yellow]warning:[/yellow] could not report {rep['suite_id']} to {api.url}: "
                      f"{type(exc).__name__}")
            continue
        if resp.status_code >= 400:
            detail = resp.json().get("detail", resp.text) if "json" in resp.headers.get("content-type", "") \
                else resp.text
            err.print(f"[yellow]warning:[/yellow] Fireline did not take the result of {rep['suite_id']}: "
                      f"{resp.status_code} {detail}")
        else:
            err.print(f"reported {rep['suite_id']} to {api.url} (run {resp.json()['id']})")


@eval_app.command("export")
def export(incident_id: str, format: str = typer.Option("yaml", "--format", help="yaml, promptfoo or json"),
           raw: bool = typer.Option(False, "--raw", help="unredacted inputs (responder; access-logged)"),
           out_file: Path | None = typer.Option(None, "--out", help="write here instead of stdout")) -> None:
    """The incident's eval lock as a suite file to keep in your repo (creates the lock if needed)."""
    if format not in ("yaml", "promptfoo", "json"):
        fail(f"--format must be yaml, promptfoo or json, not {format!r}", 2)
    api = Api()
    lock = api.post(f"/api/v1/incidents/{incident_id}/evals", json={"raw": raw})
    body = api.get(f"/api/v1/evals/{lock['id']}/export", params={"format": format, "raw": str(raw).lower()})
    text = json.dumps(body, indent=2) + "\n" if isinstance(body, dict) else body.decode()
    if out_file:
        write_file(out_file, text)
        err.print(f"wrote {out_file} ({lock['cases']} cases)")
    else:
        print(text, end="")


@eval_app.command("list")
def list_suites(wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """Eval suites in Fireline with their last result."""
    got = Api().get("/api/v1/evals")
    if as_json:
        tables.print_json(got)
        return
    tables.show(got["evals"], [
        Col("suite", lambda s: s["id"], id=True),
        Col("incident", lambda s: s.get("incident_id"), wide=True),
        Col("cases", lambda s: s["cases"]),
        Col("last run", lambda s: tables.when((s.get("last_run") or {}).get("finished_at"))),
        Col("result", lambda s: (s.get("last_run") or {}).get("status") or "never run"),
    ], wide=wide, empty="no eval suite")


@eval_app.command("show")
def show(suite_id: str, wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """One suite: its cases and recent runs."""
    s = Api().get(f"/api/v1/evals/{suite_id}")
    if as_json:
        tables.print_json(s)
        return
    out.print(f"[bold]{s['id']}[/bold] {s.get('title') or ''} (incident {s.get('incident_id') or '-'}, "
              f"{s['cases']} cases)", highlight=False, soft_wrap=True)
    tables.show(s["runs"], [
        Col("run", lambda r: r["id"], id=True),
        Col("finished", lambda r: tables.when(r["finished_at"])),
        Col("target", lambda r: r["target"], grow=True),
        Col("source", lambda r: r["source"], wide=True),
        Col("result", lambda r: r["status"]),
    ], wide=wide, empty="no run yet")


@eval_app.command("import")
def import_suite(path: Path) -> None:
    """Store (or replace) a suite file in Fireline, so its results count for the lock."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: {exc.strerror}", 2)
    s = Api().request("PUT", "/api/v1/evals", content=text.encode(), headers={"Content-Type": "application/yaml"})
    out.print(f"stored {s['id']} ({s['cases']} cases)")
