"""A pin's graph neighbourhood, PinSage's way: random walks over the pin–pinner and pin–board graph.

PinSage does not use a pin's direct co-engagement neighbours: it runs short random walks from the pin and keeps
the pins visited most often, weighting each by its visit count (importance pooling). Here, from the engagement
before the cutoff only:

- `engagement_graph`: pins × (pinners + boards), edges weighted by action (schema.ACTION_WEIGHTS) and log-damped,
  so one heavy pinner does not own a pin's neighbourhood;
- `random_walk_visits`: pin → pinner/board → pin hops, `n_walks` per pin, as a sparse pins × pins count matrix;
- `importance_neighbours`: each pin's top-`top_t` visited pins and their normalised visit counts;
- `covisit_factors`: the positive PMI of the visit counts, factorised (truncated SVD). DeepWalk's skip-gram
  implicitly factorises this same matrix (Qiu et al., NetMF, 2018); computed directly it costs seconds, needs no
  per-pin parameters, and its rows are what co-engagement says about a pin's taste.

Pins with no engagement before the cutoff (freshly published) have empty rows everywhere: the encoder gives them
a vector from content alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pinsandbox.schema import ACTION_WEIGHTS, ENGAGEMENTS

BOARD_WEIGHT = 2.0  # a save to a board is a deliberate grouping: its edge counts double


@dataclass
class PinGraph:
    """Row-aligned with the catalog's pins: what the encoder reads about each pin's place in the graph."""

    neighbour_rows: np.ndarray  # int64 N×T: the top-T pins by random-walk visits (-1: none)
    neighbour_weights: np.ndarray  # float32 N×T: their visit shares (each row sums to 1, or 0 for cold pins)
    factors: np.ndarray  # float32 N×G: co-visit factors, unit rows (zeros for cold pins)
    warm: np.ndarray  # bool N: the pin had engagement before the cutoff

    def pool(self, values: np.ndarray) -> np.ndarray:
        """Importance pooling: each pin's visit-weighted mean of `values` over its walk neighbours."""
        rows = np.where(self.neighbour_rows >= 0, self.neighbour_rows, 0)
        return np.einsum("nt,ntd->nd", self.neighbour_weights, values[rows]).astype(np.float32)


def engagement_graph(pin_ids: np.ndarray, events: pd.DataFrame) -> sp.csr_matrix:
    """Pins × (pinners + boards), from engagement events (impressions are not engagement)."""
    eng = events[events["action"].isin(ENGAGEMENTS)]
    row = pd.Series(np.arange(len(pin_ids)), index=pd.Index(pin_ids))
    p = eng["pin_id"].map(row)
    eng, p = eng[p.notna().to_numpy()], p.dropna().to_numpy(np.int64)
    pinners, u = np.unique(eng["pinner_id"].astype(str).to_numpy(), return_inverse=True)
    weight = eng["action"].map(ACTION_WEIGHTS).to_numpy(np.float64)
    parts = [sp.csr_matrix((weight, (p, u)), shape=(len(pin_ids), len(pinners)))]
    if "board_id" in eng.columns:
        saved = eng["board_id"].notna().to_numpy()
        boards, b = np.unique(eng["board_id"][saved].astype(str).to_numpy(), return_inverse=True)
        parts.append(sp.csr_matrix((np.full(len(b), BOARD_WEIGHT), (p[saved], b)), shape=(len(pin_ids), len(boards))))
    graph = sp.hstack(parts).tocsr()
    graph.data = np.log1p(graph.data)  # repeated engagement counts, but less than linearly
    return graph


def _step(indptr: np.ndarray, indices: np.ndarray, cum: np.ndarray, at: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One weighted random hop from each node in `at` (each has at least one edge)."""
    lo, hi = indptr[at], indptr[at + 1]
    base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    pos = np.searchsorted(cum, base + u * (cum[hi - 1] - base), side="right")
    return indices[np.clip(pos, lo, hi - 1)]


def random_walk_visits(graph: sp.csr_matrix, n_walks: int = 64, walk_length: int = 3, seed: int = 0,
                       batch: int = 20_000) -> sp.csr_matrix:
    """Pins × pins visit counts of `n_walks` walks of `walk_length` pin→entity→pin hops from every warm pin."""
    rng = np.random.default_rng(seed)
    n = graph.shape[0]
    forward, back = graph.tocsr(), graph.T.tocsr()
    fcum, bcum = np.cumsum(forward.data), np.cumsum(back.data)
    starts = np.flatnonzero(np.diff(forward.indptr) > 0)
    rows, cols = [], []
    for s in range(0, len(starts), batch):  # bounded memory at a million pins
        src = np.repeat(starts[s:s + batch], n_walks)
        at = src
        for _ in range(walk_length):
            entity = _step(forward.indptr, forward.indices, fcum, at, rng.random(len(at)))
            at = _step(back.indptr, back.indices, bcum, entity, rng.random(len(at)))
            rows.append(src)
            cols.append(at)
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    visits = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, n))
    visits.setdiag(0)  # a pin is not its own neighbour
    visits.eliminate_zeros()
    return visits


def importance_neighbours(visits: sp.csr_matrix, top_t: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows N×T, weights N×T): each pin's most visited pins and their visit shares (PinSage's importance)."""
    n = visits.shape[0]
    coo = visits.tocoo()
    order = np.lexsort((-coo.data, coo.row))  # by pin, most visited first
    r, c, v = coo.row[order], coo.col[order], coo.data[order]
    start = np.searchsorted(r, np.arange(n))
    rank = np.arange(len(r)) - start[r]
    keep = rank < top_t
    rows = np.full((n, top_t), -1, np.int64)
    weights = np.zeros((n, top_t), np.float32)
    rows[r[keep], rank[keep]] = c[keep]
    weights[r[keep], rank[keep]] = v[keep]
    weights /= np.maximum(weights.sum(1, keepdims=True), 1e-12)
    return rows, weights


def covisit_factors(visits: sp.csr_matrix, dim: int, seed: int = 0) -> np.ndarray:
    """Unit rows of the truncated SVD of the visits' positive PMI (zeros for pins without visits)."""
    from sklearn.utils.extmath import randomized_svd

    n = visits.shape[0]
    out = np.zeros((n, dim), np.float32)
    coo = visits.tocoo()
    if coo.nnz == 0:
        return out
    row_sum = np.asarray(visits.sum(1)).ravel()
    col_sum = np.asarray(visits.sum(0)).ravel()
    pmi = np.log(coo.data * coo.data.sum() / (row_sum[coo.row] * col_sum[coo.col]))
    keep = pmi > 0
    ppmi = sp.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=(n, n))
    rank = min(dim, max(1, min(ppmi.shape) - 1))
    u, s, _ = randomized_svd(ppmi, rank, random_state=seed)
    x = u * np.sqrt(s)
    out[:, :rank] = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return out


def pin_graph(pin_ids: np.ndarray, train_events: pd.DataFrame, *, top_t: int = 20, factors: int = 64,
              n_walks: int = 64, walk_length: int = 3, seed: int = 0) -> PinGraph:
    """Everything the encoder reads about each pin's neighbourhood, from the events before the cutoff."""
    graph = engagement_graph(pin_ids, train_events)
    visits = random_walk_visits(graph, n_walks=n_walks, walk_length=walk_length, seed=seed)
    rows, weights = importance_neighbours(visits, top_t)
    warm = np.diff(visits.indptr) > 0
    return PinGraph(rows, weights, covisit_factors(visits, factors, seed), warm)
