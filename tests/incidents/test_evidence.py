"""Snapshots freeze raw evidence content-addressed, hold the calls, export and verify offline."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from fireline.calls import privacy
from fireline.calls.models import Call, LegalHold, RawAccess
from fireline.config import Config
from fireline.db import Database
from fireline.incidents import evidence, service
from fireline.incidents.bundle import verify_bundle
from fireline.incidents.lifecycle import transition
from fireline.incidents.models import EvidenceBlob
from tests.incidents.helpers import alert, finding, store_calls
from tests.support.fireline import Fireline, running

CARD = "4111 1111 1111 1111"


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    # The lifecycle on its own: the eval-lock gate on closing is tested in tests/evals.
    with running(db, Config.model_validate({"evals": {"close_requires_lock": False}})) as server:
        yield server


def leak(fl: Fireline) -> tuple[str, list[str]]:
    ids = store_calls(fl.db, [{"output": f"Card {CARD} belongs to bob@example.com", "user": "bob@example.com",
                               "findings": [finding("CREDIT_CARD")]}, {"user": "ann@example.com"}])
    iid = service.on_alert_fired(fl.db, alert(key="e", severity="P2", call_ids=tuple(ids)))
    return iid, ids


def test_ack_takes_a_content_addressed_snapshot_with_raw_content(fl: Fireline) -> None:
    bus = fl.db.bus
    bus.unsubscribe(evidence.SOURCES_TOPIC, dict(bus.named(evidence.SOURCES_TOPIC))["controls"])  # stand in
    bus.subscribe(evidence.SOURCES_TOPIC, lambda session, incident, **_: {"incident": incident.id,
                                                                          "kill_switch": "on"}, name="controls")
    bus.subscribe(evidence.SOURCES_TOPIC, lambda **_: 1 / 0, name="broken")
    iid, ids = leak(fl)
    with fl.client("responder") as http:
        http.post(f"/api/v1/incidents/{iid}/ack")
        (snap,) = http.get(f"/api/v1/incidents/{iid}/snapshots").json()["snapshots"]
    names = {m["name"]: m for m in snap["members"]}
    assert {"incident.json", "timeline.json", "versions.json", "config.json", f"calls/{ids[0]}.json",
            "sources/controls.json", "sources/broken.json"} <= set(names)
    with fl.db.session() as s:
        sealed = {b.digest: b.data for b in s.scalars(select(EvidenceBlob))}
        manifest = s.get(evidence.Snapshot, snap["id"]).manifest.encode()  # type: ignore[union-attr]
        held = set(s.scalars(select(LegalHold.call_id).where(LegalHold.holder == iid)))
        logged = set(s.scalars(select(RawAccess.call_id)))
    assert hashlib.sha256(manifest).hexdigest() == snap["id"]
    # Stored encrypted (the card and the e-mail are not in the table), readable with the key.
    assert not any(CARD.encode() in b or b"bob@example.com" in b for b in sealed.values())
    stored = {d: privacy.unseal(b, d) for d, b in sealed.items()}
    for m in snap["members"]:
        assert hashlib.sha256(stored[m["sha256"]]).hexdigest() == m["sha256"]
    call = orjson.loads(stored[names[f"calls/{ids[0]}.json"]["sha256"]])
    assert CARD in call["call"]["output"] and call["call"]["content_view"] == "raw"
    assert call["call"]["findings"][0]["entity"] == "CREDIT_CARD"
    assert orjson.loads(stored[names["sources/controls.json"]["sha256"]])["kill_switch"] == "on"
    assert "ZeroDivisionError" in orjson.loads(stored[names["sources/broken.json"]["sha256"]])["error"]
    assert held == set(ids) and set(ids) <= logged


def test_contain_snapshots_only_when_something_changed(fl: Fireline) -> None:
    iid, ids = leak(fl)
    transition(fl.db, iid, "ack", "alice")
    transition(fl.db, iid, "contain", "alice")
    with fl.db.session() as s:
        assert len(evidence.list_snapshots(s, iid)) == 1  # nothing changed since the ack snapshot
    more = store_calls(fl.db, [{"id": "call-x", "app": "docs-bot"}, {"id": "call-y", "app": "docs-bot"}])
    other = service.on_alert_fired(fl.db, alert(key="f", severity="P2", apps=("docs-bot",), call_ids=(more[1],)))
    service.on_alert_fired(fl.db, alert(key="f", severity="P2", apps=("docs-bot",), call_ids=(more[0],)))
    transition(fl.db, other, "contain", "auto:playbook")  # auto-containment straight from detected
    with fl.db.session() as s:
        (snap,) = evidence.list_snapshots(s, other)
        assert snap.reason == "before containment" and snap.calls == 2


def test_hold_blocks_erasure_until_close_releases_it(fl: Fireline) -> None:
    iid, ids = leak(fl)
    with fl.client("responder") as http:
        http.post(f"/api/v1/incidents/{iid}/ack")
        erased = http.delete("/api/v1/subjects/bob@example.com").json()
        assert erased["held_calls"] == 1 and erased["held_by"] == [iid] and erased["deleted_calls"] == 0
        assert erased["queued"] is True
        for action in ("contain", "resolve", "close"):
            http.post(f"/api/v1/incidents/{iid}/{action}")
        entries = http.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]
        (released,) = [e for e in entries if e["kind"] == "hold_released"]
        assert released["data"] == {"calls": 2, "queued_erasures_done": 1}  # the queued erasure ran at close
        again = http.delete("/api/v1/subjects/bob@example.com").json()
    assert again["deleted_calls"] == 0 and again["held_calls"] == 0 and again["queued"] is False
    with fl.db.session() as s:
        assert s.get(Call, ids[0]) is None
        blobs = {b.digest for b in s.scalars(select(EvidenceBlob))}
        (snap,) = evidence.list_snapshots(s, iid)
    member = next(m for m in evidence.snapshot_json(snap)["members"] if m["name"] == f"calls/{ids[0]}.json")
    assert member["sha256"] not in blobs  # the frozen copy of an erased person goes too


def export(fl: Fireline, iid: str, tmp_path: Path) -> Path:
    with fl.client("responder") as http:
        snaps = http.get(f"/api/v1/incidents/{iid}/snapshots").json()["snapshots"]
        resp = http.get(f"/api/v1/snapshots/{snaps[-1]['id']}/export")
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/gzip"
        with fl.client("viewer") as viewer:
            assert viewer.get(f"/api/v1/snapshots/{snaps[-1]['id']}/export").status_code == 403
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(resp.content)
    return path


def repack(src: Path, dst: Path, change: dict[str, Any]) -> None:
    with tarfile.open(src) as tin, tarfile.open(dst, "w:gz") as tout:
        for info in tin:
            data = tin.extractfile(info).read()  # type: ignore[union-attr]
            if info.name in change:
                data = change[info.name](data)
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))


def test_exported_bundle_verifies_and_one_changed_byte_is_named(fl: Fireline, tmp_path: Path) -> None:
    iid, ids = leak(fl)
    with fl.client("responder") as http:
        http.post(f"/api/v1/incidents/{iid}/ack")
        http.post(f"/api/v1/incidents/{iid}/snapshots", json={"reason": "for the auditors"})
    path = export(fl, iid, tmp_path)
    report = verify_bundle(path)
    assert report.ok and report.incident_id == iid and report.members >= 5, report.problems
    member = f"calls/{ids[0]}.json"

    def flip(data: bytes) -> bytes:
        i = data.index(b"4111")
        return data[:i] + b"5" + data[i + 1:]

    tampered = tmp_path / "tampered.tar.gz"
    repack(path, tampered, {member: flip})
    bad = verify_bundle(tampered)
    assert not bad.ok and [m for m, _ in bad.problems] == [member]
    forged = tmp_path / "forged.tar.gz"
    repack(path, forged, {"manifest.json": lambda d: d.replace(b"for the auditors", b"for the auditorz")})
    assert [m for m, _ in verify_bundle(forged).problems] == ["manifest.json"]
    for at in (len(path.read_bytes()) // 2, len(path.read_bytes()) - 5):  # inside the stream; the CRC
        raw = bytearray(path.read_bytes())
        raw[at] ^= 0x01
        flipped = tmp_path / "flipped.tar.gz"
        flipped.write_bytes(bytes(raw))
        assert not verify_bundle(flipped).ok
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(path.read_bytes()[:200])
    assert not verify_bundle(garbage).ok
    with fl.client("viewer") as http:
        kinds = [e["kind"] for e in http.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]]
    assert "evidence_exported" in kinds


def test_export_decrypts_for_the_responder_and_logs_each_call_read(fl: Fireline, tmp_path: Path) -> None:
    iid, ids = leak(fl)
    with fl.client("responder") as http:
        http.post(f"/api/v1/incidents/{iid}/ack")
        (snap,) = http.get(f"/api/v1/incidents/{iid}/snapshots").json()["snapshots"]
        resp = http.get(f"/api/v1/snapshots/{snap['id']}/export", params={"reason": "regulator asked"})
    assert resp.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(resp.content)) as tar:
        member = tar.extractfile(f"calls/{ids[0]}.json").read()  # type: ignore[union-attr]
    assert CARD.encode() in member  # the responder gets the raw content back
    with fl.db.session() as s:
        rows = list(s.scalars(select(RawAccess).where(RawAccess.reason.like("evidence export%"))))
    assert sorted(r.call_id for r in rows) == sorted(ids)
    assert {r.role for r in rows} == {"responder"} and all("regulator asked" in (r.reason or "") for r in rows)
