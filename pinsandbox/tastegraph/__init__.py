"""The taste graph: a preference graph of pinners, pins and boards; multi-interest pinners updated with every
event; Pixie walks, FAISS retrieval and LightGCN blended into a diverse homefeed; baselines and one evaluation.

    from pinsandbox.tastegraph import TasteGraph, recommend, run_tastegraph
    result = run_tastegraph("alice")                     # the stage: fit, compare, real-time vs batch, drift, snapshot
    tg = TasteGraph().fit(train_events, pin_vectors)     # .update(event), .recommend(pinner, k), .reconcile(), .save()
    recommend("alice", k=10)                             # DataFrame pinner_id, rank, pin_id (fit before the cutoff)

Names load on first use, so `import pinsandbox.tastegraph.cli` (the CLI) stays light.
"""

from pinsandbox.lazy import lazy_exports

_EXPORTS = {
    "TasteGraph": "model", "TasteGraphConfig": "model",
    "EASE": "baselines", "ItemKNN": "baselines", "Popularity": "baselines",
    "compare": "metrics", "evaluate": "metrics", "temporal_split": "metrics", "validation_split": "metrics",
    "realtime_vs_batch": "metrics", "drift_report": "metrics",
    "recommend": "api", "load_split": "api",
    "tune_taste_graph": "tune", "tune_ease": "tune",
    "run_tastegraph": "stage", "TasteGraphStageConfig": "stage", "TasteGraphResult": "stage",
    "InterestConfig": "interests", "WalkConfig": "walks", "GNNConfig": "lightgcn", "SOURCES": "model",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
