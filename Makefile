# The two commands of the README: `make run` and `make test`. Both create .venv when it is
# missing and install the project from the pinned constraints, so a fresh clone needs only
# Python 3.11+ and make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit schema bench bench-quick clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/tracseq-gateway dev

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

schema: $(STAMP)
	$(BIN)/tracseq-gateway export-schema

# The benchmark suite (bench/README.md): starts the sandbox and the gateway, drives every
# scenario with wrk (installed with apt-get when missing and run as root) and writes
# bench/results/bench.{md,json,png}; ~8 minutes. bench-quick: every scenario briefly, ~1 min.
bench: $(STAMP)
	$(BIN)/python -m bench.suite

bench-quick: $(STAMP)
	$(BIN)/python -m bench.suite --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
