#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: set up, lint, type-check, test.
#
# Without arguments: the unit tier (tests/unit), then the integration tier (tests/integration),
# then the PostgreSQL pass. With arguments (test files, -k EXPR, ...), two pytest runs take them:
#  1. every selected test, on the databases HOTLINE_TEST_DB names (default sqlite; the store
#     tests' `engine` fixture is SQLite and PostgreSQL in any case);
#  2. the store, metrics, ticket and call-record tests that go through the service's database
#     again, with every database on the private PostgreSQL server (-m postgresql_pass, see
#     tests/integration/conftest.py). Skipped when run 1 already was on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
if [ "$#" -eq 0 ]; then
  # Two tiers: the fast one (pure code, no real parts) first, then the real parts.
  echo "== unit tier (tests/unit: pure code, no Asterisk, browser, model or database server)"
  .venv/bin/pytest tests/unit
  echo "== integration tier (tests/integration: private Asterisk, pjsua2, Chromium, Vosk, PostgreSQL, Redis)"
  .venv/bin/pytest tests/integration
else
  .venv/bin/pytest "$@"
fi
if [ "${HOTLINE_TEST_DB:-sqlite}" != postgresql ]; then
  echo "== the service's database on PostgreSQL (HOTLINE_TEST_DB=postgresql -m postgresql_pass)"
  status=0
  HOTLINE_TEST_DB=postgresql .venv/bin/pytest -m postgresql_pass "${@:-tests/integration}" || status=$?
  # 5: the arguments selected none of these tests, which is not a failure.
  if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then exit "$status"; fi
fi
