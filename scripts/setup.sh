#!/usr/bin/env bash
# Create .venv and install kgrec with its test extras. torch comes first, pinned to the local
# CPU wheel, so that no requirement can pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test]"
.venv/bin/python -c "import torch, torch_geometric, kgrec; print('kgrec', kgrec.__version__, '| torch', torch.__version__, '| torch-geometric', torch_geometric.__version__)"
