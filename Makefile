# govpub — one entry point for users and CI.
#   make demo    create .venv, install govpub, run `govpub demo`
#   make bench   run the benchmarks (bench/RESULTS.md)
#   make test    install everything the tests need (venv, dev + Airflow packages, Kafka jars),
#                then lint, type-check and run the whole suite against a real Kafka broker
#                and a real PostgreSQL server (`make postgres` installs it), and, for the
#                website, in headless Chromium (`make browser` installs it)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.stamp-run
DEV_STAMP := $(VENV)/.stamp-dev
PYTEST_ARGS ?=

.PHONY: demo test bench install install-dev kafka-jars browser hugo postgres lint typecheck pytest schemas clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,airflow]'
	touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)

install-dev: $(DEV_STAMP)

demo: $(RUN_STAMP)
	$(BIN)/govpub demo

kafka-jars: $(DEV_STAMP)
	$(BIN)/python -m tests.kafka_broker fetch

# Headless Chromium and its driver for the website's browser test (Debian packages), and
# a CJK font so that screenshots show the text. Installed only when missing.
BROWSER_PACKAGES := chromium chromium-driver fonts-wqy-microhei
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] \
	    || [ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y $(BROWSER_PACKAGES); \
	fi

# Hugo, the static-site generator the website's rebuild is measured against
# (bench/peers.py): Debian's package, installed only when missing.
hugo:
	@if ! command -v hugo >/dev/null; then \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y hugo; \
	fi

# PostgreSQL's server programs (Debian's postgresql package) for the tests and benchmarks
# of the PostgreSQL state store: the suite runs initdb and pg_ctl itself, in a temporary
# directory on a free loopback port (as the package's postgres user when run as root), and
# stops the server at the end. The package's own cluster is not used (nor started).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends postgresql; \
	fi

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP) kafka-jars browser postgres
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# Benchmarks (minutes; not part of the tests): figures and ratios, see bench/RESULTS.md
bench: $(DEV_STAMP) kafka-jars hugo postgres
	$(BIN)/python -m bench

schemas: $(RUN_STAMP)
	$(BIN)/govpub schemas export

clean:
	rm -rf $(VENV) govpub-demo .govpub public .pytest_cache .mypy_cache .ruff_cache
