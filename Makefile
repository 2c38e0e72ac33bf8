# civicquant: `make demo` and `make test` each create .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-fast test-integration test-reliability test-multihost test-cron test-monitoring lint bench bench-quality clean

$(BIN)/civicquant: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q civicquant
	touch $@

install: $(BIN)/civicquant

# The main job on the embedded defaults: an embedded PostgreSQL of its own under .demo/,
# the rules extractor, the bundled sample, digest in --dry-run.
demo: install
	DEMO_PYTHON=$(BIN)/python sh scripts/demo.sh

# The suite: unit, integration (real PostgreSQL) and acceptance (the installed CLI).
# The reliability suite (crashes, PgBouncer, secrets), the multi-host test and the real-cron
# test have their own targets: the first takes minutes, the second needs root (network
# namespaces), the third replaces root's crontab for a minute.
test: install
	$(BIN)/python -m pytest -q -m "not reliability and not cron and not monitoring and not multihost"

test-reliability: install
	$(BIN)/python -m pytest -q -m reliability tests/reliability

# Three hosts made of network namespaces, PgBouncer on a fourth, one host cut off from the
# database mid-run (root; skipped, saying why, where namespaces cannot be made). 20-40 s.
test-multihost: install
	$(BIN)/python -m pytest -q -m multihost tests/multihost

test-cron: install
	$(BIN)/python -m pytest -q -m cron tests/cron

# The shipped alert rules: promtool's checks and unit tests, then a real Prometheus scraping
# node_exporter's textfile collector over a textfile health wrote. Needs Debian's
# prometheus and prometheus-node-exporter (.ci/run installs them).
test-monitoring: install
	@for tool in promtool prometheus prometheus-node-exporter; do command -v $$tool >/dev/null || \
	  { echo "make test-monitoring: $$tool missing: apt-get install -y --no-install-recommends prometheus prometheus-node-exporter" >&2; exit 1; }; done
	$(BIN)/python -m pytest -q tests/unit/test_monitoring.py
	$(BIN)/python -m pytest -q -m monitoring tests/monitoring

test-fast: install
	$(BIN)/python -m pytest -q tests/unit

# Only the suites that need a database; CIVICQUANT_TEST_DATABASE_URL picks the server.
test-integration: install
	$(BIN)/python -m pytest -q -m "not reliability and not cron and not monitoring and not multihost" tests/integration tests/acceptance

# ruff (lint and format), mypy (strict on the package; tests and bench checked, relaxed) and
# import-linter (the layers, Telegram only under civicquant/telegram, no import cycles).
lint: install
	$(BIN)/ruff check civicquant tests bench
	$(BIN)/ruff format --check civicquant tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python -m bench

# Story matching measured on the labelled data in ../shared/data/quality/, through the real
# pipeline; writes the quality block of bench/RESULTS.md.
bench-quality: install
	$(BIN)/python -m bench --only quality

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .pytest_pg
