"""The PII scanner compiled to C with mypyc, and its Python source whenever the build does not match.

The scanner (`fireline.pii`) is most of the privacy pass, and the privacy pass is about half of
ingest's CPU. mypyc compiles the same typed modules to a C extension: the same code and results
(`bench/per_call.py --dump` byte-identical over six call sets), about a third less CPU per scan.
`make setup` builds it (scripts/native.py) into the source tree beside the modules, ignored by git,
with a manifest of the SHA-256 of each source it compiled.

`fireline.pii` calls `choose` before importing any of its modules. The compiled modules are used
only when every one of them is there and every source still hashes to what was compiled; otherwise
(an edit since the build, a checkout of other sources, a missing file, or FIRELINE_NATIVE=0) every
module of the group is loaded from its source: a compiled module calls the group's others directly,
so the group is taken or left whole. A stale build is said once, with the command that rebuilds it.
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

PACKAGE = "fireline.pii"
# The compiled group: every module of fireline.pii but the package itself and the corpus scorer.
MODULES: tuple[str, ...] = ("address", "capwords", "dates", "entities", "gazetteer", "ids", "lexicon", "phone",
                            "runs", "scanner", "secrets", "text", "validators")
GROUP = f"{PACKAGE}._native"  # mypyc's shared library: fireline/pii/_native__mypyc.<abi>.so
MANIFEST = "_native.json"

# What `choose` found: "compiled", or why the source runs: "off", "not built", "stale".
state = "not chosen"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _extension(directory: Path, name: str) -> bool:
    return any((directory / f"{name}{suffix}").is_file() for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def inspect(directory: Path) -> str:
    """'compiled' when the build in `directory` is whole and matches the sources, else why not."""
    if os.environ.get("FIRELINE_NATIVE", "1").strip() == "0":
        return "off"
    try:
        built = json.loads((directory / MANIFEST).read_text())["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return "not built"
    if not isinstance(built, dict) or set(built) != set(MODULES) or not all(
            _extension(directory, name) for name in MODULES) or not _extension(directory, "_native__mypyc"):
        return "not built"
    try:
        if any(built[name] != digest(directory / f"{name}.py") for name in MODULES):
            return "stale"
    except OSError:
        return "stale"
    return "compiled"


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the group's modules as their .py files, ahead of the compiled extensions beside them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != PACKAGE or name not in MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, self.directory / f"{name}.py")


def choose(directory: str | Path) -> str:
    """Decide, before the group's first import, whether its compiled modules or its sources run."""
    global state
    where = Path(directory)
    found = inspect(where)
    if found != "compiled" and any(_extension(where, name) for name in (*MODULES, "_native__mypyc")):
        if not any(isinstance(f, _SourceFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, _SourceFinder(where))
        if found == "stale":
            log.warning("the compiled PII scanner was built from other sources: running the sources "
                        "(slower); `make native` rebuilds it")
    state = found
    return found
