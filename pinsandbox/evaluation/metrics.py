"""Ranking metrics against a gold set: precision@K, recall@K, NDCG@K (binary relevance), averaged over queries."""

from __future__ import annotations

import numpy as np


def ranking_metrics(ranked: dict[str, list[str]], targets: dict[str, set[str]], k: int) -> dict[str, float]:
    """Mean precision@k, recall@k and ndcg@k over the queries in `targets` (a query with no ranking scores 0).

    recall@k divides by min(|targets|, k), so a perfect top-k scores 1 even when a query has more answers than k.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    precision, recall, ndcg = [], [], []
    for query, gold in targets.items():
        if not gold:
            continue
        rel = np.array([p in gold for p in ranked.get(query, [])[:k]], dtype=float)
        hits = rel.sum()
        precision.append(hits / k)
        recall.append(hits / min(len(gold), k))
        ideal = discount[: min(len(gold), k)].sum()
        ndcg.append(float((rel * discount[: len(rel)]).sum() / ideal))
    n = len(precision)
    return {f"precision@{k}": float(np.mean(precision)) if n else float("nan"),
            f"recall@{k}": float(np.mean(recall)) if n else float("nan"),
            f"ndcg@{k}": float(np.mean(ndcg)) if n else float("nan"), "queries": n}
