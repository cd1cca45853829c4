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

# The suite on two processes (pytest-xdist): each has its own PostgreSQL database and temp
# dir, and the tests that start servers keep to one of them (tests/conftest.py).
# `make test PYTEST_WORKERS=0` runs it in one process; plain `pytest` does too.
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadgroup)

test: $(STAMP)
	scripts/debian-deps
	TOCSIN_TEST_PG_URL=$$(scripts/test-postgres) $(BIN)/pytest $(PYTEST_PARALLEL)

# SQLite only, no PostgreSQL needed: a quick loop while developing.
test-sqlite: $(STAMP)
	TOCSIN_TEST_BACKENDS=sqlite $(BIN)/pytest $(PYTEST_PARALLEL)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

check: lint types test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
