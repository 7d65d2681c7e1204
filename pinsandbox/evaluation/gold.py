"""Gold-set evaluation: precision@K / recall@K / NDCG@K for homefeed, item-to-item and Navigator, every variant,
one table. Gold sets come from Pinworld's ground truth or from a user's labelled files (same columns).

- homefeed: pins each pinner engaged with after the cutoff, minus those they had engaged with before it (the
  homefeed never shows those again);
- item-to-item: for each query pin, the pins co-engaged with it after the cutoff (both seen before it);
- Navigator: the test requests' answer pins, candidates retrieved from the whole catalog (within budget).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput
from pinsandbox.metrics import ranking_metrics
from pinsandbox.schema import ENGAGEMENTS


def homefeed_targets(gold_homefeed: pd.DataFrame, train_events: pd.DataFrame) -> dict[str, set[str]]:
    eng = train_events[train_events["action"].isin(ENGAGEMENTS)]
    before = set(zip(eng["pinner_id"].astype(str), eng["pin_id"].astype(str), strict=False))
    out: dict[str, set[str]] = {}
    for u, p in zip(gold_homefeed["pinner_id"].astype(str), gold_homefeed["pin_id"].astype(str), strict=False):
        if (u, p) not in before:
            out.setdefault(u, set()).add(p)
    return out


def item_targets(gold_item_pairs: pd.DataFrame) -> dict[str, set[str]]:
    return gold_item_pairs.astype(str).groupby("query_pin_id")["target_pin_id"].agg(set).to_dict()


def similar_many(pin_ids: np.ndarray, vectors: np.ndarray, queries: list[str], k: int) -> dict[str, list[str]]:
    """Nearest pins (itself excluded) for each query pin, exact inner product."""
    index = pd.Index(pin_ids.astype(str))
    rows = index.get_indexer(queries)
    out = {}
    for q, r in zip(queries, rows, strict=False):
        if r < 0:
            continue
        s = vectors @ vectors[r]
        s[r] = -np.inf
        top = np.argpartition(-s, k)[:k]
        out[q] = index[top[np.argsort(-s[top], kind="stable")]].tolist()
    return out


def navigator_rankings(navigator, requests: pd.DataFrame, k: int) -> dict[str, list[str]]:
    """Each request's top-k pins from a variant's Navigator (retrieval within the budget, then its ranker)."""
    out = {}
    for row in requests.itertuples(index=False):
        max_price = getattr(row, "max_price", None)
        max_price = None if max_price is None or pd.isna(max_price) else float(max_price)
        out[str(row.request_id)] = [p["pin_id"] for p in navigator.ask(str(row.text), k=k, max_price=max_price)["pins"]]
    return out


def gold_table(context, variants: dict, k: int = 10, max_queries: int | None = None, seed: int = 0) -> pd.DataFrame:
    """One row per (variant, task): precision@k, recall@k, ndcg@k, hit_rate@k, queries. `max_queries` subsamples (seeded)."""
    truth = context.truth
    rng = np.random.default_rng(seed)

    def sample(d: dict) -> dict:
        if max_queries is None or len(d) <= max_queries:
            return d
        keys = sorted(d)
        return {q: d[q] for q in rng.choice(keys, max_queries, replace=False)}

    home = sample(homefeed_targets(truth.gold_homefeed, context.train))
    items = sample(item_targets(truth.gold_item_pairs))
    nav = truth.gold_navigator[truth.gold_navigator["split"] == "test"]
    nav_targets = sample({str(r): set(a) for r, a in zip(nav["request_id"], nav["answer_pin_ids"], strict=False)})
    nav = nav[nav["request_id"].astype(str).isin(nav_targets)]
    if not home or not items:
        raise InvalidInput("the gold sets are empty (no engagement after the cutoff): generate a larger Pinworld")
    rows = []
    for name, v in variants.items():
        feeds = v.feed.recommend_many(sorted(home), k)
        rows.append({"variant": name, "task": "homefeed", **ranking_metrics(feeds, home, k)})
        rows.append({"variant": name, "task": "item-to-item",
                     **ranking_metrics(similar_many(v.pin_ids, v.vectors, sorted(items), k), items, k)})
        if len(nav):
            rows.append({"variant": name, "task": "navigator",
                         **ranking_metrics(navigator_rankings(v.navigator, nav, k), nav_targets, k)})
    return pd.DataFrame(rows)
