# ecowatch: `make demo` sets up and runs the demo; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test setup system-deps lint typecheck unit unit-postgis unit-slow bench-quick clean

demo: $(STAMP)
	$(BIN)/ecowatch demo

test: $(STAMP) system-deps lint typecheck unit unit-postgis unit-slow bench-quick

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian packages the tests need (headless Chromium for the browser tests, PostgreSQL + PostGIS).
system-deps:
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check geo ingest jobs synthetic cli layers web config tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# The default run: everything but the PostGIS leg and the minutes-long runs (pyproject's addopts).
unit: $(STAMP)
	bash scripts/run-tests.sh $(BIN)/python

# The PostGIS leg of the `backend` tests, beside a throwaway cluster (scripts/postgis.sh).
unit-postgis: $(STAMP)
	bash scripts/postgis.sh bash scripts/run-tests.sh $(BIN)/python -m 'postgis and not slow'

# The attacker's full crawls and the demo store end to end (any of them on PostGIS too).
unit-slow: $(STAMP)
	bash scripts/postgis.sh bash scripts/run-tests.sh $(BIN)/python -m slow

bench-quick: $(STAMP)
	@bash scripts/postgis.sh bash -c 'for b in benchmarks/bench_*.py; do [ -e "$$b" ] || continue; echo "== $$b --quick"; $(BIN)/python "$$b" --quick || exit 1; done'

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
