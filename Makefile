# The two commands of the README: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-postgres lint setup clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Starts the demo on http://127.0.0.1:8000 with synthetic data under ./var/demo.
demo: $(STAMP)
	WAYSTATION_HOME=$(CURDIR)/var/demo $(BIN)/waystation demo

# The whole test suite (SQLite), browser tests included; installs Debian's Chromium when missing.
test: $(STAMP)
	$(BIN)/python -m waystation.testing.browser_setup
	$(BIN)/waystation compilemessages
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
