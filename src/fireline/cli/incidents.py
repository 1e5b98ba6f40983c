"""`fireline incident ...`, `fireline blast-radius INC` and `fireline evidence export|verify`.

Everything but `evidence verify` goes through the HTTP API (FIRELINE_URL, FIRELINE_TOKEN);
`evidence verify FILE` works offline on an exported bundle.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from fireline.cli import tables
from fireline.cli.client import Api, err, fail, write_file
from fireline.cli.tables import Col

out = Console()
incident_app = typer.Typer(help="Incidents: declare, acknowledge, assign, contain, resolve (via the API).",
                           no_args_is_help=True)
evidence_app = typer.Typer(help="Evidence snapshots: export a bundle (via the API), verify one offline.",
                           no_args_is_help=True)


def _print_incident(inc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(inc))
        return
    table = Table(show_header=False, box=None)
    roles = inc.get("roles", {})
    rows = [("id", inc["id"]), ("title", inc["title"]), ("state", inc["state"]),
            ("severity", inc["severity"]), ("type", inc["type"]),
            ("ids", " ".join(inc.get("owasp", []) + [a.split(" ")[0] for a in inc.get("atlas", [])])),
            ("commander", inc.get("commander") or "-"), ("comms lead", roles.get("comms_lead") or "-"),
            ("scribe", roles.get("scribe") or "-"), ("responders", ", ".join(roles.get("responders", [])) or "-"),
            ("apps", ", ".join(inc["apps"]) or "-"), ("linked calls", str(len(inc["linked_calls"]))),
            ("detected", inc["detected_at"]), ("acknowledged", inc["acknowledged_at"] or "-"),
            ("contained", inc["contained_at"] or "-"), ("resolved", inc["resolved_at"] or "-"),
            ("ack due", inc["sla"]["ack_due_at"]), ("contain due", inc["sla"]["contain_due_at"])]
    for key in ("ack_breached_at", "contain_breached_at"):
        if inc["sla"].get(key):
            rows.append((key.replace("_", " "), inc["sla"][key]))
    if inc.get("drill"):
        rows.insert(1, ("drill", "yes: drill channels only, no disclosure clock, drill metrics"))
    if inc.get("merged_into"):
        rows.append(("merged into", inc["merged_into"]))
    if inc.get("related"):
        rows.append(("related", ", ".join(f"{r['id']} ({r['kind'].replace('_', ' ')})" for r in inc["related"])))
    for key, value in rows:
        table.add_row(f"[bold]{key}[/bold]", str(value))
    out.print(table)


INCIDENT_COLUMNS = [
    Col("id", lambda i: i["id"], id=True),
    Col("sev", lambda i: i["severity"]),
    Col("state", lambda i: i["state"], max_width=12),
    Col("type", lambda i: i["type"], wide=True),
    Col("title", lambda i: i["title"], grow=True),
    Col("commander", lambda i: i["commander"], wide=True),
    Col("apps", lambda i: i.get("apps") or [], wide=True),
    Col("detected", lambda i: tables.when(i["detected_at"]), wide=True),
]
TIMELINE_COLUMNS = [
    Col("seq", lambda e: e["seq"]),
    Col("at", lambda e: tables.when(e["at"], seconds=True)),
    Col("kind", lambda e: e["kind"], wide=True),
    Col("what happened", lambda e: e.get("text") or f"{e['actor']} {e['kind']}", wrap=True),
    Col("data", lambda e: json.dumps(e["data"], default=str), wide=True, max_width=60),
]


@incident_app.command("list")
def list_(state: str | None = typer.Option(None, help="e.g. detected,acknowledged"),
          type: str | None = None, severity: str | None = None, app: str | None = None, limit: int = 50,
          wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """Incidents, newest first."""
    params = {k: v for k, v in dict(state=state, type=type, severity=severity, app=app, limit=limit).items()
              if v is not None}
    got = Api().get("/api/v1/incidents", params=params)["incidents"]
    if as_json:
        tables.print_json({"incidents": got})
        return
    tables.show(got, INCIDENT_COLUMNS, wide=wide, empty="no incident")


@incident_app.command("show")
def show(incident_id: str, timeline: bool = typer.Option(False, "--timeline", help="print the timeline too"),
         wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """One incident: state, severity, type, roles, linked calls and SLA clocks."""
    api = Api()
    _print_incident(api.get(f"/api/v1/incidents/{incident_id}"), as_json)
    if timeline:
        entries = api.get(f"/api/v1/incidents/{incident_id}/timeline")["entries"]
        if as_json:
            tables.print_json({"entries": entries})
        else:
            tables.show(entries, TIMELINE_COLUMNS, wide=wide, title="timeline")


@incident_app.command("timeline")
def timeline_cmd(incident_id: str, kind: str | None = typer.Option(None, help="only entries of this kind"),
                 wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """The incident's timeline, oldest first (`--json` for every field of every entry)."""
    entries = Api().get(f"/api/v1/incidents/{incident_id}/timeline", params={"kind": kind} if kind else None)
    if as_json:
        tables.print_json(entries)
        return
    tables.show(entries["entries"], TIMELINE_COLUMNS, wide=wide, empty="no entry")


