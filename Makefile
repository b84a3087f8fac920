PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-postgres install lint clean codegen-tools bench bench-quick bench-tools browser messages screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	$(MAKE) codegen-tools
	touch $(STAMP)

## ariadne-codegen (typed clients from schema/schema.graphql and docs/operations.graphql,
## configured in pyproject.toml) in its own environment: it pins graphql-core and ruff
## below the project's versions. tests/docs/test_generated_client.py runs it.
CODEGEN := .venv-codegen
codegen-tools:
	$(PYTHON) -m venv $(CODEGEN)
	$(CODEGEN)/bin/pip install --quiet 'ariadne-codegen==0.19.0'

install: $(STAMP)

## Serve the demo on http://127.0.0.1:8000 (SQLite file under var/): the API, the privacy
## centre (/privacy/) and the background worker (a second process, stopped with the server)
run: $(STAMP)
	$(BIN)/membervault db upgrade
	$(BIN)/membervault demo
	$(BIN)/membervault serve --with-worker

## The whole test suite on the default database (SQLite), the browser tests included
test: $(STAMP) browser
	$(BIN)/python -m pytest -q

## The same suite against PostgreSQL at 127.0.0.1:5432 (database test)
test-postgres: $(STAMP) browser
	MEMBERVAULT_TEST_DATABASE=postgresql $(BIN)/python -m pytest -q

## Debian's Chromium for the browser tests (skipped without it, failed under CI=true)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    timeout 600 apt-get install -y -q chromium >/dev/null 2>&1 \
	    || { timeout 300 apt-get update -q >/dev/null 2>&1 && timeout 600 apt-get install -y -q chromium >/dev/null 2>&1; } \
	    || echo "browser: could not install chromium; the browser tests will be skipped"; \
	  else echo "browser: no apt-get; the browser tests will be skipped"; fi; }

## Photograph each page of the privacy centre and of the console at desktop and phone width
## into docs/screenshots (the browser tests' walks; not part of make test)
screenshots: $(STAMP) browser
	MEMBERVAULT_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q -p no:randomly \
	  tests/membervault/web/test_browser.py tests/membervault/console/test_browser.py \
	  -k "downloads_their_data or finds_a_request"

WEB := membervault/web
MAIL := vaultkernel/locales
## Extract the texts into their catalogues (then translate what is new): the privacy
## centre's (domain messages), the console's (console), mail and the export summary's (mail)
messages: $(STAMP)
	$(BIN)/pybabel extract -F $(WEB)/babel.cfg -k N_ --no-location --sort-output \
	  --omit-header -o $(WEB)/locales/messages.pot .
	$(BIN)/pybabel update -i $(WEB)/locales/messages.pot -d $(WEB)/locales --no-fuzzy-matching \
	  --ignore-obsolete
	$(BIN)/pybabel extract -F membervault/console/babel.cfg -k N_ --no-location --sort-output \
	  --omit-header -o $(WEB)/locales/console.pot .
	$(BIN)/pybabel update -D console -i $(WEB)/locales/console.pot -d $(WEB)/locales \
	  --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel extract -F $(MAIL)/babel.cfg -k N_ --no-location --sort-output \
	  --omit-header -o $(MAIL)/mail.pot .
	$(BIN)/pybabel update -D mail -i $(MAIL)/mail.pot -d $(MAIL) --no-fuzzy-matching \
	  --ignore-obsolete

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
	rm -rf $(VENV) $(CODEGEN) var
