"""Where things live. One setting moves the sandboxes root: PINSANDBOX_ROOT."""

import os
from pathlib import Path

CODE_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = CODE_ROOT / "notebooks"
BENCHMARKS_DIR = CODE_ROOT / "benchmarks"


def sandboxes_root() -> Path:
    """The folder holding every sandbox; the repo's `sandboxes/` unless PINSANDBOX_ROOT says otherwise."""
    return Path(os.environ.get("PINSANDBOX_ROOT", CODE_ROOT / "sandboxes")).resolve()
