"""The exported evidence bundle (tar.gz) and its offline verification.

Layout: `manifest.json` (the exact canonical bytes whose SHA-256 is the snapshot id),
`SNAPSHOT` (that id), `export.json` (the signed export manifest: snapshot id, incident, the
timeline head at export, the Ed25519 public key and the signature), and every member at its
manifest name (`incident.json`, `timeline.json`, `calls/<id>.json`, `sources/<name>.json`, ...).
Verification needs nothing but this file and, to pin the signer, the server's public key: it
checks the signature, recomputes the manifest digest, every member digest, the timeline chain
and every timeline entry's signature. Someone who rewrites a bundle consistently (new digests,
new snapshot id) cannot sign it with the server's key.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from fireline import signing
from fireline.incidents.timeline import canonical, verify_chain

MANIFEST = "manifest.json"
SNAPSHOT = "SNAPSHOT"
EXPORT = "export.json"
EXPORT_FORMAT = "fireline-evidence-export/1"


def signed_export(snapshot_id: str, incident_id: str, exported_at: str, head: tuple[int, str]) -> bytes:
    """The signed export manifest: what is exported, the chain head to anchor, who signed it."""
    statement = {"format": EXPORT_FORMAT, "snapshot_id": snapshot_id, "incident_id": incident_id,
                 "exported_at": exported_at, "timeline_head": {"seq": head[0], "hash": head[1]},
                 "algorithm": signing.ALGORITHM, "public_key": signing.public_key_b64(),
                 "key_id": signing.key_id()}
    signature = signing.sign(signing.bundle_message(canonical(statement)))
    return canonical({"statement": statement, "signature": signature})


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def build(snapshot_id: str, manifest: bytes, members: list[tuple[str, bytes | None]],
          export: bytes | None = None) -> bytes:
    """The bundle bytes. A member erased since the snapshot is left out (verify names it)."""
    meta = orjson.loads(manifest)
    mtime = datetime.fromisoformat(meta["taken_at"]).timestamp()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, MANIFEST, manifest, mtime)
        _add(tar, SNAPSHOT, snapshot_id.encode() + b"\n", mtime)
        if export is not None:
            _add(tar, EXPORT, export, mtime)
        for name, data in members:
            if data is not None:
                _add(tar, name, data, mtime)
    return buf.getvalue()


@dataclass(slots=True)
class BundleReport:
    ok: bool = True
    snapshot_id: str | None = None
    incident_id: str | None = None
    members: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    key_id: str | None = None  # the key that signed the bundle
    pinned: bool = False  # True when that key was the one the verifier expected
    head: dict[str, Any] | None = None  # the timeline head signed at export: anchor it

    def bad(self, member: str, why: str) -> None:
        self.ok = False
        self.problems.append((member, why))

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "snapshot_id": self.snapshot_id, "incident_id": self.incident_id,
                "members": self.members, "problems": [{"member": m, "problem": p} for m, p in self.problems],
                "key_id": self.key_id, "pinned": self.pinned, "timeline_head": self.head}


def _read_all(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with tarfile.open(path, mode="r:gz") as tar:
        for info in tar:
            if not info.isfile():
                continue
            handle = tar.extractfile(info)
            if handle is not None:
                files[info.name] = handle.read()
        # Read to the end of the gzip stream so its CRC-32 and length are checked too.
        while tar.fileobj is not None and tar.fileobj.read(1 << 16):
            pass
    return files


def verify_bundle(path: str | Path, public_key: str | None = None) -> BundleReport:
    """Check a bundle offline. `public_key` (base64 Ed25519) pins the signer; without it the key
    the bundle carries is used and the report says it was not pinned."""
    report = BundleReport()
    try:
        files = _read_all(Path(path))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        report.bad(str(path), f"not a readable tar.gz bundle: {exc}")
        return report
    manifest = files.pop(MANIFEST, None)
    recorded = files.pop(SNAPSHOT, b"").decode(errors="replace").strip()
    export = files.pop(EXPORT, None)
    if manifest is None:
        report.bad(MANIFEST, "missing")
        return report
    report.snapshot_id = recorded or None
    if hashlib.sha256(manifest).hexdigest() != recorded:
        report.bad(MANIFEST, f"SHA-256 does not match the snapshot id {recorded or '(missing)'}")
    try:
        meta = orjson.loads(manifest)
        listed = {m["name"]: m for m in meta["members"]}
        report.incident_id = meta["incident_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        report.bad(MANIFEST, f"unreadable: {exc}")
        return report
    key = _check_signature(report, export, recorded, public_key)
    for name, entry in listed.items():
        data = files.pop(name, None)
        if data is None:
            report.bad(name, "listed in the manifest but missing (erased or removed)")
            continue
        report.members += 1
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            report.bad(name, "SHA-256 does not match the manifest (content changed)")
        elif name == "timeline.json":
            _check_timeline(report, data, key)
    for name in sorted(files):
        report.bad(name, "not listed in the manifest")
    return report


def _check_signature(report: BundleReport, export: bytes | None, snapshot_id: str,
                     public_key: str | None) -> str | None:
    """The signed export manifest; returns the public key to check timeline entries with."""
    if export is None:
        report.bad(EXPORT, "missing: the bundle is not signed")
        return public_key
    try:
        doc = orjson.loads(export)
        statement, signature = doc["statement"], doc["signature"]
        carried = str(statement["public_key"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        report.bad(EXPORT, f"unreadable: {exc}")
        return public_key
    key = public_key or carried
    report.key_id = signing.key_id(key)
    report.pinned = public_key is not None
    report.head = statement.get("timeline_head")
    if public_key is not None and carried != public_key:
        report.bad(EXPORT, f"signed with key {signing.key_id(carried)}, not the expected {report.key_id}")
    elif not signing.verify(key, signing.bundle_message(canonical(statement)), signature):
        report.bad(EXPORT, f"the signature does not verify with key {report.key_id}")
    if statement.get("snapshot_id") != snapshot_id:
        report.bad(EXPORT, f"signed for snapshot {statement.get('snapshot_id')}, the bundle holds {snapshot_id}")
    if statement.get("incident_id") != report.incident_id:
        report.bad(EXPORT, f"signed for incident {statement.get('incident_id')}, the manifest names "
                           f"{report.incident_id}")
    return key


def _check_timeline(report: BundleReport, data: bytes, public_key: str | None) -> None:
    doc = orjson.loads(data)
    result = verify_chain(doc["entries"], doc["incident_id"], public_key=public_key)
    if not result.ok:
        report.bad("timeline.json", f"chain broken at entry {result.first_broken}: {result.reason}")
