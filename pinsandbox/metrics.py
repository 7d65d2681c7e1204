"""Ranking metrics and confidence intervals, shared by every stage that scores a ranking.

Binary relevance throughout: a ranked item is relevant when it is in the query's gold set.
"""

from __future__ import annotations

import numpy as np

from pinsandbox.errors import InvalidInput


def _discount(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(ranked, gold, k: int) -> float:
    """NDCG@k of one ranking against one gold set (the ideal puts min(|gold|, k) hits first)."""
    if not gold:
        return float("nan")
    rel = np.array([p in gold for p in list(ranked)[:k]], dtype=float)
    discount = _discount(k)
    return float((rel * discount[: len(rel)]).sum() / discount[: min(len(gold), k)].sum())


def recall_at_k(ranked, gold, k: int) -> float:
    """Hits in the top k over min(|gold|, k): a perfect top-k scores 1 even when there are more answers than k."""
    if not gold:
        return float("nan")
    return sum(p in gold for p in list(ranked)[:k]) / min(len(gold), k)


def ranking_metrics(ranked: dict, targets: dict, k: int) -> dict[str, float]:
    """Mean precision@k, recall@k, ndcg@k and hit_rate@k over the queries in `targets` with a non-empty gold set
    (a query with no ranking scores 0), plus the number of queries."""
    if k < 1:
        raise InvalidInput(f"k must be at least 1, got {k}")
    rows = []
    for query, gold in targets.items():
        if not gold:
            continue
        top = list(ranked.get(query, []))[:k]
        hits = sum(p in gold for p in top)
        rows.append((hits / k, recall_at_k(top, gold, k), ndcg_at_k(top, gold, k), float(hits > 0)))
    n = len(rows)
    mean = np.mean(rows, axis=0) if n else np.full(4, np.nan)
    return {f"precision@{k}": float(mean[0]), f"recall@{k}": float(mean[1]), f"ndcg@{k}": float(mean[2]),
            f"hit_rate@{k}": float(mean[3]), "queries": n}


def bootstrap_ci(values, *, statistic=np.mean, n: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over rows (resampled with replacement, seeded).

    `values` may be (N,) or (N, m): rows are resampled together, so a paired statistic keeps its pairing
    (e.g. `statistic=lambda v: v[:, 1].mean() - v[:, 0].mean()` for the difference of two arms)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        raise InvalidInput(f"a bootstrap interval needs at least 2 observations, got {len(values)}")
    idx = np.random.default_rng(seed).integers(len(values), size=(n, len(values)))
    if statistic is np.mean and values.ndim == 1:  # vectorised: the common case, and the A/B's hot path
        stats = values[idx].mean(axis=1)
    else:
        stats = np.array([statistic(values[i]) for i in idx])
    tail = 100 * (1 - level) / 2
    return float(np.percentile(stats, tail)), float(np.percentile(stats, 100 - tail))
