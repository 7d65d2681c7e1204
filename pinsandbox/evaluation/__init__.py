"""Evaluation: gold-set precision/recall/NDCG for homefeed, item-to-item and Navigator; an A/B simulation on
Pinworld with bootstrap intervals; the side-by-side report (off-the-shelf route vs the blueprint).

    from pinsandbox.evaluation import run_evaluation, write_report
    result = run_evaluation("alice")   # result.gold, result.ab (per metric: CI and a plain verdict)
    text, path = write_report("alice")
"""

from pinsandbox.lazy import lazy_exports

_EXPORTS = {"ABConfig": "abtest", "simulate": "abtest", "compare": "abtest", "gold_table": "gold",
            "CentroidFeed": "centroid", "Variant": "variants",
            "build_variants": "variants", "load_context": "variants", "EvaluationResult": "pipeline",
            "run_evaluation": "pipeline", "load_results": "pipeline", "build_report": "report", "write_report": "report"}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
