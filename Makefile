# Two entry points: `make run` (set up and serve content/) and `make test` (set up and run every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# Stamps that say what .venv holds: the package with what running needs; then the test and
# dev extras on top. `make run` needs only the first, `make test` both.
RUNTIME := $(VENV)/.installed-runtime
TESTING := $(VENV)/.installed-test

.PHONY: run test lint format readme bench clean venv-runtime venv-test

$(RUNTIME): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TESTING): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $@

# The whole development environment (what the guide and older scripts call it).
$(BIN)/activate: $(TESTING)
	touch $@

venv-runtime: $(RUNTIME)
venv-test: $(TESTING)

run: $(RUNTIME)
	CONTENTAPI_CONTENT_DIR=$${CONTENTAPI_CONTENT_DIR:-content} $(BIN)/flask --app contentapi run --host $(HOST) --port $(PORT)

test: $(TESTING)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest --cov --cov-report=term --durations=10

lint: $(TESTING)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m mypy

format: $(TESTING)
	$(BIN)/python -m ruff check --fix .
	$(BIN)/python -m ruff format .

# Rewrite the README's curl examples from the bundled content (tests/test_readme.py checks them).
readme: $(RUNTIME)
	$(BIN)/python scripts/readme_examples.py

# The whole service under load (bench/service.py): POSTS=100000, or POSTS="1000 10000 100000"
# for a growth table. Uses both cores: run it on a quiet machine.
POSTS ?= 10000
bench: $(TESTING)
	$(BIN)/python bench/service.py --posts $(POSTS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .coverage build *.egg-info
