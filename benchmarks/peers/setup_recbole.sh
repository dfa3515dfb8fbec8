#!/usr/bin/env bash
# Create a virtual environment for RecBole 1.2.1, the peer of benchmarks/peer_compare.py and
# benchmarks/data_loading.py, kept apart from kgrec's own environment (its pins never leak).
#
# Usage:  bash benchmarks/peers/setup_recbole.sh [VENV_DIR]
#         (default VENV_DIR: $KGREC_RECBOLE_VENV, else ~/.cache/kgrec/recbole-venv)
#         then: export KGREC_RECBOLE_PYTHON=VENV_DIR/bin/python
#
# Why these pins (shared/BENCHMARKS.md): RecBole 1.2.1 does not run on today's NumPy / pandas /
# SciPy: numpy<2 (it aliases np.float), pandas<2.2, scipy<1.12 (its adjacency code uses
# dok_matrix._update), setuptools<81 (ray imports pkg_resources). torch 2.13 (CPU). KGAT needs
# DGL: dgl==1.1.3 installed with --no-deps (its dependencies are already there); the DGL-0.6
# calls RecBole makes are adapted at run time by peers/recbole_runner.py, RecBole's files stay
# unmodified. RecBole reloads checkpoints with plain torch.load: the runner sets
# TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 for its own process.
#
# Environment: PYTHON (default python3, 3.10 or 3.11), TORCH_SPEC (default "torch==2.13.*";
# a local CPU wheel is used when pip's find-links offer one).
set -euo pipefail

VENV="${1:-${KGREC_RECBOLE_VENV:-$HOME/.cache/kgrec/recbole-venv}}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.*}"
PINS=("numpy<2" "pandas<2.2" "scipy<1.12" "setuptools<81")

echo "creating RecBole venv in $VENV (python: $("$PYTHON" --version 2>&1))"
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install --quiet --upgrade pip wheel
# One resolution for torch, RecBole and the pins, so RecBole's own requirements cannot lift them.
"${PIP[@]}" install "$TORCH_SPEC" "${PINS[@]}" "recbole==1.2.1"
"${PIP[@]}" install --no-deps "dgl==1.1.3"

# Smoke check: the imports RecBole's general and KG models need, under the pins.
DGLBACKEND=pytorch "$VENV/bin/python" - <<'PY'
import numpy, pandas, scipy, torch, recbole, dgl
from recbole.config import Config  # noqa: F401
from recbole.data import create_dataset  # noqa: F401
assert numpy.__version__ < "2", numpy.__version__
print(f"ok: recbole {recbole.__version__}, torch {torch.__version__}, numpy {numpy.__version__}, "
      f"pandas {pandas.__version__}, scipy {scipy.__version__}, dgl {dgl.__version__}")
PY
echo
echo "export KGREC_RECBOLE_PYTHON=$VENV/bin/python"