def _split(values: list[str]) -> list[str]:
    return [v for item in values for v in item.split(",") if v]


@incident_app.command("declare")
def declare(title: str = typer.Option(..., "--title"), type: str = typer.Option(..., "--type"),
            severity: str | None = typer.Option(None, "--severity", help="P0..P3; else the triage matrix"),
            app: list[str] = typer.Option([], "--app"), tenant: list[str] = typer.Option([], "--tenant"),
            model: list[str] = typer.Option([], "--model"),
            prompt_version: list[str] = typer.Option([], "--prompt-version"),
            tool: list[str] = typer.Option([], "--tool"), call: list[str] = typer.Option([], "--call"),
            summary: str | None = None, as_json: bool = typer.Option(False, "--json")) -> None:
    """Declare an incident by hand: it starts acknowledged with you as commander."""
    body: dict[str, Any] = {"title": title, "type": type, "apps": _split(app), "tenants": _split(tenant),
                            "models": _split(model), "prompt_versions": _split(prompt_version),
                            "tools": _split(tool), "call_ids": _split(call)}
    if severity:
        body["severity"] = severity
    if summary:
        body["summary"] = summary
    inc = Api().post("/api/v1/incidents", json=body)
    if not as_json:
        out.print(f"declared {inc['id']} ({inc['severity']}, {inc['type']}), commander {inc['commander']}")
    _print_incident(inc, as_json)


def _move(action: str, label: str) -> Any:
    def command(incident_id: str, reason: str | None = typer.Option(None, "--reason")) -> None:
        inc = Api().post(f"/api/v1/incidents/{incident_id}/{action}", json={"reason": reason})
        out.print(f"{inc['id']} is {inc['state']}")
    command.__doc__ = label
    return command


for _action, _label in (("ack", "Acknowledge (takes a snapshot; you become commander if none)."),
                        ("contain", "Mark contained (a snapshot is taken first if anything changed)."),
                        ("resolve", "Resolve."), ("close", "Close (releases the legal holds)."),
                        ("false-positive", "Mark as a false positive (frees the dedup key, releases holds).")):
    incident_app.command(_action)(_move(_action, _label))


@incident_app.command("link")
def link(incident_id: str, other: str, reason: str | None = typer.Option(None, "--reason")) -> None:
    """Mark two incidents as related (an entry on both timelines)."""
    got = Api().post(f"/api/v1/incidents/{incident_id}/links", json={"other": other, "reason": reason})
    out.print(f"{incident_id} is linked to: " + ", ".join(f"{x['id']} ({x['kind'].replace('_', ' ')})"
                                                          for x in got["links"]))


@incident_app.command("merge")
def merge(incident_id: str, into: str = typer.Option(..., "--into", help="the incident that carries on"),
          reason: str = typer.Option(..., "--reason")) -> None:
    """Merge an incident into another: its calls, scope and alerts move; it ends as `merged`."""
    inc = Api().post(f"/api/v1/incidents/{incident_id}/merge", json={"into": into, "reason": reason})
    out.print(f"{incident_id} merged into {inc['id']} ({inc['severity']}, {inc['state']}, "
              f"{len(inc['linked_calls'])} linked calls)")


