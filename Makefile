# Two commands on a fresh machine: `make demo` runs the gateway, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FASTN := $(VENV)/bin/fastn-gen

.PHONY: install demo build check lint test test-corpus test-all test-prism test-packaging conformance bench bench-quick clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

## Build the sample connectors and serve the two demo tenants on http://127.0.0.1:8000/mcp
demo: install
	$(FASTN) build --quiet
	$(FASTN) serve --config tenants.example.yaml

build: install
	$(FASTN) build

## Fails naming stale files when generated/ does not match connectors.d and templates.
check: install
	$(FASTN) build --check --quiet

lint: install
	$(PY) -m ruff check fastn_gen tests bench generated examples
	$(PY) -m ruff format --check fastn_gen tests bench generated examples
	$(PY) -m mypy fastn_gen generated

## The default test run (fast suites; corpus and slow suites excluded).
test: install
	$(PY) -m pytest -q

## Every public vendor spec in ../shared/specs through the generator.
test-corpus: install
	$(PY) -m pytest -q -m corpus

test-all: test test-corpus

## Stoplight Prism as a validating upstream for every read-only tool of real vendor specs.
test-prism: install
	$(PY) -m pytest -q -m slow tests/prism

## Build the wheel, install it in a clean venv, and run init, build and serve outside the repo.
test-packaging: install
	$(PY) -m pytest -q -m slow tests/packaging

## @modelcontextprotocol/conformance server scenarios against the gateway (installs Node 22 from npm).
conformance: install
	$(PY) tests/interop/run_conformance.py

## Build, start-up and serving benchmarks side by side with FastMCP (its own venv, bench/peer.py).
bench: install
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/build.py --runs 5 --update-docs
	$(PY) bench/runtime/run.py

bench-quick: install
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/build.py --quick
	$(PY) bench/runtime/run.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
