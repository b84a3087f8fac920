PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-postgres install lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

## Serve the demo on http://127.0.0.1:8000 (SQLite file under var/)
run: $(STAMP)
	$(BIN)/membervault db upgrade
	$(BIN)/membervault demo
	$(BIN)/membervault serve

## The whole test suite on the default database (SQLite)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## The same suite against PostgreSQL at 127.0.0.1:5432 (database test)
test-postgres: $(STAMP)
	MEMBERVAULT_TEST_DATABASE=postgresql $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var
