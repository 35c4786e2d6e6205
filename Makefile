# Every target creates .venv on first use from the pinned lock and reuses it after.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv validate test test-fast lint typecheck release build bench lock clean

help:
	@echo "make release    build, check and publish build/<version>/ (the maintainer's command)"
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
	$(BIN)/eventledger validate

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

release: $(STAMP)
	$(BIN)/eventledger release

bench: $(STAMP)
	$(BIN)/python benchmarks/scale.py

lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile pyproject.toml requirements-build.in --extra dev --generate-hashes --python-version 3.11 --no-header --universal -o requirements.lock

clean:
	rm -rf $(VENV) build
