# Set-up is part of every target: the virtualenv is (re)built from pyproject.toml when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo serve test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The main job: simulate the 2024 campaign on a fresh SQLite file in out/.
demo: $(STAMP)
	$(BIN)/rectify demo

## The service over the demo's store (after make demo): a town office token, printed once,
## then the API and the console on http://127.0.0.1:8000 (docs/service.md).
serve: $(STAMP)
	$(BIN)/rectify token create 镇消安办 --role town_office --role community --town --label "make serve" --db out/rectify.db
	$(BIN)/rectify serve --db out/rectify.db

## The whole suite: lint, types, tests.
test: $(STAMP) lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) dist build .mypy_cache .ruff_cache .pytest_cache .hypothesis
