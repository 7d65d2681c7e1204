"""nbval runs the tutorial notebooks at tiny sizes, in a throwaway sandboxes root.

Like papermill, the overrides in `notebooks/smoke/<notebook>.yaml` are appended to the cell tagged
`parameters`, so a notebook's defaults stay the demo's and the tests see exactly the runner's semantics.
The notebooks share one sandbox and run in file order (00, 01, …), each stage reading what the last wrote.
"""

import os
import tempfile
from pathlib import Path

from pinsandbox.runs.presets import injected_source, preset_params

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
