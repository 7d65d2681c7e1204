"""Sandboxes: one person's isolated world of catalog, artifacts and runs."""

from pinsandbox.sandbox.artifacts import Artifact, ArtifactStore
from pinsandbox.sandbox.sandbox import (
    Limits,
    Sandbox,
    create,
    current_sandbox,
    delete,
    list_sandboxes,
    open_sandbox,
    resolve,
    validate_owner,
)

__all__ = [
    "Artifact",
    "ArtifactStore",
    "Limits",
    "Sandbox",
    "create",
    "current_sandbox",
    "delete",
    "list_sandboxes",
    "open_sandbox",
    "resolve",
    "validate_owner",
]
