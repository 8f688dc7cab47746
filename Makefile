# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CONFIG ?= config.yaml
WEB    ?= 127.0.0.1:8750

.PHONY: run scan test setup models system lint bench peer soak fuzz screenshots mutate mutate-quick clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

setup: $(STAMP) models
	mkdir -p inbox people

models: $(STAMP)
	$(BIN)/facefold models fetch --config $(CONFIG)

# The daemon, with the web app at http://$(WEB)/ (WEB= turns it off).
run: setup
	$(BIN)/facefold watch --config $(CONFIG) --web '$(WEB)'

scan: setup
	$(BIN)/facefold scan --config $(CONFIG)

# Debian's packages the tests use beside Python's: Chromium and its driver (browser tests), the
# sqlite3 shell (a user's own SQL session). Installed as root with apt-get when missing; elsewhere
# the tests that need them are skipped and say why.
SYSTEM_TOOLS := chromium chromedriver sqlite3
SYSTEM_PACKAGES := chromium chromium-driver sqlite3
system:
	@for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null 2>&1 || missing=1; done; \
	[ -z "$$missing" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q $(SYSTEM_PACKAGES) >/dev/null 2>&1 \
	    || { apt-get update -q >/dev/null && apt-get install -y -q $(SYSTEM_PACKAGES) >/dev/null; }; \
	  else echo "$(SYSTEM_PACKAGES): missing and cannot be installed here: their tests will skip"; fi; }

test: setup system lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check daemon tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/scan.py --large 10
	$(BIN)/python bench/watch.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/workers.py

# The README's pictures of the web app, taken by its browser test on the fake library (coloured
# squares: no one's face).
screenshots: setup system
	FACEFOLD_SCREENSHOTS=docs $(BIN)/python -m pytest -q tests/web/test_browser.py -k fake

# The peer (face_recognition + dlib) in its own environment, from prebuilt wheels only: dlib-bin
# instead of the dlib sdist (which compiles for many minutes), face-recognition without its deps.
PEER := .venv-peer
$(PEER)/.installed-stamp:
	test -x $(PEER)/bin/python || $(PYTHON) -m venv $(PEER)
	$(PEER)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PEER)/bin/python -m pip install --quiet --disable-pip-version-check dlib-bin \
	  face-recognition-models numpy pillow 'setuptools<81'
	$(PEER)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps face-recognition
	touch $@

# facefold against the peer on the 5-celebrity sets and the generated hard cases; more labelled
# folders: make peer SETS="path/to/set …"
peer: setup $(PEER)/.installed-stamp
	$(BIN)/python bench/peer.py --peer-python $(PEER)/bin/python $(SETS)

# The fault loops at full size (kill -9 during 200-photo runs), a hostile mix of 500 photos
# under kill -9 every ~20 s, then bounded fuzz runs (the decoder, and whole photos in scans).
soak: setup
	$(BIN)/python bench/soak.py --photos 200 --kills 5 --rounds 3
	$(BIN)/python bench/soak.py --hostile 500 --kill-every 20
	$(BIN)/python bench/fuzz.py --seconds 300
	$(BIN)/python bench/fuzz.py --photos 20000

fuzz: setup
	$(BIN)/python bench/fuzz.py --seconds 300

# Mutation testing (mutmut) of the modules that keep a person's data: the score per module and
# the mutants no test notices; mutate-quick: folders.py and names.py only (CI, about 2 minutes).
mutate: setup
	$(BIN)/python bench/mutate.py

mutate-quick: setup
	$(BIN)/python bench/mutate.py --quick

clean:
	rm -rf $(VENV) $(PEER) state .mutate
