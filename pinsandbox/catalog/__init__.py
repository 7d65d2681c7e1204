"""The catalog stage: the generated Pinworld demo catalog (with hidden ground truth), or a user's own.

    generate_pinworld(sandbox, n_pins, n_pinners, seed, ...)        -> Catalog  (also writes the ground truth)
    import_catalog(sandbox, pins, events, boards=None, images=None) -> Catalog
    export_catalog(sandbox, out_dir)                                -> folder in the import format
    load_catalog(sandbox=None)                                      -> Catalog
    load_ground_truth(sandbox=None)                                 -> GroundTruth (Pinworld only)

Names are loaded on first use, so `import pinsandbox.catalog.cli` (the CLI) stays light.
"""

from pinsandbox.lazy import lazy_exports

_EXPORTS = {
    "Catalog": "load", "GroundTruth": "load", "load_catalog": "load", "load_ground_truth": "load",
    "PinworldConfig": "pinworld", "build_pinworld": "pinworld", "generate_pinworld": "pinworld",
    "export_catalog": "importer", "import_catalog": "importer", "validate_catalog": "importer",
    "catalog_summary": "views",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
