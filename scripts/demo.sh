#!/usr/bin/env bash
# The main job on the embedded default: set up, then run the demo (arguments go to `hotline demo`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/hotline prompts build
exec .venv/bin/hotline demo "$@"
