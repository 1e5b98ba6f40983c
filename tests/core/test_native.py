"""The compiled hot path (fireline.native: the PII scanner and the detectors): used only when its build
matches the sources, and it answers exactly what the sources answer."""

from __future__ import annotations

import importlib.machinery
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fireline.pii
from fireline import native

PACKAGE = native.ROOT  # src/fireline
DATA = Path(__file__).resolve().parents[1] / "data"
COMPILED = native.state == "compiled"

# Prints each text's scan, redaction and findings as one JSON line, and which way the modules ran.
PROBE = """
import json, sys
import fireline.pii as pii
from fireline import native
from fireline.detect.detectors import grounding
sys.path.insert(0, sys.argv[1])
from test_native import findings
texts = json.loads(sys.stdin.read())
print(json.dumps({"state": native.state, "files": [pii.scanner.__file__, grounding.__file__],
                  "scans": [pii.scan(t) for t in texts], "redactions": [pii.redact(t) for t in texts],
                  "findings": findings(texts)}))
"""


def texts() -> list[str]:
    """The labelled prompts, and word salads of names, places, numbers, e-mails and code at random."""
    out = [p["full_text"] for name in ("pii_prompts.json", "pii_prompts_fresh.json")
           for p in json.loads((DATA / name).read_text())]
    words = ("Anna Kowalczyk", "Dr.", "Lyon", "New Zealand", "my name is", "call me", "lives in", "Acme Corp",
             "anna@example.org", "+44 20 7946 0958", "4111 1111 1111 1111", "DE89370400440532013000",
             "123-45-6789", "10.0.0.1", "14 Grafton Street", "Dublin 2", "SW1A 1AA", "born 3 May 1984",
             "aged 34", "the", "and", "server", "python", "def f(x):", "ghp_" + "a" * 36, "\n", ",", ".",
             "Ms. quinzia", "ZÜRICH", "Nekolná", "O'Brien", "password: hunter22", "Emirates", "<PERSON>")
    rng = random.Random(19)
    out += [" ".join(rng.choice(words) for _ in range(rng.randint(1, 40))) for _ in range(400)]
    return out


def findings(sample: list[str]) -> list[list[tuple[str, str, str, str | None]]]:
    """Every default detector's findings on calls made of the texts (question, answer, a retrieved
    document), as (detector, kind, severity, evidence)."""
    from fireline.detect.detectors import CallView, build_detectors, run_all

    detectors = build_detectors({})
    out = []
    for i, text in enumerate(sample):
        other = sample[(i + 1) % len(sample)]
        view = CallView.from_record({
            "app": "a", "input": [{"role": "user", "content": text}], "output": other,
            "retrieval": [{"id": "d", "source": "kb", "text": sample[(i + 2) % len(sample)]}],
            "tool_calls": [{"name": "delete_user", "arguments": {"q": other[:40]}, "kind": "write"}]})
        out.append([(f.detector, f.kind, f.severity, f.evidence) for f in run_all(detectors, view)])
    return out


