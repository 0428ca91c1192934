# The two commands of the README: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint messages setup clean bench

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

# ruff (lint and format) and mypy, configured once in pyproject.toml; CI runs the same.
lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

# The performance goals (bench/README.md): ratios measured side by side, PASS or FAIL against each goal, gathered
# into bench/results.json and bench/results.md. The first run generates 100,000-person databases under bench/.data (a
# few minutes), reused afterwards. `make bench BENCH_ARGS=--smoke`: smallest sizes, fewest rounds (CI: the harness).
bench: $(STAMP)
	WAYSTATION_HOME=$(CURDIR)/bench/.data/runner $(BIN)/waystation bench $(BENCH_ARGS)

# Maintainers, after changing user-facing strings: refresh the catalogues (needs GNU gettext; see
# src/waystation/locale/README.md), then translate the new entries.
messages: $(STAMP)
	cd src/waystation && WAYSTATION_HOME=$(CURDIR)/var/i18n WAYSTATION_DEV_HTTP=1 \
		DJANGO_SETTINGS_MODULE=waystation.settings $(CURDIR)/$(BIN)/django-admin makemessages \
		-l ko -l zh_Hans --ignore 'testing/*' --ignore '*/migrations/*' --no-obsolete
	$(BIN)/waystation compilemessages

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
