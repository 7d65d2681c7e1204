"""nbval runs the tutorial notebooks at tiny sizes, in a throwaway sandboxes root.

Like papermill, the overrides in `notebooks/smoke/<notebook>.yaml` are appended to the cell tagged
`parameters`, so a notebook's defaults stay the demo's and the tests see exactly the runner's semantics.
The notebooks share one sandbox and run in file order (00, 01, …), each stage reading what the last wrote.
"""

import os
import tempfile
from pathlib import Path

import pytest

from pinsandbox.runs.presets import injected_source, preset_params

_root = Path(tempfile.mkdtemp(prefix="pinsandbox-nbval-"))
os.environ["PINSANDBOX_ROOT"] = str(_root)  # inherited by the kernels nbval starts


@pytest.fixture(scope="session", autouse=True)
def _nbval_sandbox():
    import pinsandbox

    sb = pinsandbox.create("nbval", exist_ok=True)
    os.environ["PINSANDBOX_SANDBOX"] = str(sb.root)
    yield sb


def pytest_collection_modifyitems(items):
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is None or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        stem = Path(str(item.fspath)).stem
        cell.source = cell.source + injected_source(preset_params(stem, "smoke"))
