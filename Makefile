# `make demo` and `make test` are all a fresh clone needs: both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup demo run test test-full bench lint format clean

TEST_STAMP := $(VENV)/.installed-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# the tests also exercise the orchestration examples (Dagster, Airflow)
$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,dagster,airflow]'
	touch $(TEST_STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m pipelines demo

run: $(STAMP)
	$(BIN)/python -m pipelines run

test: $(TEST_STAMP)
	scripts/with-postgres.sh $(BIN)/python -m pytest -n 2 --dist worksteal -m "not slow" --durations=20 $(PYTEST_ARGS)

test-full: $(TEST_STAMP)
	scripts/with-postgres.sh $(BIN)/python -m pytest -n 2 --dist worksteal $(PYTEST_ARGS)

# the PostgreSQL case loads into the throwaway server the script starts (skipped without one)
bench: $(STAMP)
	scripts/with-postgres.sh $(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
