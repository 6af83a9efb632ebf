# The two commands of the README: `make run` and `make test`. Both create .venv when it is
# missing and install the project from the pinned constraints, so a fresh clone needs only
# Python 3.11+ and make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
AUDIT  := tests/http_audit
AUDIT_STAMP := $(AUDIT)/node_modules/.installed
PROMTOOL := $(BIN)/promtool

.PHONY: run test lint typecheck unit schema bench bench-quick clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# The GraphQL-over-HTTP audit (tests/test_graphql_over_http.py) runs on Node.js: its pinned
# npm packages are installed when npm is there. Without them that test skips with the
# reason (and fails under REQUIRE_NODE=1), so `make test` works on a machine without Node.
$(AUDIT_STAMP): $(AUDIT)/package.json $(AUDIT)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		(cd $(AUDIT) && npm ci --no-audit --no-fund --silent && touch node_modules/.installed) \
			|| echo "npm ci failed in $(AUDIT): the GraphQL-over-HTTP audit test will skip"; \
	else \
		echo "npm not found: the GraphQL-over-HTTP audit test will skip"; \
	fi

# promtool (Prometheus' linter of the metrics exposition, tests/test_metrics_exposition.py)
# is taken out of Debian's prometheus package, unpacked, no daemon installed or started.
# Without apt-get (or the registry) the test skips with the reason (fails under
# REQUIRE_PROMTOOL=1).
$(PROMTOOL): $(BIN)/python
	@if command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then \
		tmp=$$(mktemp -d); \
		(cd $$tmp && apt-get download -qq prometheus >/dev/null 2>&1 \
			&& dpkg-deb -x prometheus_*.deb unpacked \
			&& cp unpacked/usr/bin/promtool $(CURDIR)/$(PROMTOOL)); \
		rm -rf $$tmp; \
	fi; \
	[ -x $(PROMTOOL) ] || echo "promtool not installed: the promtool metrics test will skip"

run: $(STAMP)
	$(BIN)/tracseq-gateway dev

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(AUDIT_STAMP) $(PROMTOOL)
	PROMTOOL=$(CURDIR)/$(PROMTOOL) $(BIN)/pytest -q -n 2

schema: $(STAMP)
	$(BIN)/tracseq-gateway export-schema

# The benchmark suite (bench/README.md): starts the sandbox and the gateway, drives every
# scenario with wrk (installed with apt-get when missing and run as root) and writes
# bench/results/bench.{md,json,png}; ~10 minutes. bench-quick: every scenario briefly, ~3 min.
# The bench extra (matplotlib, for the report's chart) on top of the dev install.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.suite

bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m bench.suite --quick

clean:
	rm -rf $(VENV) .venv-deploy .mypy_cache .ruff_cache .pytest_cache *.egg-info $(AUDIT)/node_modules

# Offline checks of the deployment files, not part of `make test`: kubernetes-validate
# (strict), checkov and hadolint, pinned in deploy/check-requirements.txt and installed in
# their own virtualenv (.venv-deploy, which ignores itself for git and ruff); deploy/check.sh
# says what runs on what. Needs kubectl.
.PHONY: deploy-check
deploy-check:
	@test -x .venv-deploy/bin/python || $(PYTHON) -m venv .venv-deploy
	@echo '*' > .venv-deploy/.gitignore
	.venv-deploy/bin/python -m pip install --quiet --disable-pip-version-check -r deploy/check-requirements.txt
	PATH="$(CURDIR)/.venv-deploy/bin:$$PATH" bash deploy/check.sh
