"""The catalog stage: the generated Pinworld demo catalog (with hidden ground truth), or a user's own.

    run_catalog(sandbox, CatalogConfig(...))                         -> CatalogResult (the stage's entry point)
        CatalogConfig(source="pinworld", n_pins=..., n_pinners=..., seed=..., …any PinworldConfig field)
        CatalogConfig(source="import", pins="pins.csv", events="events.csv", boards=None, images=None)
    generate_pinworld(sandbox, n_pins, n_pinners, seed, ...)        -> Catalog  (lower level; also writes the ground truth)
    import_catalog(sandbox, pins, events, boards=None, images=None) -> Catalog  (lower level; DataFrames too)
    export_catalog(sandbox, out_dir)                                -> folder in the import format
    advance_catalog(sandbox, days)                                  -> CatalogResult (Pinworld: N more days)
    append_catalog(sandbox, pins=None, events=..., boards=None, images=None) -> Catalog (imported: new events)
    load_catalog(sandbox=None)                                      -> Catalog
    load_ground_truth(sandbox=None)                                 -> GroundTruth (Pinworld only)

Names are loaded on first use, so `import pinsandbox.catalog.cli` (the CLI) stays light.
"""

from pinsandbox.lazy import lazy_exports

_EXPORTS = {
    "Catalog": "load", "GroundTruth": "load", "load_catalog": "load", "load_ground_truth": "load",
    "CatalogConfig": "config", "PinworldConfig": "config",
    "CatalogResult": "stage", "catalog_metrics": "stage", "run_catalog": "stage",
    "build_pinworld": "pinworld", "generate_pinworld": "pinworld",
    "export_catalog": "importer", "import_catalog": "importer", "validate_catalog": "importer",
    "catalog_summary": "views",
    "advance_catalog": "advance", "append_catalog": "advance",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
