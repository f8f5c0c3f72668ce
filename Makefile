# Two commands do all set-up on a fresh machine:
#   make demo   installs microexpr in .venv, fetches the face model (hash-checked), renders a sample clip
#               and analyses it into out/sample/
#   make test   installs the test tools too and runs the test suite (offline once the model is fetched)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-dev model lint bench

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[all]'

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

model:
	$(BIN)/microexpr models fetch

demo: install model
	$(BIN)/microexpr sample -o samples/sample.mp4
	$(BIN)/microexpr analyze samples/sample.mp4 -o out/

test: install-dev model
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -q

bench: install-dev model
	$(BIN)/python benchmarks/throughput.py
