"""How this stage reads the catalog stage's output (kept in one place)."""

from __future__ import annotations

from pinsandbox.errors import NotFound


def load_catalog(sandbox=None):
    from pinsandbox.catalog import load_catalog as load

    return load(sandbox=sandbox)


def load_ground_truth(sandbox=None):
    """Pinworld's ground truth, or None for catalogs that have none (imported ones)."""
    from pinsandbox.catalog import load_ground_truth as load

    try:
        return load(sandbox=sandbox)
    except NotFound:
        return None
