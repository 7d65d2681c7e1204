"""Evaluation of pin vectors: item-to-item retrieval (PinSage's protocol) and a linear style probe."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput


def item_to_item(pin_ids: np.ndarray, vectors: np.ndarray, pairs: pd.DataFrame, k: int = 10,
                 pool_size: int | None = 1000, seed: int = 0) -> dict:
    """Hit-rate@k and MRR of each target pin among a fixed candidate pool, ranked by similarity to its query.

    The pool is `pool_size` pins drawn once (seeded) from the catalog — the same for every query and every
    vector set — plus the target; the query itself never counts. `pool_size=None` ranks against every pin.
    """
    row = pd.Series(np.arange(len(pin_ids)), index=pd.Index(pin_ids))
    q = pairs["query_pin_id"].map(row)
    t = pairs["target_pin_id"].map(row)
    keep = q.notna() & t.notna()
    if not keep.any():
        raise InvalidInput("none of the evaluation pairs refer to pins that have vectors: nothing to evaluate")
    q, t = q[keep].to_numpy(np.int64), t[keep].to_numpy(np.int64)
    rng = np.random.default_rng(seed)
    pool = np.arange(len(pin_ids)) if pool_size is None or pool_size >= len(pin_ids) else np.sort(
        rng.choice(len(pin_ids), size=pool_size, replace=False))
    ranks = np.empty(len(q), dtype=np.int64)
    for s in range(0, len(q), 1024):
        qs, ts = q[s:s + 1024], t[s:s + 1024]
        scores = vectors[qs] @ vectors[pool].T
        target = np.einsum("ij,ij->i", vectors[qs], vectors[ts])
        ignore = (pool[None, :] == qs[:, None]) | (pool[None, :] == ts[:, None])
        ranks[s:s + 1024] = ((scores > target[:, None]) & ~ignore).sum(1)
    return {f"hit_rate@{k}": float((ranks < k).mean()), "mrr": float((1.0 / (ranks + 1)).mean()),
            "pairs": int(len(q)), "pool": int(len(pool))}


def style_probe(pin_ids: np.ndarray, vectors: np.ndarray, pin_styles: pd.DataFrame, seed: int = 0) -> float:
    """Accuracy of a linear probe (ridge classifier, 3-fold CV) predicting each pin's latent style."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    style = pd.Series(pin_styles["style"].to_numpy(), index=pin_styles["pin_id"]).reindex(pin_ids)
    keep = style.notna().to_numpy()
    y = style[keep].to_numpy()
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    return float(cross_val_score(RidgeClassifier(alpha=1.0), vectors[keep], y, cv=folds).mean())


def comparison_table(results: dict[str, dict], k: int = 10) -> pd.DataFrame:
    """hit-rate@k / MRR per vector set, with the proprietary set's relative lift over off-the-shelf."""
    table = pd.DataFrame(results).T[[f"hit_rate@{k}", "mrr"]]
    if {"proprietary", "off-the-shelf"} <= set(table.index):
        table.loc["lift (relative)"] = table.loc["proprietary"] / table.loc["off-the-shelf"] - 1
    return table
