PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-postgres install lint clean bench bench-quick bench-tools

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

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

## B5's load generator: Debian's wrk (the suite falls back to a Python generator without it)
bench-tools:
	@command -v wrk >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    timeout 180 apt-get install -y -q wrk >/dev/null 2>&1 \
	    || { timeout 180 apt-get update -q >/dev/null 2>&1 && timeout 180 apt-get install -y -q wrk >/dev/null 2>&1; } \
	    || echo "bench: could not install wrk; B5 uses the Python load generator"; \
	  else echo "bench: no apt-get; B5 uses the Python load generator"; fi; }

## Every performance target (B1-B11) against its floor, SQLite and PostgreSQL (100k/1M members);
## writes the run's tables into docs/performance.md (its marked results section)
bench: $(BENCH_STAMP) bench-tools
	$(BIN)/python -m bench

## The same suite on small data, a few seconds per target (CI: times are not judged, but a
## failed check fails it: a wrong answer, a GraphQL error, a log not grown, different end states)
bench-quick: $(STAMP) bench-tools
	$(BIN)/python -m bench --quick

## ruff, and mypy --strict over every package (CI runs it)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var
