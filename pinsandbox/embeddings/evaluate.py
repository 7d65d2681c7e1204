"""Evaluation of pin vectors: item-to-item retrieval (PinSage's protocol) and, where the latent style is known
(Pinworld), how well the vectors carry it: a linear style probe and the style purity of each pin's neighbours,
for warm pins (engagement before the cutoff) and cold ones (content only) apart."""

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


def _styles(pin_ids: np.ndarray, pin_styles: pd.DataFrame) -> np.ndarray:
    return pd.Series(pin_styles["style"].to_numpy(), index=pin_styles["pin_id"]).reindex(pin_ids).to_numpy(object)


def style_probe(pin_ids: np.ndarray, vectors: np.ndarray, pin_styles: pd.DataFrame, seed: int = 0) -> float:
    """Accuracy of a linear probe (ridge classifier, 3-fold CV) predicting each pin's latent style."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    style = _styles(pin_ids, pin_styles)
    keep = pd.notna(style)
    y = style[keep].astype(str)
    folds = StratifiedKFold(n_splits=min(3, int(pd.Series(y).value_counts().min())), shuffle=True, random_state=seed)
    return float(cross_val_score(RidgeClassifier(alpha=1.0), vectors[keep], y, cv=folds).mean())


def style_purity(pin_ids: np.ndarray, vectors: np.ndarray, pin_styles: pd.DataFrame, k: int = 10,
                 queries: np.ndarray | None = None) -> float:
    """Share of each query pin's k nearest pins (among all pins, itself excluded) that share its latent style."""
    style = _styles(pin_ids, pin_styles)
    queries = np.arange(len(pin_ids)) if queries is None else np.flatnonzero(queries)
    same = []
    for s in range(0, len(queries), 1024):
        q = queries[s:s + 1024]
        scores = vectors[q] @ vectors.T
        scores[np.arange(len(q)), q] = -np.inf
        nn = np.argpartition(-scores, k, axis=1)[:, :k]
        same.append(style[nn] == style[q][:, None])
    return float(np.concatenate(same).mean()) if same else float("nan")


def taste_measures(pin_ids: np.ndarray, vectors: np.ndarray, pin_styles: pd.DataFrame, warm: np.ndarray, k: int = 10,
                   seed: int = 0) -> dict[str, float]:
    """Style probe and style purity@k over all pins, warm pins and cold pins (a group too small to probe: absent)."""
    out = {"style_probe_accuracy": style_probe(pin_ids, vectors, pin_styles, seed),
           f"style_purity@{k}": style_purity(pin_ids, vectors, pin_styles, k)}
    for group, rows in (("warm", warm), ("cold", ~warm)):
        if rows.sum() >= 30:
            out[f"style_probe_accuracy_{group}"] = style_probe(pin_ids[rows], vectors[rows], pin_styles, seed)
            out[f"style_purity@{k}_{group}"] = style_purity(pin_ids, vectors, pin_styles, k, queries=rows)
    return out


def comparison_table(results: dict[str, dict], k: int = 10) -> pd.DataFrame:
    """hit-rate@k / MRR per vector set, with the proprietary set's relative lift over off-the-shelf."""
    table = pd.DataFrame(results).T[[f"hit_rate@{k}", "mrr"]]
    if {"proprietary", "off-the-shelf"} <= set(table.index):
        table.loc["lift (relative)"] = table.loc["proprietary"] / table.loc["off-the-shelf"] - 1
    return table


def text_request_recall(requests: pd.DataFrame, pin_ids: np.ndarray, request_vectors: np.ndarray,
                        pin_vectors: np.ndarray, k: int = 10) -> float:
    """Recall@k of text requests against every pin: each request's answer pins (`answer_pin_ids`) among the k pins
    nearest its vector (requests with no answer among `pin_ids` are skipped)."""
    row = pd.Series(np.arange(len(pin_ids)), index=pd.Index(pin_ids))
    top = np.argsort(-(request_vectors @ pin_vectors.T), axis=1)[:, :k]
    recalls = []
    for nearest, answers in zip(top, requests["answer_pin_ids"], strict=True):
        wanted = set(row.reindex(list(answers)).dropna().astype(int))
        if wanted:
            recalls.append(len(wanted & set(nearest.tolist())) / min(k, len(wanted)))
    return float(np.mean(recalls)) if recalls else float("nan")
