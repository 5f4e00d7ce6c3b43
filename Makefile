# Two commands matter to a newcomer: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint system bench bench-proxy bench-checker clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/harness run scenarios/payments.yaml

test: install lint system
	$(BIN)/pytest

# Debian stores (PostgreSQL, Redis, RabbitMQ) and a Docker engine with the offline base image.
system: install
	bash .ci/install-system-packages
	PYTHON=$(BIN)/python bash .ci/ensure-docker

lint: install
	$(BIN)/ruff check harness tests targets benchmarks
	$(BIN)/mypy

bench: bench-proxy bench-checker

bench-proxy: install
	$(BIN)/python -m benchmarks.proxy --out reports/bench/proxy.json

bench-checker: install
	$(BIN)/python -m benchmarks.checker --out reports/bench/checker.json

clean:
	-$(BIN)/harness clean
	rm -rf reports/latest reports/run-*
