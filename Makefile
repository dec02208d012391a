# paynet-gateway: `make demo` shows it working, `make test` proves it. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast test-docker chaos lint format bench bench-integrations clean lock lock-check

setup: $(STAMP)

# The locked versions (requirements-dev.lock), then the project and its client, editable, adding
# nothing.
$(STAMP): pyproject.toml clients/python/pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -e . -e clients/python
	touch $(STAMP)

# The lock files from pyproject.toml (uv, from PyPI); lock-check (CI) needs no network.
lock: setup
	$(PY) -m tools.lock update

lock-check: setup
	$(PY) -m tools.lock check

demo: setup
	$(PY) -m demo

# Three test sessions side by side (pytest-xdist): the gateway tests mostly wait on workers,
# timeouts and redeliveries, so even two cores keep three busy.
test: setup
	$(PY) -m pytest -n 3

test-fast: setup
	$(PY) -m pytest -m "not slow"

test-docker: setup
	$(PY) -m pytest tests/docker -rs

# The long chaos run (minutes; not part of make test): embedded servers, so it can restart them.
chaos: setup
	env -u REDIS_URL -u DATABASE_URL PAYNET_CHAOS=1 $(PY) -m pytest tests/chaos -s -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Embedded Redis and PostgreSQL: the bench flushes its Redis and counts every client's commands.
bench: setup
	env -u REDIS_URL -u DATABASE_URL $(PY) -m bench

# Storms on Paynet and on a bearer integration side by side (bench/INTEGRATIONS.md).
bench-integrations: setup
	env -u REDIS_URL -u DATABASE_URL $(PY) -m bench.integrations

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
