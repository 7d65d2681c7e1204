"""A learned graph model as a further candidate source: LightGCN over the pinner–pin graph, pin vectors as features.

LightGCN (He et al. 2020) propagates embeddings over the normalised bipartite adjacency with no weights or
non-linearities between layers and averages the layers. PinSage-style, a pin's layer-0 embedding is a
projection of its pin vector plus a free correction, so pins with few engagements still start from content.
Trained with BPR (a seen pin should outscore a random one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class GNNConfig:
    dim: int = 64
    layers: int = 2
    epochs: int = 30
    batch_size: int = 2048
    lr: float = 0.01
    l2: float = 1e-4
    seed: int = 0


def _normalised_adjacency(X: sp.csr_matrix) -> sp.csr_matrix:
    """D^-1/2 A D^-1/2 of the bipartite graph [[0, X], [Xᵀ, 0]] (symmetric)."""
    A = sp.bmat([[None, X], [X.T, None]], format="csr").astype(np.float32)
    deg = np.asarray(A.sum(axis=1)).ravel()
    d = sp.diags((1.0 / np.sqrt(np.maximum(deg, 1e-12)) * (deg > 0)).astype(np.float32))
    return (d @ A @ d).tocsr()


def _propagator(A: sp.csr_matrix):
    """`A @ E` as an autograd op. scipy's CSR product is far faster on CPU than torch.sparse's backward here, and
    since A is symmetric the gradient is A @ grad too."""
    import torch

    class Propagate(torch.autograd.Function):
        @staticmethod
        def forward(ctx, E):
            return torch.from_numpy(A @ E.detach().numpy())

        @staticmethod
        def backward(ctx, grad):
            return torch.from_numpy(A @ grad.contiguous().numpy())

    return Propagate.apply


class LightGCN:
    def __init__(self, config: GNNConfig | None = None):
        self.config = config or GNNConfig()

    def fit(self, X: sp.csr_matrix, pin_vectors: np.ndarray | None, progress=None) -> LightGCN:
        """Train on the binarised pinner–pin engagement matrix X (pinners × pins)."""
        import torch

        # These tensors are small: one thread avoids the OpenMP spin-waits that made a shared 2-core
        # machine ~40× slower with two threads.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._fit(X, pin_vectors, progress)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, X, pin_vectors, progress):
        import torch

        cfg = self.config
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        X = (X > 0).astype(np.float32).tocsr()
        n_u, n_i = X.shape
        propagate_once = _propagator(_normalised_adjacency(X))
        user = torch.nn.Embedding(n_u, cfg.dim)
        item = torch.nn.Embedding(n_i, cfg.dim)
        torch.nn.init.normal_(user.weight, std=0.1)
        torch.nn.init.normal_(item.weight, std=0.1)
        feats = torch.as_tensor(pin_vectors, dtype=torch.float32) if pin_vectors is not None else None
        proj = torch.nn.Linear(feats.shape[1], cfg.dim, bias=False) if feats is not None else None
        params = [user.weight, item.weight] + (list(proj.parameters()) if proj is not None else [])
        opt = torch.optim.Adam(params, lr=cfg.lr)

        def propagate():
            e_i = item.weight + (proj(feats) if proj is not None else 0)
            e = torch.cat([user.weight, e_i])
            out = [e]
            for _ in range(cfg.layers):
                e = propagate_once(e)
                out.append(e)
            e = torch.stack(out).mean(0)
            return e[:n_u], e[n_u:], e_i

        coo = X.tocoo()
        pos_u, pos_i = coo.row.astype(np.int64), coo.col.astype(np.int64)
        self.losses = []
        epochs = range(cfg.epochs) if progress is None else progress(range(cfg.epochs), desc="LightGCN (BPR)")
        for _ in epochs:
            order = rng.permutation(len(pos_u))
            total = 0.0
            for start in range(0, len(order), cfg.batch_size):
                b = order[start:start + cfg.batch_size]
                u = torch.as_tensor(pos_u[b])
                i = torch.as_tensor(pos_i[b])
                j = torch.as_tensor(rng.integers(0, n_i, len(b)))  # uniform negatives
                U, V, V0 = propagate()  # user and item (V) embeddings after propagation; V0 before
                x = (U[u] * (V[i] - V[j])).sum(-1)
                loss = torch.nn.functional.softplus(-x).mean()
                reg = cfg.l2 * (user.weight[u].pow(2).sum() + V0[i].pow(2).sum() + V0[j].pow(2).sum()) / len(b)
                opt.zero_grad()
                (loss + reg).backward()
                opt.step()
                total += float(loss.detach()) * len(b)
            self.losses.append(total / max(len(order), 1))
        with torch.no_grad():
            U, V, _ = propagate()
        self.user_emb, self.item_emb = U.numpy().copy(), V.numpy().copy()
        return self

    def top_candidates(self, seen: sp.csr_matrix, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Best `n` unseen pins per pinner: (rows × n pin indexes, rows × n scores). The batch clock's output."""
        from pinsandbox.tastegraph.baselines import top_k

        n = min(n, self.item_emb.shape[0])
        idx = np.empty((self.user_emb.shape[0], n), dtype=np.int64)
        val = np.empty((self.user_emb.shape[0], n), dtype=np.float32)
        for start in range(0, len(self.user_emb), 1024):
            s = self.user_emb[start:start + 1024] @ self.item_emb.T
            s[seen[start:start + 1024].nonzero()] = -np.inf
            top = top_k(s, n)
            idx[start:start + 1024], val[start:start + 1024] = top, np.take_along_axis(s, top, 1)
        return idx, val
