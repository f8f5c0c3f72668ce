# Two commands do all set-up on a fresh machine:
#   make demo   installs microexpr in .venv, fetches the face model (hash-checked), renders a sample clip
#               and analyses it into out/sample/
#   make test   installs the test tools too and runs the test suite (offline once the model is fetched)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-dev model lint bench browser

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[all]'

# torch first, pinned: an unpinned resolve would pull a multi-GB CUDA build
install-dev: $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'

# tests that open pages use Debian's chromium through Playwright (Playwright's own browser download is not used)
browser:
	@command -v chromium >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

model:
	$(BIN)/microexpr models fetch

demo: install model
	$(BIN)/microexpr sample -o samples/sample.mp4
	$(BIN)/microexpr analyze samples/sample.mp4 -o out/

test: install-dev model browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -q

bench: install-dev model
	$(BIN)/python benchmarks/throughput.py
