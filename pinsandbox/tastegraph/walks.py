"""Pixie-style random walks with restart over the pin–board graph, all walkers stepped together (numpy).

From a pinner's recent pins, walkers hop pin → board → pin, choosing neighbours in proportion to edge
weight and jumping back to a start pin with probability `restart` each step. Visit counts rank pins that
are near the pinner's taste in the *curation* graph — often adjacent tastes embeddings alone would miss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


class WeightedCSR:
    """A CSR matrix prepared for O(log nnz) weighted neighbour sampling of many rows at once."""

    def __init__(self, m: sp.csr_matrix):
        m = m.tocsr()
        self.indptr, self.indices = m.indptr, m.indices
        self.cum = np.cumsum(m.data, dtype=np.float64)  # one global running sum; each row is a slice of it
        self.row_start = np.concatenate([[0.0], self.cum])[m.indptr[:-1]]
        self.row_total = np.concatenate([[0.0], self.cum])[m.indptr[1:]] - self.row_start

    def sample(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One neighbour per row (weighted); -1 where the row has no neighbours."""
        target = self.row_start[rows] + rng.random(len(rows)) * self.row_total[rows]
        pos = np.searchsorted(self.cum, target, side="right")
        pos = np.minimum(np.maximum(pos, self.indptr[rows]), self.indptr[rows + 1] - 1)
        out = self.indices[np.maximum(pos, 0)]
        return np.where(self.row_total[rows] > 0, out, -1)


@dataclass
class WalkConfig:
    walkers: int = 400
    steps: int = 8  # pin→board→pin hops per walker
    restart: float = 0.3  # probability of jumping back to a start pin at each hop


class PixieWalker:
    def __init__(self, pin_board: sp.csr_matrix, board_pin: sp.csr_matrix, config: WalkConfig = WalkConfig()):
        self.to_board, self.to_pin = WeightedCSR(pin_board), WeightedCSR(board_pin)
        self.n_pins = pin_board.shape[0]
        self.config = config

    def visits(self, start_pins: np.ndarray, start_weights: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(pins visited, visit counts) of walks restarting at `start_pins`, most visited first."""
        cfg = self.config
        rng = np.random.default_rng(seed)
        p = start_weights / start_weights.sum()
        origin = rng.choice(start_pins, cfg.walkers, p=p)
        here = origin.copy()
        visited = []
        for _ in range(cfg.steps):
            board = self.to_board.sample(here, rng)
            ok = board >= 0
            nxt = np.where(ok, self.to_pin.sample(np.where(ok, board, 0), rng), -1)
            nxt = np.where(nxt >= 0, nxt, origin)  # a dead end counts as a restart
            visited.append(nxt)
            here = np.where(rng.random(cfg.walkers) < cfg.restart, origin, nxt)
        pins, counts = np.unique(np.concatenate(visited), return_counts=True)
        order = np.argsort(-counts, kind="stable")
        return pins[order], counts[order].astype(np.float64)
