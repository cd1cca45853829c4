# The two commands of the README: `make run` and `make test`. `make check` is what CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test check lint types test-sqlite bench clean

$(STAMP): pyproject.toml
	@# Debian's python3 needs python3-venv for `-m venv`; install it where missing.
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) 2>/dev/null || \
		{ rm -rf $(VENV); scripts/debian-deps python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/tocsin migrate
	$(BIN)/tocsin serve

test: $(STAMP)
	scripts/debian-deps
	TOCSIN_TEST_PG_URL=$$(scripts/test-postgres) $(BIN)/pytest

# SQLite only, no PostgreSQL needed: a quick loop while developing.
test-sqlite: $(STAMP)
	TOCSIN_TEST_BACKENDS=sqlite $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

check: lint types test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
