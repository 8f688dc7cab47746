# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CONFIG ?= config.yaml

.PHONY: run scan test setup models lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

setup: $(STAMP) models
	mkdir -p inbox people

models: $(STAMP)
	$(BIN)/facefold models fetch --config $(CONFIG)

run: setup
	$(BIN)/facefold watch --config $(CONFIG)

scan: setup
	$(BIN)/facefold scan --config $(CONFIG)

test: setup
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check daemon tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/scan.py --large 10
	$(BIN)/python bench/watch.py

clean:
	rm -rf $(VENV) state
