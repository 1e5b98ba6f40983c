"""Evidence snapshots: snapshot before you mutate.

A snapshot freezes the incident's linked calls (full raw content, findings), the model and
prompt versions in use, the relevant config, the timeline so far, and whatever the other
parts registered as evidence sources (control-plane state, monitor values, change markers).
Each member is stored once by its SHA-256 (evidence_blobs); the manifest lists the members'
digests and the snapshot id is the SHA-256 of the canonical manifest. Taking one puts the
linked calls on legal hold for the incident.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fireline.calls import privacy
from fireline.calls import service as calls_service
from fireline.calls.models import Call, RawAccess
from fireline.calls.retention import place_hold
from fireline.config import Config, ConfigError
from fireline.db import Database, bus_of, insert_for, utcnow
from fireline.errors import NotFound
from fireline.incidents import bundle, bus
from fireline.incidents.models import EvidenceBlob, Incident, Snapshot, SnapshotCall
from fireline.incidents.schemas import incident_json
from fireline.incidents.sla import current_config
from fireline.incidents.timeline import (
    append_locked,
    append_timeline,
    canonical,
    entries,
    entry_json,
    jsonable,
    lock_incident,
    stamp,
)

log = logging.getLogger("fireline.evidence")
FORMAT = "fireline-evidence/1"
# Evidence sources are named handlers of the "evidence.sources" topic (subscribed in fireline.wiring):
# fn(session=..., incident=...) -> JSON-able, stored as `sources/<name>.json` in every snapshot.
SOURCES_TOPIC = "evidence.sources"
EvidenceSource = Callable[..., Any]


class SnapshotNotFound(NotFound):
    pass


def evidence_sources(session: Session) -> list[tuple[str, EvidenceSource]]:
    return sorted(bus_of(session).named(SOURCES_TOPIC), key=lambda pair: pair[0])


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def take_snapshot(target: Database | Session, incident_id: str, actor: str, reason: str) -> Snapshot:
    """Freeze the incident's evidence now (the controls part calls this before containment)."""
    return bus.within(target, lambda s: snapshot_locked(s, lock_incident(s, incident_id), actor, reason))


def _calls(session: Session, inc: Incident, actor: str, call_ids: list[str]
           ) -> tuple[list[tuple[str, bytes]], list[tuple[str, str | None]], list[str]]:
    members: list[tuple[str, bytes]] = []
    owners: list[tuple[str, str | None]] = []
    found: set[str] = set()
    for i in range(0, len(call_ids), 500):
        chunk = call_ids[i:i + 500]
        rows = list(session.scalars(select(Call).where(Call.id.in_(chunk)).order_by(Call.id)))
        findings = calls_service.findings_for(session, [r.id for r in rows])
        for call in rows:
            content = calls_service.read_raw(session, call, actor=actor, role="responder",
                                             reason=f"evidence snapshot for {inc.id}")
            out = calls_service.to_out(call, findings[call.id], content,
                                       view="raw" if content is not None else "redacted")
            doc = {"call": out.model_dump(mode="json"), "raw_available": content is not None}
            members.append((f"calls/{call.id}.json", canonical(doc)))
            owners.append((call.id, call.user_pseudonym))
            found.add(call.id)
    return members, owners, [c for c in call_ids if c not in found]


def _versions(session: Session, inc: Incident, call_ids: list[str]) -> dict[str, Any]:
    in_calls: set[tuple[Any, ...]] = set()
    for i in range(0, len(call_ids), 500):
        rows = session.execute(select(Call.app, Call.model, Call.model_resolved, Call.prompt_version,
                                      Call.system_prompt_sha256).where(Call.id.in_(call_ids[i:i + 500])))
        in_calls.update(tuple(r) for r in rows)
    config = current_config()
    apps = {a: {"models": config.app(a).models, "prompt_versions": sorted(config.app(a).prompts)}
            for a in inc.scope.get("apps", [])}
    return {"in_linked_calls": [dict(zip(("app", "model", "model_resolved", "prompt_version",
                                          "system_prompt_sha256"), r, strict=True))
                                for r in sorted(in_calls, key=lambda r: tuple(str(x) for x in r))],
            "configured": apps}


CONFIG_SECTIONS = ("triage", "sla", "playbooks", "auto_contain", "monitors", "detectors")


def _config(inc: Incident, config: Config | None = None) -> dict[str, Any]:
    config = config or current_config()
    apps = {a: config.app(a).model_dump(mode="json") for a in inc.scope.get("apps", [])}
    sections = {name: config.section(name) for name in CONFIG_SECTIONS}
    return jsonable({"apps": apps, **sections})


def check_config(config: Config) -> None:
    """At start: every snapshot freezes these config sections, so they must serialise."""
    for name in CONFIG_SECTIONS:
        try:
            canonical(jsonable(config.section(name)))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"FIRELINE_CONFIG: {name}: cannot be frozen in evidence snapshots "
                              f"({type(exc).__name__}: {exc})") from exc


def _sources_members(session: Session, inc: Incident) -> list[tuple[str, bytes]]:
    out = []
    for name, source in evidence_sources(session):
        try:
            guard = session.begin_nested() if session.get_bind().dialect.name == "postgresql" else nullcontext()
            with guard:
                value: Any = jsonable(source(session=session, incident=inc))
        except Exception as exc:  # a broken source must not stop the evidence of the others
            bus_of(session).failed(SOURCES_TOPIC, name, exc, {"incident_id": inc.id})
            value = {"error": f"{exc.__class__.__name__}: {exc}"}
        out.append((f"sources/{name}.json", canonical(value)))
    return out


