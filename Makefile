# Two commands matter to a newcomer: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Lint passed on these very files: a `make test` that changed nothing skips ruff and mypy.
LINTED := $(VENV)/.linted-stamp
LINTED_FILES := $(shell find harness tests targets benchmarks examples -name '*.py') pyproject.toml
# Test workers: most tests wait on retries, faults and started servers rather than compute, so more
# workers than cores pays. --dist loadscope keeps a module's tests (a class's, where a module has
# classes) on one worker, so a module-scoped fixture (a scenario run, a built image) runs once; modules
# are handed out in collection order, where tests/conftest.py puts the long end-to-end ones first.
TEST_WORKERS ?= 4

.PHONY: install demo demo-watch test lint system bench bench-proxy bench-load bench-checker clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/harness run scenarios/payments.yaml

# harness watch on the payments target's ledger under retried load: naive's duplicate rate, then idempotent's
demo-watch: install
	$(BIN)/python examples/monitoring/demo_watch.py

# Compiled bytecode (pytest's assertion-rewritten test and harness modules included) is kept under the
# venv, not beside the sources, and written even where PYTHONDONTWRITEBYTECODE is set: without it every
# test worker rewrote and compiled ~500 modules at collection (8.4 CPU-s each, 4.0 with the cache), and
# every target, driver and `harness` process the tests start compiled the harness modules it imports
# (13% fewer CPU-s on the subprocess-heavy run/plugin/driver tests). `make clean` empties it.
test: export PYTHONPYCACHEPREFIX := $(abspath $(VENV))/pycache
test: export PYTHONDONTWRITEBYTECODE :=
# The bytecode of the tests' temporary folders (installed wheels, users' projects) is never read again:
# dropped before each run, so the cache does not grow by ~20 MB a run.
test: install lint system
	rm -rf $(VENV)/pycache$(realpath $(or $(TMPDIR),/tmp))
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

# Debian stores (PostgreSQL, Redis, RabbitMQ) and a Docker engine with the offline base image.
system: install
	bash .ci/install-system-packages
	PYTHON=$(BIN)/python bash .ci/ensure-docker

lint: $(LINTED)

$(LINTED): $(STAMP) $(LINTED_FILES)
	$(BIN)/ruff check harness tests targets benchmarks examples
	$(BIN)/mypy
	touch $(LINTED)

bench: bench-proxy bench-load bench-checker

bench-proxy: install
	$(BIN)/python -m benchmarks.proxy --out reports/bench/proxy.json

bench-load: install
	$(BIN)/python -m benchmarks.load --out reports/bench/load.json

bench-checker: install
	$(BIN)/python -m benchmarks.checker --out reports/bench/checker.json

clean:
	-$(BIN)/harness clean
	rm -rf reports/latest reports/run-*
	rm -rf $(VENV)/pycache
