"""Tamper evidence against someone with write access to the database (not the server's secret):
a rewritten timeline with every later hash and the stored head recomputed fails verify; a
truncated one fails against a head anchored outside (a notification); a consistently rewritten
or re-signed evidence bundle fails `evidence verify`."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update

from fireline import signing
from fireline.db import Database
from fireline.incidents.models import Incident, TimelineEntry
from fireline.incidents.timeline import GENESIS, canonical, entry_hash
from tests.comms.support import comms_config, http_receiver
from tests.comms.test_notifications import wait_for
from tests.support.cli import invoke
from tests.support.fireline import Fireline, running

DECLARE = {"title": "Refunds issued without approval", "type": "agentic_harm", "severity": "P2",
           "apps": ["support-bot"]}


def declare_with_notes(fl: Fireline, notes: int = 4) -> str:
    with fl.client("responder") as http:
        iid = str(http.post("/api/v1/incidents", json=DECLARE).json()["id"])
        for i in range(notes):
            assert http.post(f"/api/v1/incidents/{iid}/notes", json={"text": f"note {i}"}).status_code == 201
    return iid


def rewrite(db: Database, iid: str, seq: int, data: dict[str, Any]) -> None:
    """What an attacker with database access does: change entry `seq`, recompute every later hash
    (keeping the stored signatures, which they cannot recompute) and the stored head."""
    with db.writing() as s:
        rows = list(s.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == iid)
                              .order_by(TimelineEntry.seq)))
        prev = GENESIS
        for row in rows:
            if row.seq == seq:
                row.data = data
            row.prev_hash = prev
            row.hash = entry_hash(iid, row.seq, row.at, row.actor, row.kind, row.data, prev)
            prev = row.hash
        s.execute(update(Incident).where(Incident.id == iid).values(timeline_head=prev))


def verify(fl: Fireline, iid: str, head: str | None = None) -> dict[str, Any]:
    with fl.client("viewer") as http:
        return dict(http.get(f"/api/v1/incidents/{iid}/verify", params={"head": head} if head else None).json())


def test_a_rewritten_timeline_fails_verify(db: Database) -> None:
    with running(db) as fl:
        iid = declare_with_notes(fl)
        assert verify(fl, iid)["ok"]
        rewrite(db, iid, 3, {"text": "nothing happened here"})
        got = verify(fl, iid)
        assert got["ok"] is False and got["first_broken"] == 3 and "not signed" in got["reason"]
        code, out = invoke(fl, "viewer", "incident", "verify", iid)
        assert code == 1 and "broken at entry 3" in out


def test_a_removed_signature_fails_verify(db: Database) -> None:
    with running(db) as fl:
        iid = declare_with_notes(fl, notes=1)
        with db.writing() as s:
            s.execute(update(TimelineEntry).where(TimelineEntry.incident_id == iid, TimelineEntry.seq == 2)
                      .values(sig=None))
        got = verify(fl, iid)
        assert got["ok"] is False and got["first_broken"] == 2


def test_a_truncated_timeline_fails_against_the_head_a_notification_carried(db: Database) -> None:
    with http_receiver() as http_in:
        config = comms_config(http_in, notifications={"routes": [{"match": {"events": ["opened"]},
                                                                  "channels": ["hook"]}]})
        with running(db, config) as fl:
            iid = declare_with_notes(fl, notes=0)
            (hook,) = wait_for(lambda: http_in.on("/hook"), what="the opened notification")
            anchored = hook.json()["incident"]["timeline_head"]
            assert verify(fl, iid, anchored)["ok"]
            with fl.client("responder") as c:  # more entries after the anchor; then the attacker cuts the tail
                for i in range(3):
                    c.post(f"/api/v1/incidents/{iid}/notes", json={"text": f"later {i}"})
            cut = int(anchored.split(":")[0]) - 1
            with db.writing() as s:  # drop the tail from before the anchor, move the head back: self-consistent
                s.execute(delete(TimelineEntry).where(TimelineEntry.incident_id == iid, TimelineEntry.seq > cut))
                last = s.scalar(select(TimelineEntry.hash).where(TimelineEntry.incident_id == iid,
                                                                 TimelineEntry.seq == cut))
                s.execute(update(Incident).where(Incident.id == iid).values(timeline_seq=cut, timeline_head=last))
            assert verify(fl, iid)["ok"]  # the database agrees with itself...
            got = verify(fl, iid, anchored)  # ...but not with the copy outside it
            assert got["ok"] is False and "entries removed" in got["reason"]
            code, out = invoke(fl, "viewer", "incident", "verify", iid, "--head", anchored)
            assert code == 1


def _bundle(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def _write(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _rewrite_bundle(files: dict[str, bytes]) -> dict[str, bytes]:
    """Change the incident member and make every digest, the manifest and the snapshot id agree."""
    files = dict(files)
    doc = orjson.loads(files["incident.json"])
    doc["title"] = "a harmless test"
    files["incident.json"] = canonical(doc)
    manifest = orjson.loads(files["manifest.json"])
    for m in manifest["members"]:
        if m["name"] == "incident.json":
            m["sha256"] = hashlib.sha256(files["incident.json"]).hexdigest()
            m["size"] = len(files["incident.json"])
    files["manifest.json"] = canonical(manifest)
    files["SNAPSHOT"] = hashlib.sha256(files["manifest.json"]).hexdigest().encode() + b"\n"
    return files


def test_a_consistently_rewritten_or_re_signed_bundle_fails_evidence_verify(db: Database, tmp_path: Path) -> None:
    with running(db) as fl:
        iid = declare_with_notes(fl, notes=1)
        good = tmp_path / "good.tar.gz"
        code, out = invoke(fl, "responder", "evidence", "export", iid, "--take", "--out", str(good))
        assert code == 0, out
    code, out = invoke(None, None, "evidence", "verify", str(good))
    assert code == 0 and f"signed by key {signing.key_id()}" in out and "timeline head at export" in out

    rewritten = _rewrite_bundle(_bundle(good))
    bad = tmp_path / "rewritten.tar.gz"
    _write(bad, rewritten)
    code, out = invoke(None, None, "evidence", "verify", str(bad))
    assert code == 1 and "export.json" in out and "signed for snapshot" in out

    # The attacker signs the rewritten bundle with a key of their own and ships that key in it.
    theirs = Ed25519PrivateKey.generate()
    export = orjson.loads(rewritten["export.json"])
    statement = {**export["statement"], "snapshot_id": rewritten["SNAPSHOT"].decode().strip(),
                 "public_key": base64.b64encode(signing.public_bytes(theirs.public_key())).decode()}
    sig = base64.b64encode(theirs.sign(signing.bundle_message(canonical(statement)))).decode()
    resigned = tmp_path / "resigned.tar.gz"
    _write(resigned, {**rewritten, "export.json": canonical({"statement": statement, "signature": sig})})
    server_key = signing.public_key_b64()
    code, out = invoke(None, None, "evidence", "verify", str(resigned), "--public-key", server_key)
    assert code == 1 and "not the expected" in out
    code, out = invoke(None, None, "evidence", "verify", str(resigned))  # pinned by this machine's FIRELINE_SECRET
    assert code == 1
