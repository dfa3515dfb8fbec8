#!/usr/bin/env bash
# Set up (idempotent) and run the main job on the embedded synthetic dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/kgrec demo "$@"
