"""The exported evidence bundle (tar.gz) and its offline verification.

Layout: `manifest.json` (the exact canonical bytes whose SHA-256 is the snapshot id),
`SNAPSHOT` (that id), and every member at its manifest name (`incident.json`,
`timeline.json`, `calls/<id>.json`, `sources/<name>.json`, ...). Verification needs nothing
but this file: it recomputes the manifest digest, every member digest and the timeline chain.
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

from fireline.incidents.timeline import verify_chain

MANIFEST = "manifest.json"
SNAPSHOT = "SNAPSHOT"


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def build(snapshot_id: str, manifest: bytes, members: list[tuple[str, bytes | None]]) -> bytes:
    """The bundle bytes. A member erased since the snapshot is left out (verify names it)."""
    meta = orjson.loads(manifest)
    mtime = datetime.fromisoformat(meta["taken_at"]).timestamp()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, MANIFEST, manifest, mtime)
        _add(tar, SNAPSHOT, snapshot_id.encode() + b"\n", mtime)
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

    def bad(self, member: str, why: str) -> None:
        self.ok = False
        self.problems.append((member, why))

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "snapshot_id": self.snapshot_id, "incident_id": self.incident_id,
                "members": self.members, "problems": [{"member": m, "problem": p} for m, p in self.problems]}


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


def verify_bundle(path: str | Path) -> BundleReport:
    report = BundleReport()
    try:
        files = _read_all(Path(path))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        report.bad(str(path), f"not a readable tar.gz bundle: {exc}")
        return report
    manifest = files.pop(MANIFEST, None)
    recorded = files.pop(SNAPSHOT, b"").decode(errors="replace").strip()
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
    for name, entry in listed.items():
        data = files.pop(name, None)
        if data is None:
            report.bad(name, "listed in the manifest but missing (erased or removed)")
            continue
        report.members += 1
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            report.bad(name, "SHA-256 does not match the manifest (content changed)")
        elif name == "timeline.json":
            _check_timeline(report, data)
    for name in sorted(files):
        report.bad(name, "not listed in the manifest")
    return report


def _check_timeline(report: BundleReport, data: bytes) -> None:
    doc = orjson.loads(data)
    result = verify_chain(doc["entries"], doc["incident_id"])
    if not result.ok:
        report.bad("timeline.json", f"chain broken at entry {result.first_broken}: {result.reason}")
