"""The catalog stage: the generated Pinworld demo catalog (with hidden ground truth), or a user's own.

    generate_pinworld(sandbox, n_pins, n_pinners, seed, ...)   -> Catalog   (also writes the ground truth)
    import_catalog(sandbox, pins, events, boards=None, images=None) -> Catalog
    export_catalog(sandbox, out_dir)                            -> CSV files + images, the import format
    load_catalog(sandbox=None)                                  -> Catalog
    load_ground_truth(sandbox=None)                             -> GroundTruth (Pinworld only)
"""

from pinsandbox.catalog.load import Catalog, GroundTruth, load_catalog, load_ground_truth
from pinsandbox.catalog.pinworld import ACTIONS, PinworldConfig, build_pinworld, generate_pinworld

__all__ = [
    "ACTIONS",
    "Catalog",
    "GroundTruth",
    "PinworldConfig",
    "build_pinworld",
    "generate_pinworld",
    "load_catalog",
    "load_ground_truth",
]
