#!/usr/bin/env bash
# Create a virtual environment for LightFM 1.17, the cold-start peer of benchmarks/cold_start.py,
# kept apart from kgrec's own environment.
#
# Usage:  bash benchmarks/peers/setup_lightfm.sh [VENV_DIR]
#         (default VENV_DIR: $KGREC_LIGHTFM_VENV, else ~/.cache/kgrec/lightfm-venv)
#         then: export KGREC_LIGHTFM_PYTHON=VENV_DIR/bin/python
#
# Why two steps (shared/BENCHMARKS.md): lightfm 1.17 ships as a source distribution whose
# setup.py reads ``__builtins__.__LIGHTFM_SETUP__``, which fails under pip's build isolation.
# Installing the build requirements first and then building without isolation works.
#
# Environment: PYTHON (default python3).
set -euo pipefail

VENV="${1:-${KGREC_LIGHTFM_VENV:-$HOME/.cache/kgrec/lightfm-venv}}"
PYTHON="${PYTHON:-python3}"

echo "creating LightFM venv in $VENV (python: $("$PYTHON" --version 2>&1))"
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
# pip stays the venv's own: recent pip (25.3+) no longer builds setup.py-only projects the legacy
# way, and the PEP 517 path runs setup.py with a dict as __builtins__, which lightfm's setup.py
# cannot take.
"${PIP[@]}" install numpy scipy setuptools wheel cython
if ! "${PIP[@]}" install --no-build-isolation "lightfm==1.17"; then
    echo "pip could not build lightfm; building its sdist with setup.py bdist_wheel instead"
    BUILD="$(mktemp -d)"
    trap 'rm -rf "$BUILD"' EXIT
    "${PIP[@]}" download --no-deps --no-binary :all: --dest "$BUILD" "lightfm==1.17"
    tar -xzf "$BUILD"/lightfm-1.17.tar.gz -C "$BUILD"
    (cd "$BUILD/lightfm-1.17" && "$VENV/bin/python" setup.py --quiet bdist_wheel --dist-dir "$BUILD/dist")
    "${PIP[@]}" install "$BUILD"/dist/lightfm-*.whl
fi

# Smoke check: LightFM imports, fits a tiny model and predicts.
"$VENV/bin/python" - <<'PY'
import numpy as np
import scipy.sparse as sp
import lightfm
from lightfm import LightFM

x = sp.coo_matrix((np.ones(4, dtype=np.float32), ([0, 0, 1, 1], [0, 1, 1, 2])), shape=(2, 3))
model = LightFM(no_components=4, loss="warp", random_state=0).fit(x, epochs=2)
scores = model.predict(np.array([0, 1], dtype=np.int32), np.array([2, 0], dtype=np.int32))
assert np.isfinite(scores).all()
print(f"ok: lightfm {lightfm.__version__}, numpy {np.__version__}")
PY
echo "export KGREC_LIGHTFM_PYTHON=$VENV/bin/python"
