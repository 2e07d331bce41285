# The two commands of the README:  `make run`  and  `make test`.
# Both build their own virtualenv (.venv) from nothing but Python 3.11+.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CODE   := domain ports adapters_in adapters_out plugins
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: setup run test lint typecheck contracts pytest wheel-check bench clean

# The strict editable install links each file into the namespace, so a new
# module (or data file) needs the install run again: the stamp depends on the
# list of files, rewritten only when that list changes.
$(VENV)/.files: FORCE
	@mkdir -p $(VENV)
	@find $(CODE) -type f \( -name '*.py' -o -name '*.sql' -o -name '*.csv' -o -name '*.lua' -o -name 'py.typed' -o -path '*/samples/*' \) | LC_ALL=C sort > $@.new
	@cmp -s $@.new $@ 2>/dev/null && rm $@.new || mv $@.new $@

$(VENV)/.installed: pyproject.toml $(VENV)/.files
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' --config-settings editable_mode=strict
	@touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/partner-ingest serve --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy $(CODE)
	$(BIN)/mypy tests benchmarks examples

contracts: setup
	$(BIN)/lint-imports

pytest: setup
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck contracts pytest

# CI: build the wheel, install it alone into a clean virtualenv, import every module.
wheel-check: setup
	rm -rf dist build/wheel-venv
	$(BIN)/python -m build --wheel --outdir dist . >/dev/null
	$(PYTHON) -m venv build/wheel-venv
	build/wheel-venv/bin/python -m pip install --quiet "$$(ls dist/*.whl)[all]"
	cd build && wheel-venv/bin/python ../tests/import_every_module.py

# BENCH_ARGS=--quick for a short run; the HTTP section needs wrk (Debian's `wrk`).
bench: setup
	@command -v wrk >/dev/null || apt-get install -y wrk >/dev/null || echo "wrk missing: the HTTP section will be skipped"
	$(BIN)/python benchmarks/ingest_benchmark.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache .hypothesis

FORCE:
