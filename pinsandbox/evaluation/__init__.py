"""Evaluation: gold-set precision/recall/NDCG/hit rate for homefeed, item-to-item and Navigator; an A/B simulation on
Pinworld with bootstrap intervals; the side-by-side report (off-the-shelf route vs the blueprint) and the generated
results pages.

    from pinsandbox.evaluation import EvaluationConfig, run_evaluation, write_report, write_results
    result = run_evaluation("alice", EvaluationConfig())   # result.gold, result.ab, result.metrics
    text, path = write_report("alice")
    write_results("alice", "docs/results")                # index.md, <stage>.md, img/, history.md
"""

from pinsandbox.lazy import lazy_exports

_EXPORTS = {"ABConfig": "abtest", "simulate": "abtest", "compare": "abtest", "gold_table": "gold",
            "CentroidFeed": "centroid", "EvaluationConfig": "config", "Variant": "variants",
            "build_variants": "variants", "load_context": "variants", "EvaluationResult": "pipeline",
            "run_evaluation": "pipeline", "load_results": "pipeline", "evaluation_metrics": "pipeline",
            "HEADLINES": "headlines", "ReportError": "headlines", "collect": "report", "build_report": "report",
            "write_report": "report", "write_results": "results"}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
