"""The compiled PII scanner (fireline.native): used only when its build matches the sources, and it
answers exactly what the sources answer."""

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

PII = Path(fireline.pii.__file__).parent
DATA = Path(__file__).resolve().parents[1] / "data"
COMPILED = native.state == "compiled"

# Prints each text's scan and redaction as one JSON line, and which way the scanner ran.
PROBE = """
import json, sys
import fireline.pii as pii
from fireline import native
texts = json.loads(sys.stdin.read())
print(json.dumps({"state": native.state, "file": pii.scanner.__file__,
                  "scans": [pii.scan(t) for t in texts], "redactions": [pii.redact(t) for t in texts]}))
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


def probe(env: dict[str, str], path: str | None = None) -> dict[str, object]:
    env = {**os.environ, **env}
    if path is not None:
        env["PYTHONPATH"] = path
    done = subprocess.run([sys.executable, "-c", PROBE], input=json.dumps(texts()), capture_output=True,
                          text=True, env=env, timeout=120, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def as_json(value: object) -> object:
    return json.loads(json.dumps(value))


def test_ci_runs_the_compiled_scanner() -> None:
    """CI builds it (`make native`) on a clean clone: the suite then runs the compiled scanner."""
    if not os.environ.get("CI"):
        pytest.skip("outside CI the scanner may run from its sources")
    assert native.state == "compiled", native.state


@pytest.mark.skipif(not COMPILED, reason="the scanner is not compiled here (`make native`)")
def test_the_compiled_scanner_answers_what_the_sources_answer() -> None:
    sample = texts()
    compiled = {"scans": [fireline.pii.scan(t) for t in sample],
                "redactions": [fireline.pii.redact(t) for t in sample]}
    source = probe({"FIRELINE_NATIVE": "0"})
    assert source["state"] == "off" and str(source["file"]).endswith("scanner.py")
    assert sum(1 for s in compiled["scans"] if s) > len(sample) * 0.9  # the sample has PII to find
    assert source["scans"] == as_json(compiled["scans"])
    assert source["redactions"] == as_json(compiled["redactions"])


@pytest.mark.skipif(not COMPILED, reason="the scanner is not compiled here (`make native`)")
def test_an_edited_source_runs_as_source_not_as_the_stale_build(tmp_path: Path) -> None:
    """A build older than an edit would run the old code: the group runs from its sources instead."""
    tree = tmp_path / "src"
    shutil.copytree(PII.parents[1], tree, ignore=shutil.ignore_patterns("__pycache__"))
    text = tree / "fireline" / "pii" / "text.py"
    text.write_text(text.read_text() + "\n# edited after the build\n")
    edited = probe({}, str(tree))
    assert edited["state"] == "stale"
    assert str(edited["file"]).endswith("scanner.py")  # not scanner.<abi>.so
    assert edited["scans"] == as_json([fireline.pii.scan(t) for t in texts()])

    (tree / "fireline" / "pii" / f"_native__mypyc{_suffix()}").unlink()  # a part of the build gone
    text.write_text(text.read_text().replace("\n# edited after the build\n", ""))
    assert probe({}, str(tree))["state"] == "not built"


def _suffix() -> str:
    """The extension suffix the build here used (.cpython-311-x86_64-linux-gnu.so, say)."""
    return next((s for s in importlib.machinery.EXTENSION_SUFFIXES if (PII / f"_native__mypyc{s}").exists()),
                importlib.machinery.EXTENSION_SUFFIXES[0])


def test_the_build_is_checked_against_each_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """inspect: compiled only with a manifest naming every module, every extension there, and every
    source hashing to what was compiled."""
    suffix = _suffix()
    for name in native.MODULES:
        (tmp_path / f"{name}.py").write_text(f"# {name}\n")
    assert native.inspect(tmp_path) == "not built"
    for name in (*native.MODULES, "_native__mypyc"):
        (tmp_path / f"{name}{suffix}").write_bytes(b"")
    manifest = {"sources": {name: native.digest(tmp_path / f"{name}.py") for name in native.MODULES}}
    (tmp_path / native.MANIFEST).write_text(json.dumps(manifest))
    assert native.inspect(tmp_path) == "compiled"
    monkeypatch.setenv("FIRELINE_NATIVE", "0")
    assert native.inspect(tmp_path) == "off"
    monkeypatch.delenv("FIRELINE_NATIVE")
    (tmp_path / "runs.py").write_text("# runs, edited\n")
    assert native.inspect(tmp_path) == "stale"
    (tmp_path / "runs.py").write_text("# runs\n")
    assert native.inspect(tmp_path) == "compiled"
    (tmp_path / f"ids{suffix}").unlink()
    assert native.inspect(tmp_path) == "not built"
    (tmp_path / f"ids{suffix}").write_bytes(b"")
    (tmp_path / native.MANIFEST).write_text(json.dumps({"sources": {"runs": manifest["sources"]["runs"]}}))
    assert native.inspect(tmp_path) == "not built"
    (tmp_path / native.MANIFEST).write_text("{not json")
    assert native.inspect(tmp_path) == "not built"
