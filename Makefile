# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CONFIG ?= config.yaml

.PHONY: run scan test setup models browser lint bench soak fuzz clean

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

# Debian's Chromium (and its driver) for the browser tests. Installed as root with apt-get when
# missing; elsewhere the browser tests are skipped and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
	    || { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }; \
	  else echo "chromium is missing and cannot be installed here: browser tests will skip"; fi; }

test: setup browser lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check daemon tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/scan.py --large 10
	$(BIN)/python bench/watch.py

# The fault loops at full size (kill -9 during 200-photo runs), then a bounded fuzz run.
soak: setup
	$(BIN)/python bench/soak.py --photos 200 --kills 5 --rounds 3
	$(BIN)/python bench/fuzz.py --seconds 300

fuzz: setup
	$(BIN)/python bench/fuzz.py --seconds 300

clean:
	rm -rf $(VENV) state