def snapshot_locked(session: Session, inc: Incident, actor: str, reason: str) -> Snapshot:
    from fireline.incidents.service import linked_call_ids

    now = utcnow()
    call_ids = linked_call_ids(session, inc.id)
    call_members, owners, missing = _calls(session, inc, actor, call_ids)
    timeline = [entry_json(e) for e in entries(session, inc.id)]
    members = [("incident.json", canonical(incident_json(inc, call_ids))),
               ("timeline.json", canonical({"incident_id": inc.id, "entries": timeline})),
               ("versions.json", canonical(_versions(session, inc, call_ids))),
               ("config.json", canonical(_config(inc))),
               *call_members, *_sources_members(session, inc)]
    listed = [{"name": name, "sha256": digest(data), "size": len(data)} for name, data in members]
    manifest = canonical({"format": FORMAT, "incident_id": inc.id, "taken_at": stamp(now), "actor": actor,
                          "reason": reason, "members": listed, "missing_calls": missing,
                          "sources": [name for name, _ in evidence_sources(session)]})
    snap_id = digest(manifest)
    insert = insert_for(session.get_bind().dialect.name)
    blobs = {digest(data): data for _, data in members}
    # Members are sealed with the raw-content key: a snapshot holds raw content and the timeline.
    session.execute(insert(EvidenceBlob).on_conflict_do_nothing(),
                    [{"digest": d, "size": len(b), "data": privacy.seal(b, d)} for d, b in blobs.items()])
    snap = Snapshot(id=snap_id, incident_id=inc.id, taken_at=now, actor=actor, reason=reason,
                    manifest=manifest.decode(), calls=len(owners))
    session.add(snap)
    digests = {m["name"]: m["sha256"] for m in listed}
    session.add_all([SnapshotCall(snapshot_id=snap_id, call_id=c, user_pseudonym=u,
                                  digest=digests[f"calls/{c}.json"]) for c, u in owners])
    held = place_hold(session, [c for c, _ in owners], holder=inc.id, actor=actor)
    entry = append_locked(session, inc, "snapshot", actor,
                          {"snapshot_id": snap_id, "reason": reason, "calls": len(owners), "members": len(listed),
                           "missing_calls": len(missing), "newly_held": held}, at=now)
    inc.snapshot_seq = entry.seq
    bus.emit(session, "incident.snapshot_taken", incident_id=inc.id, snapshot_id=snap_id)
    return snap


def snapshot_json(snap: Snapshot) -> dict[str, Any]:
    manifest = orjson.loads(snap.manifest)
    return {"id": snap.id, "incident_id": snap.incident_id, "taken_at": stamp(snap.taken_at),
            "actor": snap.actor, "reason": snap.reason, "calls": snap.calls,
            "members": manifest["members"], "missing_calls": manifest["missing_calls"]}


def list_snapshots(session: Session, incident_id: str) -> list[Snapshot]:
    return list(session.scalars(select(Snapshot).where(Snapshot.incident_id == incident_id)
                                .order_by(Snapshot.taken_at, Snapshot.id)))


def get_snapshot(session: Session, snapshot_id: str) -> Snapshot:
    snap = session.get(Snapshot, snapshot_id)
    if snap is None:
        raise SnapshotNotFound(f"no snapshot with id {snapshot_id}")
    return snap


def load_members(session: Session, snap: Snapshot) -> tuple[bytes, list[tuple[str, bytes | None]]]:
    """The manifest bytes and each member's bytes, decrypted (None when erased since)."""
    manifest = orjson.loads(snap.manifest)
    wanted = [m["sha256"] for m in manifest["members"]]
    blobs: dict[str, bytes] = {}
    for i in range(0, len(wanted), 500):
        for b in session.scalars(select(EvidenceBlob).where(EvidenceBlob.digest.in_(wanted[i:i + 500]))):
            blobs[b.digest] = privacy.unseal(b.data, b.digest)
    return snap.manifest.encode(), [(m["name"], blobs.get(m["sha256"])) for m in manifest["members"]]


def export_bundle(session: Session, snapshot_id: str, *, actor: str, role: str, reason: str | None = None
                  ) -> tuple[bytes, str]:
    """The decrypted bundle of a snapshot for a responder: every call in it is written to the raw
    access log and the export to the incident's timeline. Returns (bundle bytes, incident id)."""
    snap = get_snapshot(session, snapshot_id)
    manifest, members = load_members(session, snap)
    why = f"evidence export of snapshot {snap.id[:12]}" + (f": {privacy.scrub(reason)}" if reason else "")
    now = utcnow()
    call_ids = list(session.scalars(select(SnapshotCall.call_id).where(SnapshotCall.snapshot_id == snap.id)))
    session.add_all([RawAccess(call_id=c, actor=actor, role=role, at=now, reason=why) for c in call_ids])
    entry = append_timeline(session, snap.incident_id, "evidence_exported", actor,
                            {"snapshot_id": snap.id, "calls": len(call_ids),
                             "missing_members": [n for n, d in members if d is None]})
    # The signed export manifest carries the chain head as of this export: an anchor kept outside.
    export = bundle.signed_export(snap.id, snap.incident_id, stamp(entry.at), (entry.seq, entry.hash))
    return bundle.build(snap.id, manifest, members, export), snap.incident_id


def on_subject_erased(session: Session, user_pseudonym: str, **_: Any) -> None:
    """Erasure reaches frozen copies too, except calls still on hold (those were not erased)."""
    rows = list(session.scalars(select(SnapshotCall).where(SnapshotCall.user_pseudonym == user_pseudonym)))
    ids = [r.call_id for r in rows]
    alive = set(session.scalars(select(Call.id).where(Call.id.in_(ids)))) if ids else set()
    gone = [r for r in rows if r.call_id not in alive]
    for row in gone:
        session.execute(delete(EvidenceBlob).where(EvidenceBlob.digest == row.digest))
        row.user_pseudonym = None

