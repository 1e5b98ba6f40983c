"""The per-call hot path compiled to C with mypyc, and its Python sources whenever the build does not match.

The PII scanner (`fireline.pii`) is most of the privacy pass, the privacy pass about half of ingest's
CPU and the per-call detectors (`fireline.detect.detectors`) a quarter. mypyc compiles the same typed
modules to one C extension: the same code and results (`bench/per_call.py --dump` byte-identical over
six call sets), about a third less CPU per scan. `make setup` builds it (scripts/native.py) into the
source tree beside the modules, ignored by git, with a manifest of the SHA-256 of each source it
compiled (`src/fireline/_native.json`).

`fireline.pii` and `fireline.detect.detectors` call `choose` before importing any of their modules;
the first call decides for both. The compiled modules are used only when every one of them is there
and every source still hashes to what was compiled; otherwise (an edit since the build, a checkout of
other sources, a missing file, or FIRELINE_NATIVE=0) every module of the build is loaded from its
source: compiled modules call each other directly and share one library, so the build is taken or
left whole. A stale build is said once, with the command that rebuilds it.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

log = logging.getLogger("fireline.native")

_PII = ("address", "capwords", "dates", "entities", "gazetteer", "ids", "lexicon", "phone", "runs", "scanner",
        "secrets", "text", "validators")
_DETECTORS = ("canary", "grounding", "harm_eval", "harmful_output", "jailbreak", "jailbreak_devices",
              "jailbreak_suffix", "jailbreak_terms", "lexicon", "output_quality", "pii", "prompt_injection",
              "refusal", "refusal_context", "secrets", "senses", "support", "tool_policy")
# Every compiled module: all of fireline.pii but its package and the corpus scorer; the detectors but
# their registry, the CallView base (built and extended by the uncompiled parts) and the optional
# embedding detector.
MODULES: tuple[str, ...] = (*(f"fireline.pii.{m}" for m in _PII),
                            *(f"fireline.detect.detectors.{m}" for m in _DETECTORS))
GROUP = "fireline._native"  # mypyc's one shared library: src/fireline/_native__mypyc.<abi>.so
MANIFEST = "_native.json"
ROOT = Path(__file__).resolve().parent  # src/fireline

# What `choose` found: "compiled", or why the sources run: "off", "not built", "stale".
state = "not chosen"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source(root: Path, module: str) -> Path:
    """The .py file of `module` (fireline.x.y) under `root` (the fireline package's directory)."""
    return root.joinpath(*module.split(".")[1:]).with_suffix(".py")


def _extension(stem: Path) -> bool:
    return any(stem.with_name(stem.name + suffix).is_file() for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def _stems(root: Path) -> list[Path]:
    return [source(root, m).with_suffix("") for m in (*MODULES, GROUP + "__mypyc")]


def inspect(root: Path = ROOT) -> str:
    """'compiled' when the build under `root` is whole and matches the sources, else why not."""
    if os.environ.get("FIRELINE_NATIVE", "1").strip() == "0":
        return "off"
    try:
        built = json.loads((root / MANIFEST).read_text())["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return "not built"
    if not isinstance(built, dict) or set(built) != set(MODULES) or not all(map(_extension, _stems(root))):
        return "not built"
    try:
        if any(built[m] != digest(source(root, m)) for m in MODULES):
            return "stale"
    except OSError:
        return "stale"
    return "compiled"


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules as their .py files, ahead of the extensions beside them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules = frozenset(MODULES)

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname not in self.modules:
            return None
        return importlib.util.spec_from_file_location(fullname, source(self.root, fullname))


def choose() -> str:
    """Decide, before the first compiled module is imported, whether the build or the sources run."""
    global state
    if state != "not chosen":
        return state
    found = inspect(ROOT)
    if found != "compiled" and any(map(_extension, _stems(ROOT))):
        sys.meta_path.insert(0, _SourceFinder(ROOT))
        if found == "stale":
            log.warning("the compiled hot path (PII scanner, detectors) was built from other sources: "
                        "running the sources (slower); `make native` rebuilds it")
    state = found
    return found
