"""The example notebooks: each one runs top to bottom, and the committed files carry no outputs.

Every ``examples/*.ipynb`` is executed with nbclient in a fresh kernel, in ``examples/``, with
``KGREC_NOTEBOOK_SMOKE=1`` (notebooks read it to train for fewer epochs). The kernel is this
interpreter: a ``python3`` kernel spec pointing at ``sys.executable`` is written to a temporary
folder that ``JUPYTER_PATH`` puts first, so whatever other ``python3`` spec is installed (a
system one, another virtualenv's) cannot be picked instead.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell; the smoke settings need a few seconds per notebook

# first cell injected at test time: proves the kernel runs this interpreter's environment
_WHO_AM_I = "import sys; print(sys.prefix)"


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


@pytest.fixture()
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ``python3`` kernel spec for ``sys.executable``, found first; smoke settings on."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (kgrec tests)",
                "language": "python",
            }
        )
    )
    paths = [str(tmp_path / "jupyter"), os.environ.get("JUPYTER_PATH", "")]
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join(p for p in paths if p))
    monkeypatch.setenv("KGREC_NOTEBOOK_SMOKE", "1")
    # One thread per kernel: the graphs are tiny, and on a busy shared runner torch's default
    # of one thread per core makes small sparse ops many times slower, not faster.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    # let ipykernel pick its inline backend, so figures become outputs
    monkeypatch.delenv("MPLBACKEND", raising=False)
    return "python3"


def test_examples_exist() -> None:
    assert NOTEBOOKS, f"expected notebooks in {EXAMPLES}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path: Path, kernel_env: str) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(_WHO_AM_I))
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=kernel_env,
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    client.execute()  # raises CellExecutionError (with the traceback) on the first failing cell

    prefix = "".join(o.get("text", "") for o in nb.cells[0].outputs).strip()
    assert Path(prefix).resolve() == Path(sys.prefix).resolve(), (
        f"the notebook kernel ran in {prefix!r}, expected this interpreter's {sys.prefix!r}"
    )
    code = [c for c in nb.cells[1:] if c.cell_type == "code"]
    assert code, f"{path.name} has no code cells"
    assert any(c.outputs for c in code), f"{path.name} executed but printed nothing"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: error outputs {[e.get('ename') for e in errors]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} carry outputs or execution counts; strip them before "
        "committing (e.g. `jupyter nbconvert --clear-output --inplace` or nbstripout)"
    )
