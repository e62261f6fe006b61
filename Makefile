# plantwin: two commands set everything up on a fresh Debian/Python 3.11 machine.
#   make demo   - the closed loop on embedded defaults
#   make test   - lint, import contracts and the test suite
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
BROWSER := /usr/bin/chromium

.PHONY: demo test lint format bench install browser interop clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the browser tests (root on this machine kind).
browser:
	@if [ ! -x $(BROWSER) ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "warning: could not install chromium; browser tests will be skipped" >&2; \
	fi

# The other OPC UA stack for the interop tests: node-opcua, exactly as the committed lock says.
NODE_DIR := tests/interop/node
$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package-lock.json
	@if command -v npm >/dev/null; then \
	  (cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error) && touch $@; \
	else echo "warning: npm not found; the node-opcua interop tests will be skipped" >&2; fi

interop: $(NODE_DIR)/node_modules/.installed

demo: $(STAMP)
	$(BIN)/plantwin demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python tests/sql_confinement.py  # no SQL outside twin/history (also a test)

test: $(STAMP) browser interop lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
