"""The catalog stage's entry point: `run_catalog(sandbox, CatalogConfig(...))` → `CatalogResult`.

It validates the config (and, for an import, every file, row by row) before anything is written, then
generates Pinworld or imports the user's files, publishes the catalog (and Pinworld's ground truth) with the
config that made it, and returns the loaded catalog, the ground truth (or None) and the `catalog.*` metrics.
Notebook 00, `pinsandbox data pinworld|import` and the tests all call it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pinsandbox.catalog.config import CatalogConfig
from pinsandbox.catalog.load import Catalog, GroundTruth
from pinsandbox.stages import StageResult


@dataclass(kw_only=True)
class CatalogResult(StageResult):
    catalog: Catalog = field(repr=False)
    truth: GroundTruth | None = field(default=None, repr=False)  # Pinworld only; imported catalogs have none
    summary: dict = field(default_factory=dict, repr=False)  # views.catalog_summary: sizes, window, cutoff, skew


def catalog_metrics(catalog: Catalog, truth: GroundTruth | None = None) -> tuple[dict, dict]:
    """(summary, `catalog.*` metrics) of a catalog: sizes, activity skew, actions; with Pinworld's truth also
    how much titles give away and the gold sets' sizes."""
    from pinsandbox.catalog import views

    summary = views.catalog_summary(catalog)
    metrics = {f"catalog.{key}": summary[key] for key in ("pins", "pinners", "boards", "events", "train_events",
                                                           "test_events", "top10pct_pinners_event_share",
                                                           "top10pct_pins_engagement_share")}
    metrics.update({f"catalog.actions.{action}": n for action, n in sorted(summary["actions"].items())})
    if truth is not None:
        metrics.update({f"catalog.{key}": value for key, value in views.title_style_share(catalog, truth).items()})
        metrics["catalog.gold_homefeed_pairs"] = len(truth.gold_homefeed)
        metrics["catalog.gold_item_pairs"] = len(truth.gold_item_pairs)
        splits = truth.gold_navigator["split"].value_counts()
        metrics.update({f"catalog.navigator_requests.{split}": int(n) for split, n in sorted(splits.items())})
    return summary, metrics


def run_catalog(sandbox=None, config: CatalogConfig | None = None, progress: bool = True) -> CatalogResult:
    """Make the sandbox's catalog as `config` says (default: the demo Pinworld) and return it with its metrics.

    `sandbox`: a Sandbox, an owner name, or None for the current one. Raises InvalidInput (nothing written)
    when the config or, for an import, any file is wrong."""
    from pinsandbox.catalog.importer import import_catalog
    from pinsandbox.catalog.load import load_catalog, load_ground_truth
    from pinsandbox.catalog.pinworld import build_pinworld, publish_pinworld
    from pinsandbox.sandbox import resolve

    config = (config or CatalogConfig()).validate()
    sb = resolve(sandbox)
    if config.source == "pinworld":
        publish_pinworld(sb, build_pinworld(config.pinworld, progress=progress), config=config, progress=progress)
        catalog, truth = load_catalog(sb), load_ground_truth(sb)
    else:
        catalog = import_catalog(sb, config.pins, config.events, config.boards, config.images, progress=progress,
                                 config=config)
        truth = None
    summary, metrics = catalog_metrics(catalog, truth)
    artifacts = {"catalog": catalog.artifact_id}
    if truth is not None:
        artifacts["truth"] = truth.artifact_id
    return CatalogResult(stage="catalog", config=config, artifacts=artifacts, metrics=metrics, catalog=catalog,
                         truth=truth, summary=summary)
