# Two entry points: `make run` (set up and serve content/) and `make test` (set up and run every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint format bench clean

$(BIN)/activate: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(BIN)/activate

run: $(BIN)/activate
	CONTENTAPI_CONTENT_DIR=$${CONTENTAPI_CONTENT_DIR:-content} $(BIN)/flask --app contentapi run --host $(HOST) --port $(PORT)

test: $(BIN)/activate
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m pytest --cov --cov-report=term

lint: $(BIN)/activate
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

format: $(BIN)/activate
	$(BIN)/python -m ruff check --fix .
	$(BIN)/python -m ruff format .

# The whole service under load (bench/service.py): POSTS=100000, or POSTS="1000 10000 100000"
# for a growth table. Uses both cores: run it on a quiet machine.
POSTS ?= 10000
bench: $(BIN)/activate
	$(BIN)/python bench/service.py --posts $(POSTS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage build *.egg-info
