"""pinsandbox: rebuild Pinterest's visual-recommendation blueprint on your own catalog, and measure it.

The public API mirrors the CLI. Heavy libraries (torch, transformers, faiss) are imported only by the
stages that need them, so `import pinsandbox` stays fast.
"""

from pinsandbox.errors import PinsandboxError
from pinsandbox.runs.record import record, recorded
from pinsandbox.sandbox import Sandbox, create, current_sandbox, delete, list_sandboxes, open_sandbox

__version__ = "0.1.0"

__all__ = [
    "PinsandboxError",
    "Sandbox",
    "create",
    "current_sandbox",
    "delete",
    "list_sandboxes",
    "open_sandbox",
    "record",
    "recorded",
]
