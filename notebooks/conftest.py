"""nbval runs the quick start (the tutorial people run in a JupyterLab kernel) at tiny sizes, in a throwaway
sandboxes root. The stage notebooks (NN_*.ipynb) run once per test session through the real runner instead, in
tests/test_notebooks.py, where their recorded metrics and saved figures can be checked.

Like papermill, the overrides in `notebooks/smoke/<notebook>.yaml` are appended to the cell tagged
`parameters`, so a notebook's defaults stay the demo's and the tests see exactly the runner's semantics.
"""

import os
import tempfile
from pathlib import Path

from pinsandbox.runs.presets import injected_source, preset_params

collect_ignore_glob = ["[0-9][0-9]_*.ipynb"]

_root = Path(tempfile.mkdtemp(prefix="pinsandbox-nbval-"))
os.environ["PINSANDBOX_ROOT"] = str(_root)  # inherited by the kernels nbval starts


def _create_nbval_sandbox():
    import pinsandbox

    sb = pinsandbox.create("nbval", exist_ok=True)
    os.environ["PINSANDBOX_SANDBOX"] = str(sb.root)
    return sb


# nbval starts each notebook's kernel when it sets up the notebook *file*, before any fixture runs, so the
# current sandbox must be in the environment already at import time.
_create_nbval_sandbox()


def pytest_collection_modifyitems(items):
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is None or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        stem = Path(str(item.fspath)).stem
        cell.source = cell.source + injected_source(preset_params(stem, "smoke"))