def probe(env: dict[str, str], path: str | None = None) -> dict[str, object]:
    env = {**os.environ, **env}
    if path is not None:
        env["PYTHONPATH"] = path
    done = subprocess.run([sys.executable, "-c", PROBE, str(Path(__file__).parent)], input=json.dumps(texts()),
                          capture_output=True, text=True, env=env, timeout=180, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def as_json(value: object) -> object:
    return json.loads(json.dumps(value))


def test_ci_runs_the_compiled_scanner() -> None:
    """CI builds it (`make native`) on a clean clone: the suite then runs the compiled scanner."""
    if not os.environ.get("CI"):
        pytest.skip("outside CI the scanner may run from its sources")
    assert native.state == "compiled", native.state


@pytest.mark.skipif(not COMPILED, reason="not compiled here (`make native`)")
def test_the_compiled_modules_answer_what_the_sources_answer() -> None:
    sample = texts()
    compiled = {"scans": [fireline.pii.scan(t) for t in sample],
                "redactions": [fireline.pii.redact(t) for t in sample], "findings": findings(sample)}
    source = probe({"FIRELINE_NATIVE": "0"})
    assert source["state"] == "off" and all(str(f).endswith(".py") for f in source["files"])  # type: ignore[attr-defined]
    assert sum(1 for s in compiled["scans"] if s) > len(sample) * 0.9  # the sample has PII to find
    assert sum(1 for f in compiled["findings"] if f) > len(sample) * 0.5  # and things to flag
    assert source["scans"] == as_json(compiled["scans"])
    assert source["redactions"] == as_json(compiled["redactions"])
    assert source["findings"] == as_json(compiled["findings"])


@pytest.mark.skipif(not COMPILED, reason="not compiled here (`make native`)")
def test_an_edited_source_runs_as_source_not_as_the_stale_build(tmp_path: Path) -> None:
    """A build older than an edit would run the old code: the whole build runs from its sources instead."""
    tree = tmp_path / "src"
    shutil.copytree(PACKAGE.parent, tree, ignore=shutil.ignore_patterns("__pycache__"))
    text = tree / "fireline" / "pii" / "text.py"
    text.write_text(text.read_text() + "\n# edited after the build\n")
    edited = probe({}, str(tree))
    assert edited["state"] == "stale"
    assert all(str(f).endswith(".py") for f in edited["files"])  # type: ignore[attr-defined]  # not .so
    assert edited["scans"] == as_json([fireline.pii.scan(t) for t in texts()])

    (tree / "fireline" / f"_native__mypyc{_suffix()}").unlink()  # a part of the build gone
    text.write_text(text.read_text().replace("\n# edited after the build\n", ""))
    assert probe({}, str(tree))["state"] == "not built"


def _suffix() -> str:
    """The extension suffix the build here used (.cpython-311-x86_64-linux-gnu.so, say)."""
    return next((s for s in importlib.machinery.EXTENSION_SUFFIXES if (PACKAGE / f"_native__mypyc{s}").exists()),
                importlib.machinery.EXTENSION_SUFFIXES[0])


def test_the_build_is_checked_against_each_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """inspect: compiled only with a manifest naming every module, every extension there, and every
    source hashing to what was compiled."""
    suffix = _suffix()
    for module in native.MODULES:
        path = native.source(tmp_path, module)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {module}\n")
    assert native.inspect(tmp_path) == "not built"
    for module in (*native.MODULES, native.GROUP + "__mypyc"):
        stem = native.source(tmp_path, module).with_suffix("")
        stem.with_name(stem.name + suffix).write_bytes(b"")
    manifest = {"sources": {m: native.digest(native.source(tmp_path, m)) for m in native.MODULES}}
    (tmp_path / native.MANIFEST).write_text(json.dumps(manifest))
    assert native.inspect(tmp_path) == "compiled"
    monkeypatch.setenv("FIRELINE_NATIVE", "0")
    assert native.inspect(tmp_path) == "off"
    monkeypatch.delenv("FIRELINE_NATIVE")
    runs = native.source(tmp_path, "fireline.pii.runs")
    runs.write_text("# runs, edited\n")
    assert native.inspect(tmp_path) == "stale"
    runs.write_text("# fireline.pii.runs\n")
    assert native.inspect(tmp_path) == "compiled"
    grounding = tmp_path / "detect" / "detectors" / f"grounding{suffix}"
    grounding.unlink()
    assert native.inspect(tmp_path) == "not built"
    grounding.write_bytes(b"")
    assert native.inspect(tmp_path) == "compiled"
    (tmp_path / native.MANIFEST).write_text(json.dumps({"sources": {"fireline.pii.runs": manifest["sources"][
        "fireline.pii.runs"]}}))
    assert native.inspect(tmp_path) == "not built"
    (tmp_path / native.MANIFEST).write_text("{not json")
    assert native.inspect(tmp_path) == "not built"