@incident_app.command("assign")
def assign(incident_id: str, role: str = typer.Argument(..., help="commander, comms_lead, scribe, responder"),
           who: str = typer.Argument(...), remove: bool = typer.Option(False, "--remove"),
           reason: str | None = typer.Option(None, "--reason")) -> None:
    """Give someone a role on the incident (or take it away with --remove)."""
    inc = Api().post(f"/api/v1/incidents/{incident_id}/assign",
                     json={"role": role.replace("-", "_"), "who": who, "remove": remove, "reason": reason})
    roles = inc["roles"]
    out.print(f"{inc['id']}: commander {roles['commander'] or '-'}, comms lead {roles['comms_lead'] or '-'}, "
              f"scribe {roles['scribe'] or '-'}, responders {', '.join(roles['responders']) or '-'}")


@incident_app.command("severity")
def severity(incident_id: str, level: str = typer.Argument(..., help="P0..P3"),
             reason: str = typer.Option(..., "--reason")) -> None:
    """Change the severity (on the timeline, with the reason); the SLA clocks follow."""
    inc = Api().post(f"/api/v1/incidents/{incident_id}/severity", json={"severity": level, "reason": reason})
    out.print(f"{inc['id']} is {inc['severity']}; ack due {inc['sla']['ack_due_at']}")


@incident_app.command("retype")
def retype(incident_id: str, type_: str = typer.Argument(..., metavar="TYPE", help="an incident type of TAXONOMY.md"),
           reason: str = typer.Option(..., "--reason"),
           level: str | None = typer.Option(None, "--severity", help="P0..P3 (else unchanged)")) -> None:
    """Correct the incident's type (on the timeline); its playbook follows the new type."""
    body: dict[str, Any] = {"type": type_, "reason": reason}
    if level:
        body["severity"] = level
    inc = Api().post(f"/api/v1/incidents/{incident_id}/type", json=body)
    out.print(f"{inc['id']} is {inc['type']} {inc['severity']}; playbook {inc['playbook']}")


@incident_app.command("note")
def note(incident_id: str, text: str, kind: str = typer.Option("note", help="note, decision, hypothesis, action")
         ) -> None:
    """Add a note, decision, hypothesis or action to the timeline."""
    entry = Api().post(f"/api/v1/incidents/{incident_id}/notes", json={"text": text, "kind": kind})
    out.print(f"entry {entry['seq']} {entry['hash'][:12]}")


@incident_app.command("verify")
def verify(incident_id: str,
           head: str | None = typer.Option(None, "--head", help="a head SEQ:HASH kept outside the database "
                                                                  "(from a notification, an export or an earlier run)")
           ) -> None:
    """Check the timeline's hash chain and signatures; exit 1 naming the first broken entry.

    Also checks an anchored head (--head), and prints the head to keep outside the database."""
    result = Api().get(f"/api/v1/incidents/{incident_id}/verify", params={"head": head} if head else None)
    if not result["ok"]:
        fail(f"timeline of {incident_id} is broken at entry {result['first_broken']}: {result['reason']}")
    top = result.get("head") or {}
    out.print(f"timeline of {incident_id} verifies: {result['entries']} entries signed by key {result.get('key_id')}"
              + (f", anchored head {head} found" if head else ""))
    if top:
        out.print(f"head {top['seq']}:{top['hash']}  (keep it: `fireline incident verify {incident_id} --head ...`)",
                  highlight=False, soft_wrap=True)


def blast_radius(incident_id: str, as_json: bool = typer.Option(False, "--json"),
                 affected: bool = typer.Option(False, "--affected", help="list who was reached (responder; "
                                                                           "access-logged)"),
                 out_path: Path | None = typer.Option(None, "--out", help="with --affected: write a CSV"),
                 reason: str = typer.Option("notification", "--reason", help="with --affected: why")) -> None:
    """Who and what the incident reaches: users, sessions, tenants, calls, onset, PII."""
    if out_path is not None and not affected:
        fail("--out writes the list of who was reached: add --affected", 2)
    if affected:
        who = Api().get(f"/api/v1/incidents/{incident_id}/affected", params={"reason": reason})
        if out_path is not None:
            rows = ["kind,id"] + [f"{k[:-1]},{v}" for k in ("users", "sessions", "tenants", "calls") for v in who[k]]
            write_file(out_path, "\n".join(rows) + "\n")
            out.print(f"{len(who['users'])} users, {len(who['sessions'])} sessions, {len(who['tenants'])} "
                      f"tenants, {len(who['calls'])} calls written to {out_path}")
        else:
            out.print_json(json.dumps(who))
        return
    got = Api().get(f"/api/v1/incidents/{incident_id}/blast-radius")
    if as_json:
        out.print_json(json.dumps(got))
        return
    if got.get("status") == "unknown":
        out.print(f"blast radius of {incident_id} is unknown: {got.get('reason')}")
        return
    table = Table("what", "value")
    for key in ("calls", "users", "sessions", "tenants", "onset", "first_occurrence", "detected_at",
                "contained_at", "answered_after_containment"):
        table.add_row(key.replace("_", " "), str(got.get(key)))
    for entity, n in got["pii"].items():
        table.add_row(f"pii {entity}", str(n))
    out.print(table)


