"""Navigator's two steps, shared by the API and the gold-set evaluation: retrieve candidates by MiniLM text
similarity (within the budget, when the catalog has prices), then let the ranker order them."""

from __future__ import annotations

import numpy as np


def retrieve_and_rank(query: np.ndarray, text_vectors: np.ndarray, pin_ids: np.ndarray, ranker, text: str, *,
                      n_candidates: int = 24, k: int = 8, prices: np.ndarray | None = None,
                      max_price: float | None = None) -> tuple[list[str], np.ndarray, int]:
    """(top-k pin ids best first, their ranker scores, how many candidates were ranked)."""
    scores = text_vectors @ query
    if max_price is not None and prices is not None:
        scores = np.where(prices <= max_price, scores, -np.inf)
    n = min(n_candidates, int(np.isfinite(scores).sum()))
    if n == 0:
        return [], np.zeros(0, np.float32), 0
    cand = np.argpartition(-scores, n - 1)[:n]
    cand = cand[np.argsort(-scores[cand], kind="stable")]
    cand_ids = pin_ids[cand].astype(str)
    ranked = np.asarray(ranker.score(text, list(cand_ids), scores[cand]), dtype=np.float32)
    order = np.argsort(-ranked, kind="stable")[:k]
    return cand_ids[order].tolist(), ranked[order], n
