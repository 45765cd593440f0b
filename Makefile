# Two commands: `make dev` (UI on :3000 with a seeded sample) and `make test` (the whole suite).
# Both do all their own set-up and are idempotent: the second run skips what is already done.

SHELL := /bin/bash
# The first Python 3.11 or 3.12 on the PATH (PySpark 3.5 and the pinned set stop at 3.12)
PYTHON ?= $(shell for p in python3.12 python3.11 python3; do $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
CSP_HOME ?= $(CURDIR)/.csp
export CSP_HOME
DAGSTER_HOME ?= $(CSP_HOME)/dagster
export DAGSTER_HOME
STAMP := $(VENV)/.installed
DEV_PORT ?= 3000
SEED_EVENTS ?= 3000

.PHONY: setup system-deps jars services services-down seed dev test lint validate package clean

setup: system-deps $(STAMP) jars

system-deps:
	@PYTHON="$(PYTHON)" scripts/ensure-system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

jars: $(STAMP)
	@$(BIN)/python -c "from cs_platform.adapters.jars import provision; from cs_platform.settings import load_settings; print('spark jars:', provision(load_settings()).spark_conf())"

services: setup
	@$(BIN)/csp services up

services-down:
	@$(BIN)/csp services down

seed: services
	@scripts/seed-sample.sh

dev: seed
	@mkdir -p $(DAGSTER_HOME)
	@cp deploy/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	@echo "Dagster UI: http://127.0.0.1:$(DEV_PORT)  (CSP_HOME=$(CSP_HOME))"
	@set -m; exec $(BIN)/dagster dev -m cs_platform.definitions -h 0.0.0.0 -p $(DEV_PORT)

lint: setup
	$(BIN)/lint-imports
	$(BIN)/python -m pyflakes platform platform_tests bench

validate: setup
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/dagster definitions validate -m cs_platform.definitions

test: setup
	$(BIN)/lint-imports
	$(BIN)/python -m pyflakes platform platform_tests bench
	$(BIN)/python -m pytest -q --durations=15 $(PYTEST_ARGS)

package: setup  # EMR Serverless artifacts in dist/emr/ (README, Going to production)
	@PYTHON=$(BIN)/python scripts/package-emr.sh

clean: services-down
	rm -rf $(CSP_HOME)
