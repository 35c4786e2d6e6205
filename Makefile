# Every target creates .venv on first use from the pinned lock and reuses it after.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv compiled validate test test-fast lint typecheck release publish build bench lock clean browser

help:
	@echo "make release    check every record, build build/<version>/ and its zip, verify them (anyone, any branch)"
	@echo "make publish    record the built version: releases/<version>.json, CITATION.cff, commit, tag v<version> (maintainers)"
	@echo "make validate   check every record in the repository"
	@echo "make test       lint, type-check and run every test"
	@echo "make test-fast  the same without the end-to-end tests (marked slow), for the edit loop"
	@echo "make bench      time validate and build on 10k and 100k synthetic events (BENCH_1M=1: also 1M)"
	@echo "make lock       re-pin requirements.lock after changing pyproject.toml"

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

validate: $(STAMP)
	$(BIN)/eventledger validate --require-coverage

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# The site's browser tests need Debian's Chromium (never a browser downloaded by Playwright)
# and axe-core from tests/browser/package-lock.json. As root, make installs what is missing;
# otherwise it stops and prints the command.
CHROMIUM := /usr/bin/chromium
AXE_STAMP := tests/browser/node_modules/.installed

browser: $(AXE_STAMP)
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	  else echo "Chromium is missing; install it with: sudo apt-get install -y chromium" >&2; exit 1; fi; }

$(AXE_STAMP): tests/browser/package.json tests/browser/package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y npm; \
	  else echo "npm is missing; install it with: sudo apt-get install -y npm" >&2; exit 1; fi; }
	cd tests/browser && npm ci --ignore-scripts --no-audit --no-fund
	touch $(AXE_STAMP)

# The tests run side by side, one process per core (pytest-xdist; TEST_WORKERS=0 runs them in
# this process, for --pdb). Each process is handed whole files: a file's module fixtures (a
# whole build, a browser) are made once, as in one process, not once per process.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

# The tests start the CLI as its own process hundreds of times. The install is editable, and
# where PYTHONDONTWRITEBYTECODE is set (as on this project's machine) nothing would ever write
# eventledger's bytecode: each of those processes would compile every module it imports
# again. Compiled once here; an edited module is compiled again by the next run, never read
# stale (Python checks each .pyc against its source).
compiled: $(STAMP)
	$(BIN)/python -m compileall -q src

test: $(STAMP) lint typecheck browser compiled
	$(PYTEST)

test-fast: $(STAMP) lint typecheck compiled
	$(PYTEST) -m "not slow"

# Building records nothing, so any number of builds on any branch never block each other.
release: $(STAMP)
	$(BIN)/eventledger build

# The maintainer's act: builds again, then records and tags the version (see CONTRIBUTING.md).
publish: $(STAMP)
	$(BIN)/eventledger release

bench: $(STAMP)
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/evidence_site.py

lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile pyproject.toml requirements-build.in --extra dev --generate-hashes --python-version 3.11 --no-header --universal -o requirements.lock

clean:
	rm -rf $(VENV) build tests/browser/node_modules
