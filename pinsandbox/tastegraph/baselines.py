"""Baselines with the taste graph's interface: Popularity, ItemKNN and EASE (closed form).

They see the same weighted pinner–pin matrix as the taste graph (`graph.build_graph`), so a comparison
measures the models, not their inputs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp

from pinsandbox.errors import InvalidInput
from pinsandbox.schema import ENGAGEMENTS
from pinsandbox.tastegraph.graph import build_graph, check_known_pins, prepare_events


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indexes of the k best scores per row, best first (ties broken by index, for determinism)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.lexsort((part, -np.take_along_axis(scores, part, 1)), axis=1)
    return np.take_along_axis(part, order, 1)


EASE_MAX_PINS = 30_000  # EASE inverts a dense pins×pins matrix (7 GB at this size)


class MatrixRecommender(ABC):
    """Shared fit/recommend plumbing: subclasses only say how to score pins for a block of pinners."""

    name = "matrix"
    half_life_days: float = 30.0

    def fit(self, train_events: pd.DataFrame, pins=None) -> MatrixRecommender:
        events = prepare_events(train_events, what="training events")
        if events.empty:
            raise InvalidInput("no training events: fit needs at least one event before the cutoff")
        self.pins = pd.Index(pd.unique(events["pin_id"]) if pins is None else pd.Index(pins).astype(str), name="pin_id")
        check_known_pins(events, self.pins, what="training events")
        self.graph = build_graph(events, self.pins, half_life_days=self.half_life_days)
        self.pinners = self.graph.pinners
        eng = events[events["action"].isin(ENGAGEMENTS)]
        self.seen = sp.csr_matrix((np.ones(len(eng)), (self.pinners.get_indexer(eng["pinner_id"]), self.pins.get_indexer(eng["pin_id"]))),
                                  shape=(len(self.pinners), len(self.pins)))
        self.popularity = self.graph.popularity
        self._fit(self.graph.pinner_pin)
        return self

    @abstractmethod
    def _fit(self, X: sp.csr_matrix) -> None:
        """Learn from the weighted pinner × pin matrix."""

    @abstractmethod
    def _scores(self, rows: np.ndarray) -> np.ndarray:
        """Scores of every pin for the pinners at `rows` (rows × pins)."""

    def recommend_many(self, pinner_ids, k: int = 10, exclude_seen: bool = True) -> dict[str, list[str]]:
        """Top-k pin ids for each pinner; unknown pinners (cold start) get the most popular pins."""
        pinner_ids = [str(p) for p in pinner_ids]
        rows = self.pinners.get_indexer(pinner_ids)
        out = {}
        known = np.flatnonzero(rows >= 0)
        for start in range(0, len(known), 512):  # blocks keep the dense score matrix small
            block = known[start:start + 512]
            scores = np.asarray(self._scores(rows[block]), dtype=np.float64)
            if exclude_seen:
                seen = self.seen[rows[block]]
                scores[seen.nonzero()] = -np.inf
            for i, cols in zip(block, top_k(scores, k), strict=True):
                out[pinner_ids[i]] = self.pins[cols].tolist()
        cold = np.argsort(-self.popularity, kind="stable")[:k]
        for i in np.flatnonzero(rows < 0):
            out[pinner_ids[i]] = self.pins[cold].tolist()
        return out

    def recommend(self, pinner_id: str, k: int = 10, exclude_seen: bool = True) -> list[str]:
        return self.recommend_many([pinner_id], k, exclude_seen)[str(pinner_id)]


class Popularity(MatrixRecommender):
    """Most engaged pins (recency-weighted), the same for everyone."""

    name = "popularity"

    def _fit(self, X):
        pass

    def _scores(self, rows):
        return np.tile(self.popularity, (len(rows), 1))


@dataclass
class ItemKNN(MatrixRecommender):
    """Item-based collaborative filtering: cosine similarity between pins' engagement columns, top neighbours kept."""

    neighbours: int = 100
    name = "itemknn"

    def _fit(self, X):
        Xn = X.multiply(1.0 / np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel() + 1e-12)).tocsc()
        S = (Xn.T @ Xn).tocsr()
        S.setdiag(0)
        S.eliminate_zeros()
        self.S = _keep_top_per_row(S, self.neighbours)

    def _scores(self, rows):
        return (self.graph.pinner_pin[rows] @ self.S.T).toarray()


@dataclass
class EASE(MatrixRecommender):
    """EASE (Steck 2019): item-item weights in closed form, B = I - P·diag(1/diag P), P = (XᵀX + λI)⁻¹."""

    l2: float = 100.0
    name = "ease"

    def _fit(self, X):
        if X.shape[1] > EASE_MAX_PINS:
            raise InvalidInput(f"EASE inverts a dense pins×pins matrix; {X.shape[1]} pins is too many (limit {EASE_MAX_PINS})")
        G = (X.T @ X).toarray()
        G[np.diag_indices_from(G)] += self.l2
        P = scipy.linalg.inv(G, overwrite_a=True, check_finite=False)  # LAPACK getri: ~2x numpy's inv here
        self.B = -P / np.diag(P)
        self.B[np.diag_indices_from(self.B)] = 0.0

    def _scores(self, rows):
        return self.graph.pinner_pin[rows] @ self.B


def _keep_top_per_row(S: sp.csr_matrix, n: int) -> sp.csr_matrix:
    S = S.tocsr()
    rows, cols, vals = [], [], []
    for r in range(S.shape[0]):
        lo, hi = S.indptr[r], S.indptr[r + 1]
        if hi - lo > n:
            keep = np.argpartition(-S.data[lo:hi], n - 1)[:n] + lo
        else:
            keep = np.arange(lo, hi)
        rows.append(np.full(len(keep), r))
        cols.append(S.indices[keep])
        vals.append(S.data[keep])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=S.shape)
