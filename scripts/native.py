"""Compile the per-call hot path (fireline.native.MODULES: the PII scanner and the detectors) to one C
extension with mypyc, in place (`make native`).

Writes the extensions beside the modules (*.so under src/fireline, ignored by git) and, last, the
manifest of the sources' SHA-256 that `fireline.native` checks at import: a build that fails half
way leaves no manifest, and the sources run. Needs mypy (the `test` extra) and a C compiler; about
80 s on two cores.

    .venv/bin/python scripts/native.py [--clean]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fireline import native  # noqa: E402

PACKAGE = ROOT / "src" / "fireline"


def sources() -> dict[str, str]:
    return {m: native.digest(native.source(PACKAGE, m)) for m in native.MODULES}


def clean() -> int:
    """Remove the build (the manifest first, so nothing half removed is taken for a build)."""
    (PACKAGE / native.MANIFEST).unlink(missing_ok=True)
    removed = 0
    for path in PACKAGE.rglob("*.so"):
        path.unlink()
        removed += 1
    return removed


def build() -> None:
    from mypyc.build import mypycify
    from setuptools import setup

    compiled = sources()
    clean()
    started = time.monotonic()
    os.chdir(ROOT)  # mypy reads pyproject.toml's [tool.mypy] (mypy_path = "src") from here
    with tempfile.TemporaryDirectory(prefix="fireline-native-") as work:
        extensions = mypycify([str(native.source(PACKAGE, m).relative_to(ROOT)) for m in native.MODULES],
                              group_name=native.GROUP, target_dir=work, opt_level="3")
        setup(name="fireline-native", ext_modules=extensions, packages=[], py_modules=[],
              script_args=["-q", "build_ext", "--inplace", "--build-temp", work, "--build-lib", work])
    if sources() != compiled:
        raise SystemExit("the sources changed during the build: run it again")
    (PACKAGE / native.MANIFEST).write_text(json.dumps({"sources": compiled}, indent=1) + "\n")
    state = native.inspect(PACKAGE)
    if state != "compiled":
        raise SystemExit(f"the build is not usable: {state}")
    print(f"compiled {len(native.MODULES)} modules in {time.monotonic() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="remove the build: the sources run")
    args = parser.parse_args()
    if args.clean:
        print(f"removed {clean()} compiled files")
        return
    build()


if __name__ == "__main__":
    main()
