"""pinsandbox: rebuild Pinterest's visual-recommendation blueprint on your own catalog, and measure it.

The public API mirrors the CLI:

    sb = pinsandbox.create("alice")                       # pinsandbox sandbox create alice
    rec = pinsandbox.run("00_catalog", sb, {"seed": 1})   # pinsandbox run 00_catalog --sandbox alice -p seed 1
    pinsandbox.run_all(sb, preset="smoke")                # pinsandbox run-all --sandbox alice --preset smoke
    pinsandbox.sweep("01_pin_embeddings", sb, {"seed": [0, 1]})
    pinsandbox.list_runs(sb), pinsandbox.get_run(sb, run_id)

Stages live in subpackages (pinsandbox.catalog, .embeddings, .vlm, .tastegraph, .serving, .evaluation).
Heavy libraries (torch, transformers, faiss) are imported only by the stages that need them, so
`import pinsandbox` stays fast.
"""

from pinsandbox.errors import PinsandboxError
from pinsandbox.runs.pipeline import run_all
from pinsandbox.runs.record import record, recorded
from pinsandbox.runs.records import get_run, list_runs
from pinsandbox.runs.runner import run_notebook as run
from pinsandbox.runs.sweep import sweep
from pinsandbox.sandbox import Sandbox, create, current_sandbox, delete, list_sandboxes, open_sandbox

__version__ = "0.1.0"

__all__ = [
    "PinsandboxError",
    "Sandbox",
    "create",
    "current_sandbox",
    "delete",
    "get_run",
    "list_runs",
    "list_sandboxes",
    "open_sandbox",
    "record",
    "recorded",
    "run",
    "run_all",
    "sweep",
]
