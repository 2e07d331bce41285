# The two commands of the README:  `make run`  and  `make test`.
# Both build their own virtualenv (.venv) from nothing but Python 3.11+.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CODE   := package domain ports adapters_in adapters_out plugins testing
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: setup run test lint typecheck contracts pytest browser wheel-check bench bench-loop bench-pages bench-cache load api-fuzz fuzz clean

# The strict editable install links each file into the namespace, so a new
# module (or data file) needs the install run again: the stamp depends on the
# list of files, rewritten only when that list changes. Setuptools notes on every strict
# install that its link tree (build/__editable__.*) must stay: this file rebuilds it, and
# `make clean` removes it with the venv, so the notice is silenced and any other shows.
$(VENV)/.files: FORCE
	@mkdir -p $(VENV)
	@find $(CODE) -type f \( -name '*.py' -o -name '*.sql' -o -name '*.csv' -o -name '*.lua' -o -name '*.html' -o -name '*.css' -o -name '*.js' -o -name '*.map' -o -name 'py.typed' -o -path '*/samples/*' \) | LC_ALL=C sort > $@.new
	@cmp -s $@.new $@ 2>/dev/null && rm $@.new || mv $@.new $@


# The dependencies (and pip, which the tests and `python -m build` run) are installed by uv, from
# PyPI like every other package: it fetches and installs them in parallel and compiles their
# bytecode on every core, as pip compiles it one file at a time (docs/ADR/0012-testability.md).
# The venv is made without pip (ensurepip would install one only to be replaced) and the host's
# pip puts uv in it, or where the host has none, the pip ensurepip installs. The package itself is
# installed by pip, with the venv's setuptools (held to build-system.requires): uv shows a build
# backend's output in its debug log alone, pip shows setuptools' warnings. Where uv cannot be had
# or fails (no uv wheel for the platform, no PyPI), pip installs everything as before. An
# installed uv serves later runs.
$(VENV)/.installed: pyproject.toml $(VENV)/.files
	@test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	@test -x $(BIN)/uv || $(PYTHON) -m pip --python $(BIN)/python install --quiet uv 2>/dev/null \
		|| { $(BIN)/python -m ensurepip >/dev/null && $(BIN)/python -m pip install --quiet uv; } \
		|| echo "make setup: no uv, pip installs the dependencies"
	@set -x; if test -x $(BIN)/uv && $(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode \
		-r pyproject.toml --extra dev pip --upgrade-package pip; then \
		only_package="--no-deps --no-build-isolation --check-build-dependencies"; \
	else \
		{ $(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade >/dev/null; } \
		&& $(BIN)/python -m pip install --quiet --upgrade pip || exit 1; \
	fi; \
	PYTHONWARNINGS="ignore:Editable installation" \
		$(BIN)/python -m pip install --quiet $$only_package -e '.[dev]' --config-settings editable_mode=strict
	@# The package's bytecode, on every core at once: otherwise the first processes of a run (the
	@# pytest workers, starting together) each compile every module they import.
	@$(BIN)/python -m compileall -q -j 0 "$$($(BIN)/python -c 'import partner_ingest, os; print(os.path.dirname(partner_ingest.__file__))')" tests/support >/dev/null
	@touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/partner-ingest serve --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# One mypy run for the package and its tests: a second would start again and read back what
# the first had just analysed (the package, which every test imports). A fresh clone has no
# cache, and its analysis spreads over every core (a warm cache is read in about a second either way).
MYPY_WORKERS ?= auto
typecheck: setup
	$(BIN)/mypy --num-workers $(MYPY_WORKERS) $(CODE) tests benchmarks examples

contracts: setup
	# No cache: after `make setup` re-links the package its graph can describe the previous files.
	$(BIN)/lint-imports --no-cache

# The browser tests (tests/browser) drive Debian's headless Chromium through Playwright:
# chromium-headless-shell, the same release as its `chromium` without the desktop browser's
# machinery. Playwright's own browser download is never used (no `playwright install`).
# tests/support/browser.py names the same path; PARTNER_INGEST_TEST_CHROMIUM points the tests
# at another build.
CHROMIUM ?= /usr/lib/chromium/chromium-headless-shell
browser:
	@test -x $(CHROMIUM) || (apt-get update -qq && apt-get install -y -qq chromium-headless-shell)

# The suite runs on every core (pytest-xdist), with one worker more than there are cores: each
# test has its own PostgreSQL schema, Redis key prefix, ports and files (tests/support/), so
# workers never meet. Many tests wait on real processes, sockets, timeouts and disks; the extra
# worker runs while another waits (2 cores: pytest 82-84 s with three workers against 86-97 s with
# two, and 94 s with four; docs/ADR/0012-testability.md).
# Branch coverage of the package is reported (pyproject.toml's [tool.coverage]), and the suite must
# keep its floor; the tracer runs in a test's setup, call and teardown only, not in pytest's work
# between them (tests/conftest.py). coverage reports once the workers' data is combined: pytest-cov's
# own report analysed every file of the package twice (once for the total, once for the table),
# one core's second or more at the end of the run with the other idle.
PYTEST_WORKERS ?= $(shell expr $$(nproc 2>/dev/null || echo 1) + 1)
COVERAGE_FLOOR ?= 90
# The suite starts hundreds of Python processes (servers, workers, the CLI): they write and share
# compiled bytecode (__pycache__, ignored by git) rather than compile every module at each start,
# even where PYTHONDONTWRITEBYTECODE is set. Beside each module, not under a PYTHONPYCACHEPREFIX: a
# prefix applies to every module, so a fresh clone recompiled the standard library and every
# installed package (about 2,300 files, once per process that started before another had written
# them) although pip and Python had compiled them already (docs/ADR/0012-testability.md).
# Test files (tmp_path: SQLite databases, logs, feeds) go to a RAM-backed /dev/shm where it has room
# (a run writes a few hundred MB at most): the stores commit with synchronous=FULL, and an fsync on
# disk per commit was a quarter of the SQLite tests' time. TEST_TMPDIR= keeps the system's.
TEST_TMPDIR ?= $(shell df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 && $$4 > 2097152 { print "/dev/shm" }')
pytest: setup browser
	env -u PYTHONDONTWRITEBYTECODE $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR)) \
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal --cov --cov-report= $(PYTEST_ARGS)
	$(BIN)/coverage report --skip-covered --fail-under=$(COVERAGE_FLOOR)

# The checks of a second or less (ruff, the import contracts) go before mypy, whose cold run
# (a fresh clone has no cache) is the longest: a broken rule fails without waiting for it.
test: lint contracts typecheck pytest

# CI: build the wheel, install it alone into a clean virtualenv, import every module.
wheel-check: setup
	rm -rf dist build/wheel-venv
	$(BIN)/python -m build --wheel --outdir dist . >/dev/null
	$(PYTHON) -m venv build/wheel-venv
	build/wheel-venv/bin/python -m pip install --quiet "$$(ls dist/*.whl)[all,testing]"
	cd build && wheel-venv/bin/python ../tests/import_every_module.py

# The API fuzzer at length: schemathesis against a real `serve`, API_FUZZ_EXAMPLES test cases per
# operation and phase (`make test` runs the same test with 5, CI with 10), every phase (`make test`
# leaves the unseeded coverage phase to CI, docs/ADR/0012-testability.md). API_FUZZ_SEED=<seed> replays a run.
API_FUZZ_EXAMPLES ?= 300
API_FUZZ_PHASES ?= examples,coverage,fuzzing,stateful
api-fuzz: setup
	API_FUZZ_EXAMPLES=$(API_FUZZ_EXAMPLES) API_FUZZ_PHASES=$(API_FUZZ_PHASES) $(BIN)/pytest -q -s --timeout 3600 tests/e2e/test_api_fuzz.py

# BENCH_ARGS=--quick for a short run; the HTTP section needs wrk (Debian's `wrk`).
bench: setup
	@command -v wrk >/dev/null || apt-get install -y wrk >/dev/null || echo "wrk missing: the HTTP section will be skipped"
	$(BIN)/python benchmarks/ingest_benchmark.py $(BENCH_ARGS)

# /healthz latency while four clients post gzip bombs, against a real serve (ADR 0026).
bench-loop: setup
	$(BIN)/python benchmarks/event_loop_benchmark.py

# wrk against one serve on SQLite and two sharing PostgreSQL and Redis (ADR 0026);
# needs the Debian package wrk, installed here when missing (root) and the
# PARTNER_INGEST_TEST_POSTGRES_URL / _REDIS_URL services for the second setup.
LOAD_SECONDS ?= 60
LOAD_LIMIT   ?= 30
load: setup
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python benchmarks/load_benchmark.py --seconds $(LOAD_SECONDS) --limit $(LOAD_LIMIT)

bench-pages: setup
	$(BIN)/python benchmarks/pages_benchmark.py

# 100 hot SKUs read 10,000 times during a sale, with and without the product cache (ADR 0017):
# wrk against serve on SQLite, and on PostgreSQL (and Redis) when the PARTNER_INGEST_TEST_* URLs are set.
bench-cache: setup
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python benchmarks/cache_benchmark.py $(BENCH_ARGS)

# Coverage-guided fuzzing of the json, jsonl, csv and xml parsers (tests/fuzz/run.py, ADR 0027):
# each target for FUZZ_SECONDS, one summary line (executions) per target; every target runs
# even after one fails, and the run fails if any did.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?= json jsonl csv xml
fuzz: setup
	@status=0; for target in $(FUZZ_TARGETS); do \
		$(BIN)/python tests/fuzz/run.py $$target --seconds $(FUZZ_SECONDS) || status=1; \
	done; exit $$status

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache .hypothesis

FORCE:
