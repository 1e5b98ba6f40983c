"""Compile the PII scanner (fireline.pii) to a C extension with mypyc, in place (`make native`).

Writes the extensions beside the modules (src/fireline/pii/*.so, ignored by git) and, last, the
manifest of the sources' SHA-256 that `fireline.native` checks at import: a build that fails half
way leaves no manifest, and the sources run. Needs mypy (the `test` extra) and a C compiler; about
40 s on two cores.

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

PII = ROOT / "src" / "fireline" / "pii"


def clean() -> int:
    """Remove the build (the manifest first, so nothing half removed is taken for a build)."""
    (PII / native.MANIFEST).unlink(missing_ok=True)
    removed = 0
    for path in PII.glob("*.so"):
        path.unlink()
        removed += 1
    return removed


def build() -> None:
    from mypyc.build import mypycify
    from setuptools import setup

    sources = {name: native.digest(PII / f"{name}.py") for name in native.MODULES}
    clean()
    started = time.monotonic()
    os.chdir(ROOT)  # mypy reads pyproject.toml's [tool.mypy] (mypy_path = "src") from here
    with tempfile.TemporaryDirectory(prefix="fireline-native-") as work:
        extensions = mypycify([f"src/fireline/pii/{name}.py" for name in native.MODULES],
                              group_name=native.GROUP, target_dir=work, opt_level="3")
        setup(name="fireline-native", ext_modules=extensions, packages=[], py_modules=[],
              script_args=["-q", "build_ext", "--inplace", "--build-temp", work, "--build-lib", work])
    if {name: native.digest(PII / f"{name}.py") for name in native.MODULES} != sources:
        raise SystemExit("the sources changed during the build: run it again")
    (PII / native.MANIFEST).write_text(json.dumps({
        "sources": sources, "python": sys.version.split()[0],
    }, indent=1) + "\n")
    state = native.inspect(PII)
    if state != "compiled":
        raise SystemExit(f"the build is not usable: {state}")
    print(f"compiled {len(native.MODULES)} modules of fireline.pii in {time.monotonic() - started:.0f} s")


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