@evidence_app.command("export")
def export(incident_id: str, out_path: Path = typer.Option(..., "--out", help="FILE.tar.gz"),
           snapshot: str | None = typer.Option(None, "--snapshot", help="a snapshot id; default the latest"),
           take: bool = typer.Option(False, "--take", help="take a fresh snapshot first")) -> None:
    """Download an evidence snapshot as a signed bundle (verify it with `evidence verify`)."""
    api = Api()
    with err.status(f"exporting the evidence of {incident_id}...") as status:
        if take:
            status.update(f"taking a snapshot of {incident_id}...")
            snapshot = api.post(f"/api/v1/incidents/{incident_id}/snapshots", json={"reason": "export"})["id"]
        if snapshot is None:
            snaps = api.get(f"/api/v1/incidents/{incident_id}/snapshots")["snapshots"]
            if not snaps:
                fail(f"{incident_id} has no snapshot yet: use --take")
            snapshot = snaps[-1]["id"]
        status.update(f"downloading snapshot {snapshot[:12]}...")
        data = api.get(f"/api/v1/snapshots/{snapshot}/export")
    write_file(out_path, data)
    out.print(f"wrote {out_path} ({len(data):,} bytes), snapshot {snapshot}")


@evidence_app.command("verify")
def verify_file(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="an exported bundle"),
                expect: str | None = typer.Option(None, "--expect", help="the snapshot id to expect"),
                public_key: str | None = typer.Option(None, "--public-key",
                                                      help="the server's signing key (base64, or @FILE); default "
                                                           "the key of this machine's FIRELINE_SECRET, if any"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Check an exported bundle offline (no server needed).

    Checks its signature, manifest digest, every member, the timeline chain and every entry's signature."""
    from fireline import signing
    from fireline.incidents.bundle import verify_bundle

    pinned = public_key
    if pinned and pinned.startswith("@"):
        try:
            pinned = Path(pinned[1:]).read_text().strip()
        except OSError as exc:
            fail(f"--public-key {pinned}: cannot read: {exc.strerror or exc}", 2)
    if pinned:
        try:
            raw_key = base64.b64decode(pinned, validate=True)
        except (binascii.Error, ValueError):
            raw_key = b""
        if len(raw_key) != 32:
            fail("--public-key: not an Ed25519 public key in base64 (`fireline evidence public-key` prints it)", 2)
    report = verify_bundle(path, pinned or signing.local_public_key())
    if expect and report.snapshot_id != expect:
        report.bad("SNAPSHOT", f"is {report.snapshot_id}, expected {expect}")
    if as_json:
        out.print_json(json.dumps(report.as_json()))
    if not report.ok:
        for member, problem in report.problems[1:]:
            err.print(f"[red]bad member[/red] {member}: {problem}", highlight=False)
        member, problem = report.problems[0]
        more = f" (and {len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
        fail(f"{path}: bad member {member}: {problem}{more}")
    if not as_json:
        out.print(f"{path}: OK, snapshot {report.snapshot_id} of {report.incident_id}, {report.members} members, "
                  f"signed by key {report.key_id}", highlight=False, soft_wrap=True)
        if report.head:
            out.print(f"timeline head at export {report.head['seq']}:{report.head['hash']}", highlight=False,
                      soft_wrap=True)
        if not report.pinned:
            err.print("[yellow]the signing key was not pinned[/yellow]: pass --public-key with the server's key "
                      "(`fireline evidence public-key`) to rule out a re-signed bundle", highlight=False)


@evidence_app.command("public-key")
def public_key_cmd() -> None:
    """The server's signing key (Ed25519), for auditors to pin with `evidence verify --public-key`."""
    got = Api().get("/api/v1/signing-key")
    out.print(f"{got['algorithm']} {got['public_key']}  (key id {got['key_id']})", highlight=False, soft_wrap=True)
