"""The off-the-shelf route's homefeed: one taste vector per pinner (the decayed mean of what they engaged with),
nearest pins to it. What a team ships with generic embeddings and no taste graph; the A/B baseline.

Same verbs as the taste graph (fit / update / recommend / fork), so both variants run through one simulator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput
from pinsandbox.schema import ACTION_WEIGHTS, ENGAGEMENTS

ENGAGED = {a: ACTION_WEIGHTS[a] for a in ENGAGEMENTS}  # one taste vector of engagements only: impressions say too little


class CentroidFeed:
    def __init__(self, half_life_days: float = 30.0):
        self.half_life_days = half_life_days

    def fit(self, events: pd.DataFrame, pin_ids, vectors: np.ndarray) -> CentroidFeed:
        self.pins = pd.Index(np.asarray(pin_ids).astype(str))
        self._ids = self.pins.to_numpy()  # plain array: indexing it is much cheaper than a pandas Index
        self.vectors = np.asarray(vectors, dtype=np.float32)
        eng = events[events["action"].isin(ENGAGED)]
        rows = self.pins.get_indexer(eng["pin_id"].astype(str))
        if (rows < 0).any():
            raise InvalidInput(f"{int((rows < 0).sum())} events name pins without a vector: re-run the embeddings stage")
        now = events["ts"].max()
        age_days = ((now - eng["ts"]).dt.total_seconds() / 86400.0).to_numpy()
        w = eng["action"].map(ENGAGED).to_numpy() * 0.5 ** (age_days / self.half_life_days)
        df = pd.DataFrame({"u": eng["pinner_id"].astype(str).to_numpy(), "row": rows, "w": w})
        self.taste, self.seen = {}, {}
        for u, g in df.groupby("u", sort=False):
            self.taste[u] = (g["w"].to_numpy()[:, None] * self.vectors[g["row"].to_numpy()]).sum(0)
            self.seen[u] = set(g["row"].tolist())
        self.popular = np.argsort(-np.bincount(rows, minlength=len(self.pins)), kind="stable")
        return self

    def update(self, event: dict) -> CentroidFeed:
        weight = ENGAGED.get(event["action"])
        if weight is None:
            return self  # an impression is not a preference
        u, row = str(event["pinner_id"]), self.pins.get_loc(str(event["pin_id"]))
        self.taste[u] = self.taste.get(u, 0) + weight * self.vectors[row]
        self.seen.setdefault(u, set()).add(row)
        return self

    def recommend(self, pinner_id: str, k: int = 10, exclude_seen: bool = True) -> list[str]:
        u = str(pinner_id)
        seen = np.fromiter(self.seen.get(u, ()), dtype=np.int64)
        if u not in self.taste:
            order = self.popular
        else:
            scores = self.vectors @ self.taste[u]
            if exclude_seen and len(seen):
                scores[seen] = -np.inf
            n = min(k, len(scores) - 1)
            top = np.argpartition(-scores, n)[: n + 1]
            order = top[np.argsort(-scores[top], kind="stable")]
        if exclude_seen and len(seen) and u not in self.taste:
            order = order[~np.isin(order, seen)]
        return self._ids[order[:k]].tolist()

    def recommend_many(self, pinner_ids, k: int = 10, exclude_seen: bool = True) -> dict[str, list[str]]:
        return {str(u): self.recommend(u, k, exclude_seen) for u in pinner_ids}

    def fork(self) -> CentroidFeed:
        other = object.__new__(CentroidFeed)
        other.__dict__.update(self.__dict__)
        other.taste = {u: np.array(v, copy=True) for u, v in self.taste.items()}
        other.seen = {u: set(s) for u, s in self.seen.items()}
        return other
