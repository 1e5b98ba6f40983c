"""A demanding user's mistakes, against a real server on loopback: each is one line naming the
option or field and a non-zero exit, never a traceback. Ids a client chose with `/`, `?` or `#`
in them can be read and erased; time options take "6h"; help reads at 80 columns."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer

from fireline import config
from fireline.cli.main import app
from tests.support.cli import invoke as cli
from tests.support.cli import runner
from tests.support.fireline import Fireline
from tests.support.forkcli import ForkCli


def run(args: list[str], **env: str) -> tuple[int, str]:
    """`fireline ARGS` at 80 columns with exactly these FIRELINE_ variables."""
    config.reset()
    try:
        result = runner.invoke(app, args, env={"FIRELINE_URL": "", "FIRELINE_TOKEN": "", "COLUMNS": "80", **env})
    finally:
        config.reset()
    return result.exit_code, result.output


def one_line(code: int, out: str, *needles: str, exit_code: int = 1) -> None:
    """The command failed with `exit_code` and said so in one line holding every needle."""
    assert code == exit_code, out
    assert "Traceback" not in out, out
    lines = [line for line in out.splitlines() if line.strip()]
    if exit_code == 2 and lines and lines[0].startswith("Usage:"):  # click's usage error: the last line
        lines = lines[-1:]
    assert len(lines) == 1, f"more than one line:\n{out}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"


def declare(fl: Fireline) -> str:
    with fl.client("responder") as http:
        resp = http.post("/api/v1/incidents", json={"title": "audit", "type": "hallucination", "severity": "P3"})
        resp.raise_for_status()
        inc: str = resp.json()["id"]
        http.post(f"/api/v1/incidents/{inc}/snapshots", json={}).raise_for_status()
    return inc


def test_a_wrong_server_address_or_key_is_one_line(fl: Fireline) -> None:
    one_line(*run(["incident", "list"], FIRELINE_URL="notaurl", FIRELINE_TOKEN="x"), "FIRELINE_URL=notaurl")
    one_line(*run(["incident", "list"], FIRELINE_URL="ftp://127.0.0.1", FIRELINE_TOKEN="x"), "FIRELINE_URL")
    # a server that is not Fireline's API (here: a path under it no route serves) is named
    one_line(*run(["incident", "list"], FIRELINE_URL=fl.url + "/nope", FIRELINE_TOKEN=fl.keys["admin"]),
             "404", fl.url + "/nope/api/v1/incidents", "FIRELINE_URL")
    one_line(*run(["incident", "list"], FIRELINE_URL=fl.url, FIRELINE_TOKEN="fl_admin_wrong"),
             "FIRELINE_TOKEN was refused", "invalid or revoked")
    one_line(*run(["incident", "list"], FIRELINE_URL=fl.url), "set FIRELINE_TOKEN")
    # a long server message stays one line at 80 columns (it is not wrapped into several)
    one_line(*run(["incident", "declare", "--title", "x", "--type", "bogus"], FIRELINE_URL=fl.url,
                  FIRELINE_TOKEN=fl.keys["responder"]), "422", "type: unknown incident type 'bogus'", "availability")


def test_an_output_file_that_cannot_be_written_is_named(fl: Fireline, tmp_path: Path) -> None:
    inc = declare(fl)
    nowhere = tmp_path / "missing-dir"
    code, out = cli(fl, "responder", "evidence", "export", inc, "--out", str(nowhere / "x.tar.gz"))
    one_line(code, out, f"--out {nowhere / 'x.tar.gz'}: cannot write: No such file or directory")
    code, out = cli(fl, "responder", "postmortem", inc, "--out", str(nowhere / "pm.md"))
    one_line(code, out, f"--out {nowhere / 'pm.md'}: cannot write")
    code, out = cli(fl, "responder", "blast-radius", inc, "--affected", "--out", str(nowhere / "who.csv"))
    one_line(code, out, f"--out {nowhere / 'who.csv'}: cannot write")
    # --out without --affected used to be ignored silently
    code, out = cli(fl, "responder", "blast-radius", inc, "--out", str(tmp_path / "who.csv"))
    one_line(code, out, "--affected", exit_code=2)
    assert not (tmp_path / "who.csv").exists()
    code, out = cli(fl, "responder", "evidence", "export", inc, "--out", str(tmp_path / "x.tar.gz"))
    assert code == 0 and (tmp_path / "x.tar.gz").stat().st_size > 0, out


IDS = ["c/1", "c?1", "c#1", "c%2F1", "c 1"]


def test_client_chosen_ids_with_url_characters_can_be_read_and_erased(fl: Fireline) -> None:
    with fl.client("ingest") as http:
        for i, call_id in enumerate(IDS):
            http.post("/api/v1/calls", json={"id": call_id, "app": "bot", "user": f"team/{i}?x#y",
                                             "input": [{"role": "user", "content": "hello"}],
                                             "output": "hi"}).raise_for_status()
    with fl.client("viewer") as http:
        for call_id in IDS:
            resp = http.get(f"/api/v1/calls/{quote(call_id, safe='')}")
            assert resp.status_code == 200 and resp.json()["id"] == call_id, (call_id, resp.text)
    for call_id in IDS:
        code, out = cli(fl, "viewer", "calls", "show", call_id)
        assert code == 0 and f'"id": "{call_id}"' in out, out
    code, out = cli(fl, "responder", "erase", "--user", "team/1?x#y")
    assert code == 0, out
    assert [line.split()[-2] for line in out.splitlines() if "deleted calls" in line] == ["1"], out
    code, out = cli(fl, "viewer", "calls", "show", "c?1")
    one_line(code, out, "404", "no call with id c?1")


def test_incident_and_control_filters_name_the_misspelt_value(fl: Fireline) -> None:
    declare(fl)
    code, out = cli(fl, "viewer", "incident", "list", "--state", "acknowleged")
    one_line(code, out, "422", "state: unknown state 'acknowleged'", "acknowledged")
    one_line(*cli(fl, "viewer", "incident", "list", "--severity", "P0,P9"), "severity: 'P9'")
    one_line(*cli(fl, "viewer", "incident", "list", "--type", "halucination"), "type: unknown incident type")
    one_line(*cli(fl, "viewer", "controls", "list", "--kind", "killswitch"), "kind:", "'kill_switch'")
    code, out = cli(fl, "viewer", "incident", "list", "--state", "acknowledged,contained", "--severity", "P3",
                    "--type", "hallucination")
    assert code == 0 and "INC-" in out, out


def test_malformed_yaml_is_one_line_with_its_line_and_column(fl: Fireline, tmp_path: Path) -> None:
    bad = tmp_path / "suite.yaml"
    bad.write_text("id: x\ncases: [\n")
    code, out = cli(fl, "responder", "eval", "run", str(bad), "--target", fl.url + "/v1", "--app", "bot")
    one_line(code, out, "suite.yaml: not valid YAML: line 3, column 1:", exit_code=2)
    code, out = cli(fl, "responder", "eval", "import", str(bad))
    one_line(code, out, "422", "suite: not valid YAML or JSON: line 3, column 1:")
    scenario = tmp_path / "drill.yaml"
    scenario.write_text("name: x\nsteps: {a: [}\n")
    code, out = cli(fl, "responder", "drill", "--scenario", str(scenario))
    one_line(code, out, "scenario", "not valid YAML: line 2, column")


def test_offline_evidence_verify_names_the_bad_argument(tmp_path: Path) -> None:
    one_line(*run(["evidence", "verify", str(tmp_path / "none.tar.gz")]), "does not exist", exit_code=2)
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(b"not a bundle")
    one_line(*run(["evidence", "verify", str(bundle), "--public-key", "@" + str(tmp_path / "none.pub")]),
             "--public-key", "cannot read", exit_code=2)
    for key in ("notbase64", "QUFB"):
        one_line(*run(["evidence", "verify", str(bundle), "--public-key", key]), "--public-key: not an Ed25519",
                 exit_code=2)


def test_search_filters_are_checked_and_times_take_a_duration_ago(fl: Fireline) -> None:
    with fl.client("ingest") as http:
        http.post("/api/v1/calls", json={"id": "recent-1", "app": "bot", "output": "hi"}).raise_for_status()
    code, out = cli(fl, "viewer", "calls", "search", "--since", "1h")
    assert code == 0 and "recent-1" in out, out
    code, out = cli(fl, "viewer", "calls", "search", "--until", "1h")
    assert code == 0 and "recent-1" not in out, out
    one_line(*cli(fl, "viewer", "calls", "search", "--since", "yesterday"), "since:")
    one_line(*cli(fl, "viewer", "calls", "search", "--status", "okay"), "status:", "'blocked'")
    code, out = cli(fl, "viewer", "calls", "search", "--status", "ok")
    assert code == 0 and "recent-1" in out, out
    one_line(*cli(fl, "viewer", "calls", "search", "--since", "99999d"), "--since", exit_code=2)
    code, out = cli(fl, "viewer", "changes", "--since", "2h")
    assert code == 0, out


def serve_refused(tmp_path: Path, *args: str, fork_cli: ForkCli | None = None, **extra_env: str) -> tuple[int, str]:
    """`fireline serve ARGS` as its own process (the installed script, or forked from the CLI helper:
    tests/support/forkcli.py): one that started serving would run into the timeout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env.update(FIRELINE_DATABASE_URL=f"sqlite:///{tmp_path}/fl.db", FIRELINE_SECRET="x", COLUMNS="80", **extra_env)
    if fork_cli is not None:
        done = fork_cli.run(["serve", *args], env=env, cwd=tmp_path, timeout=60)
        return done.returncode, done.stdout + done.stderr
    proc = subprocess.run([str(Path(sys.executable).with_name("fireline")), "serve", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


def test_serve_refuses_a_port_out_of_range(tmp_path: Path, fork_cli: ForkCli) -> None:
    one_line(*serve_refused(tmp_path, "--port", "70000"), "--port", exit_code=2)
    one_line(*serve_refused(tmp_path, "--port", "1", "--log-level", "loud", fork_cli=fork_cli),
             "--log-level must be one of", exit_code=2)


def test_a_malformed_environment_variable_is_one_line_naming_it(tmp_path: Path, fork_cli: ForkCli) -> None:
    one_line(*serve_refused(tmp_path, "--port", "1", fork_cli=fork_cli, FIRELINE_REDIS_URL="localhost:6379"),
             "FIRELINE_REDIS_URL: a Redis URL starts with redis://")
    one_line(*run(["incident", "list"], FIRELINE_DB_CONNECT_TIMEOUT_S="soon"), "FIRELINE_DB_CONNECT_TIMEOUT_S:")


def _commands(cmd: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _commands(sub, [*path, name])


def test_every_help_reads_at_80_columns_with_every_option_whole() -> None:
    problems = []
    for path, cmd in _commands(typer.main.get_command(app), []):
        code, out = run([*path, "--help"])
        if code != 0:
            problems.append(f"{path}: exit {code}")
        if not (cmd.help or "").strip():
            problems.append(f"{path}: no help text")
        problems += [f"{path}: wider than 80: {line!r}" for line in out.splitlines() if len(line) > 80]
        problems += [f"{path}: option {opt} cut or missing" for p in cmd.params
                     for opt in [*p.opts, *p.secondary_opts] if opt.startswith("-") and opt not in out]
        short = cmd.get_short_help_str(60)
        if short.endswith(("Art.", "e.g.", "i.e.")):  # click stops the summary at the first period
            problems.append(f"{path}: summary cut at an abbreviation: {short!r}")
    assert not problems, "\n".join(problems)


def test_a_usage_mistake_is_one_error_line() -> None:
    one_line(*run(["incident", "list", "--limit", "abc"]), "Error:", "'--limit'", exit_code=2)
    one_line(*run(["eval", "run", "x", "--target", "t", "--app", "a", "--max-failure-rate", "3"]),
             "--max-failure-rate", "between 0 and 1", exit_code=2)


def test_a_drill_against_an_unreachable_server_is_one_error_line(tmp_path: Path) -> None:
    code, out = run(["drill", "--scenario", "refusal_spike", "--out", str(tmp_path)],
                    FIRELINE_URL="http://127.0.0.1:9", FIRELINE_TOKEN="x")
    assert code == 1 and "Traceback" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot reach Fireline at http://127.0.0.1:9" in errors[0], out


def test_version_is_printed() -> None:
    from fireline import __version__

    code, out = run(["--version"])
    assert code == 0 and out.strip() == f"fireline {__version__}", out


def test_a_blank_name_or_title_is_refused_naming_the_option_or_field(fl: Fireline) -> None:
    """`keys create --name ""` (or only spaces) made a key nobody could tell apart in `keys list`;
    it is refused naming --name before anything is written, and the API answers 422 naming the
    field. The same for the other texts a person must read: an incident's title, a note, a canary's
    tenant, a change's or a call's app, an action item's owner."""
    with fl.client("admin") as http:
        keys_before = len(http.get("/api/v1/keys").json()["keys"])
    for name in ("", "   ", "\t", "x" * 201):
        one_line(*run(["keys", "create", "--role", "viewer", "--name", name]), "--name", exit_code=2)
    with fl.client("admin") as http:
        for body in ({"role": "viewer", "name": ""}, {"role": "viewer", "name": " \n "},
                     {"role": "viewer", "name": "x" * 201}, {"role": "viewer", "nmae": "dash"}):
            r = http.post("/api/v1/keys", json=body)
            assert r.status_code == 422 and r.json()["field"] in ("name", "nmae"), r.text
        assert len(http.get("/api/v1/keys").json()["keys"]) == keys_before  # nothing half-made
        r = http.post("/api/v1/keys", json={"role": "viewer", "name": "  dash  "})
        assert r.status_code == 201 and r.json()["name"] == "dash"
    inc = declare(fl)
    blank = "  "
    cases = [("/api/v1/incidents", {"title": blank, "type": "hallucination", "severity": "P3"}, "title"),
             (f"/api/v1/incidents/{inc}/notes", {"text": blank}, "text"),
             (f"/api/v1/incidents/{inc}/assign", {"role": "commander", "who": blank}, "who"),
             (f"/api/v1/incidents/{inc}/actions", {"title": "add a lock", "owner": blank, "due": "2030-01-01"},
              "owner"),
             ("/api/v1/canaries", {"tenant": blank, "token": "CANARY-0123456789"}, "tenant"),
             ("/api/v1/changes", {"kind": "prompt", "app": blank, "to": "v13"}, "app"),
             ("/api/v1/calls", {"app": blank, "output": "hi"}, "app")]
    with fl.client("admin") as http:
        for path, body, field in cases:
            r = http.post(path, json=body)
            assert r.status_code == 422, (path, r.text)
            assert r.json()["field"] == field and "empty or only whitespace" in r.json()["detail"], (path, r.text)
    code, out = run(["incident", "declare", "--title", " ", "--type", "hallucination"],
                    FIRELINE_URL=fl.url, FIRELINE_TOKEN=fl.keys["responder"])
    one_line(code, out, "title")
