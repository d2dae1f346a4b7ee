"""Every notebook in notebooks/ runs top to bottom in a real Jupyter kernel, so none can rot.

The kernel is this interpreter (a kernelspec written to a temporary folder with ipykernel's
API), so it sees the csql under test whatever kernels the machine has installed. The
notebooks use the built-in sandbox and need no account or network.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

from ipykernel.kernelspec import write_kernel_spec  # noqa: E402
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
KERNEL = "python3"


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory) -> KernelSpecManager:
    kernels = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(kernels / KERNEL)  # argv: this sys.executable -m ipykernel_launcher
    return KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)


def test_there_are_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"quickstart.ipynb", "writes_and_procedures.ipynb"} <= names


def _outputs(nb) -> list[str]:
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", ""))
            texts.extend(str(v) for k, v in out.get("data", {}).items() if k.startswith("text/"))
    return texts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_clean(path: Path, kernel_specs: KernelSpecManager, monkeypatch):
    # the notebooks must not depend on credentials that happen to be set here
    for var in ("CLICKSEND_USERNAME", "CLICKSEND_API_KEY", "CLICKSEND_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == KERNEL, "notebooks run with the python3 kernel"
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=kernel_specs)
    client = nbclient.NotebookClient(
        nb,
        km=km,
        timeout=180,  # per cell: generous for a loaded 2-core machine
        startup_timeout=120,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells and all(c.execution_count for c in code_cells)
    outputs = _outputs(nb)
    assert not [t for t in outputs if "Traceback" in t]
    if path.name == "quickstart.ipynb":
        kinds = {k for c in code_cells for o in c.outputs for k in o.get("data", {})}
        assert "image/png" in kinds, "the SMS-per-day plot was drawn"
        assert "text/html" in kinds, "results render as HTML tables"
    if path.name == "writes_and_procedures.ipynb":
        joined = "\n".join(outputs)
        assert "1 row affected" in joined and "refused:" in joined
        assert "price quote" in joined and "25 messages sent in 1 request(s)" in joined
