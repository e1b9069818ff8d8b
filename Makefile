# ecowatch: `make demo` sets up and runs the demo; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test setup system-deps lint typecheck unit unit-postgis unit-browser unit-slow bench-quick clean

demo: $(STAMP)
	$(BIN)/ecowatch demo

test: $(STAMP) system-deps lint typecheck unit
	$(MAKE) --no-print-directory -j2 --output-sync=target unit-postgis unit-browser unit-slow
	$(MAKE) --no-print-directory bench-quick

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

# The steps partition the tests: slow → unit-slow; else postgis → unit-postgis; else browser →
# unit-browser; the rest is the default run (pyproject's addopts). Each prints its slowest tests.
# After the default run, `make test` runs the other three two at a time (each step's output printed
# whole when it ends), each in a temporary folder of its own.
DURATIONS := --durations=15
TMPBASE   ?= $(or $(TMPDIR),/tmp)/ecowatch-tests

# The default run: everything but the PostGIS leg, the browser pages and the long runs.
unit: $(STAMP)
	bash scripts/run-tests.sh $(BIN)/python $(DURATIONS)

# The pages in headless Chromium (Debian's chromium, from system-deps).
unit-browser: $(STAMP)
	mkdir -p $(TMPBASE) && bash scripts/run-tests.sh $(BIN)/python $(DURATIONS) --basetemp=$(TMPBASE)/browser -m 'browser and not slow and not postgis'

# The PostGIS leg of the `backend` tests, beside a throwaway cluster (scripts/postgis.sh).
unit-postgis: $(STAMP)
	mkdir -p $(TMPBASE) && bash scripts/postgis.sh bash scripts/run-tests.sh $(BIN)/python $(DURATIONS) --basetemp=$(TMPBASE)/postgis -m 'postgis and not slow'

# The long runs: attacker crawls, whole demo runs, Dask clusters, the old accuracy suite (any on PostGIS too).
unit-slow: $(STAMP)
	mkdir -p $(TMPBASE) && bash scripts/postgis.sh bash scripts/run-tests.sh $(BIN)/python $(DURATIONS) --basetemp=$(TMPBASE)/slow -m slow

bench-quick: $(STAMP)
	@bash scripts/postgis.sh bash -c 'for b in benchmarks/bench_*.py; do [ -e "$$b" ] || continue; echo "== $$b --quick"; $(BIN)/python "$$b" --quick || exit 1; done'

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
