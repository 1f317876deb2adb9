# Thingstead: `make run` serves the app with demo data on SQLite; `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint bench fuzz setup setup-dev chromium migrate demo clean

$(BIN)/python:
	@py=$$(scripts/find-python) || exit 1; echo "Creating $(VENV) with $$py"; "$$py" -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt
	$(BIN)/pip install -q -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here), and nginx for the
# slow-client test of README's production layout (tests/security/test_slow_clients.py).
chromium:
	@missing=""; [ -x "$(CHROMIUM)" ] || missing="chromium"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian's$$missing for the tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq $$missing; fi; \
	fi

migrate: setup
	DEBUG=1 $(PYTHON) manage.py migrate --noinput

# The address links and new twins' DIDs use (core.address): SITE_URL if given, else computed from HOST and PORT.
RUN_SITE_URL = $(or $(SITE_URL),$(shell $(PYTHON) -m core.address url --host $(HOST) --port $(PORT)))

demo: migrate
	DEBUG=1 SITE_URL="$(RUN_SITE_URL)" $(PYTHON) manage.py load_demo

# Development server: ASGI (Daphne + Channels), SQLite, console email, demo data, and the task worker
# (emails to owners, scan history) in the background, stopped with the server.
# Links (QR codes, offers, emails) carry SITE_URL: computed from HOST/PORT unless given (HOST=0.0.0.0: the LAN
# address, for phones); serve_address prints it and warns when SITE_URL does not match where the server listens.
run: demo
	@export SITE_URL="$(RUN_SITE_URL)"; \
	site_host="$${SITE_URL#*://}"; site_host="$${site_host%%[:/]*}"; \
	export ALLOWED_HOSTS="$${ALLOWED_HOSTS:-localhost,127.0.0.1,[::1],.localhost,$$site_host}"; \
	DEBUG=1 $(PYTHON) manage.py serve_address --host $(HOST) --port $(PORT); \
	DEBUG=1 $(PYTHON) manage.py worker --no-startup-delay & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	DEBUG=1 $(BIN)/daphne -b $(HOST) -p $(PORT) config.asgi:application

# ruff, and the import-linter contracts of pyproject.toml (one direction of dependencies: README "Architecture").
lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

test: lint chromium
	$(BIN)/pytest

# The fuzzers of tests/hostile with 100,000 inputs each (the test suite runs a short pass of the same tests).
fuzz: setup-dev
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100000} $(BIN)/pytest -q -p no:cacheprovider tests/hostile/test_fuzz.py tests/hostile/test_fuzz_import.py tests/hostile/test_fuzz_csv_import.py tests/hostile/test_fuzz_sun.py

# Benchmarks need PostgreSQL and Redis on loopback (as in production) and wrk as the load generator.
bench: setup-dev
	@command -v wrk >/dev/null || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; else sudo apt-get install -y -qq wrk; fi; }
	$(PYTHON) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
