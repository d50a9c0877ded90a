# Baton: `make run` starts everything on the embedded stack, `make test` runs every test.
# Needs only python3 (3.11+), make and git; everything else is installed under .baton/ and .venv/.

PYTHON ?= python3
UV_VERSION := 0.13.9
BOOT := .baton/bootstrap
UV := $(BOOT)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
MEMBERS := schemas runtime router sla-monitor feedback
export UV_PYTHON := $(shell command -v $(PYTHON))
export UV_CACHE_DIR := $(CURDIR)/.baton/uv-cache

.PHONY: install run lead test test-members test-e2e test-hostile test-chaos test-deploy chaos up down lint schemas schemas-check bench bench-quick bench-door bench-sla bench-scale clean

$(UV):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Baton needs Python 3.11+"'
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml */pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen --all-packages
	@touch $@

install: $(VENV)/.synced

run: install
	$(PY) -m baton_runtime.devstack.cli

lead: install
	$(PY) -m baton_runtime.devstack.demo

# Each workspace member's tests run in an environment holding only that member's
# dependencies (plus its test group), so an undeclared import fails here. The end-to-end
# and hostile-input suites run side by side: both spend most of their time waiting on
# processes, brokers and databases of their own, so two cores serve both.
test: install test-members
	$(MAKE) --no-print-directory -j2 --output-sync=target test-e2e test-hostile
	$(MAKE) --no-print-directory test-chaos test-deploy

member_dir = $(if $(filter schemas,$(1)),schemas,services/$(1))
member_tests = tests/$(subst -,_,$(1))

test-members: $(UV)
	@set -e; for m in $(MEMBERS); do \
	  pkg=baton-$$m; env=.baton/venvs/$$m; \
	  echo "== $$pkg: isolated environment"; \
	  UV_PROJECT_ENVIRONMENT=$$env $(UV) sync --quiet --frozen --package $$pkg --group test; \
	  dir=tests/$$(echo $$m | tr - _); \
	  $$env/bin/python -m pytest $$dir -q || exit $$?; \
	done

test-e2e: install
	$(PY) -m pytest tests/e2e -q

# Hostile input against every service: schemathesis on each OpenAPI document, property
# tests of the normalisers and the policy loader, signature attacks, bodies that are too big.
test-hostile: install
	$(PY) -m pytest tests/hostile -q

# The fault-injection suite (tests/chaos/README.md): the three services as real processes
# under a stream of webhooks while a driver kills them, stops PostgreSQL and pauses the
# broker. test-chaos is the short run inside `make test`; `make chaos` is the full one.
test-chaos: install
	$(PY) -m pytest tests/chaos -q

chaos: install
	BATON_CHAOS=full $(PY) -m pytest tests/chaos -q -s

# The offline checks of deploy/ (no Docker engine or cluster needed): compose file and
# Kubernetes manifests against their schemas, environment variables, Dockerfile paths.
test-deploy: install
	$(PY) -m pytest tests/deploy -q

# The compose stack on Apache Kafka and PostgreSQL (needs Docker with compose). The stack's
# secrets are generated once into .baton/compose.env; see deploy/README.md.
COMPOSE := docker compose --env-file .baton/compose.env -f deploy/compose.yaml

up:
	$(PYTHON) deploy/compose/make_env.py .baton/compose.env
	$(COMPOSE) up -d --build

down:
	@test -f .baton/compose.env || $(PYTHON) deploy/compose/make_env.py .baton/compose.env
	$(COMPOSE) down

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy schemas/src services/runtime/src services/router/src services/sla-monitor/src services/feedback/src

schemas: install
	$(PY) -m baton_schemas.generate

schemas-check: install
	$(PY) -m baton_schemas.generate --check

# The benchmark on the embedded stack (see bench/__init__.py): prints a table and writes
# bench/results/latest.json. bench-quick is the short run (about a minute).
bench: install
	$(PY) -m bench

bench-quick: install
	$(PY) -m bench --quick

# The webhook door's own CPU per request, in-process (no server, socket or broker), against
# the no-op route (bench/door.py); writes bench/results/door.json.
bench-door: install
	$(PY) -m bench.door

# The SLA monitor: 20,000 assignments taken in, then 20,000 deadlines expiring at once
# (bench/sla_timer.py); writes bench/results/sla_timer.json.
bench-sla: install
	$(PY) -m bench.sla_timer

# One and then two replicas of the router and of the SLA monitor sharing one topic's
# partitions and the timers (bench/scale_out.py); writes bench/results/scale_out.json.
bench-scale: install
	$(PY) -m bench.scale_out

clean:
	rm -rf .venv .baton
