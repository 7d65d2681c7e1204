"""Multi-interest pinner representations, PinnerSage-style, on two clocks.

Batch: cluster the vectors of the pins a pinner engaged with (Ward), keep the few most important clusters,
each as a medoid pin + a centre + an importance (engagement weight decayed by recency).
Online: every event decays the importances to its time, then either moves the nearest interest towards the
pin or, if no interest is close, spawns a new one — so the very next recommendation reflects it.
Shares: how much of the pinner's attention each interest gets now, from its long- and short-term importance —
by a fixed recency mix, or by a `ShareModel` learned from what pinners went on to engage with in the next days
(PinnerFormer's objective: the next days' engagement, not only the next action).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.hierarchy import linkage


@dataclass
class InterestConfig:
    max_interests: int = 5  # PinnerSage keeps a handful per pinner
    ward_threshold: float = 1.0  # Ward merge distance that stops clustering (unit vectors: ~1 ≈ different tastes)
    spawn_similarity: float = 0.5  # an online pin less similar than this to every interest starts a new one
    half_life_days: float = 30.0  # long-term importance halves every this many days without engagement
    short_half_life_days: float = 2.0  # short-term importance: what the pinner is into *this week*
    # long-term importance also halves every this many engagements the pinner makes elsewhere (None: wall clock only):
    # a taste left behind by a busy pinner fades, a quiet pinner's tastes keep (graph.engagement_clock_decay)
    half_life_engagements: float | None = 40.0  # 40 and 80 tie on validation NDCG (README, stage 4); 40 follows drift further
    recency_mix: float = 0.5  # an interest's share = (1 - mix) · long-term share + mix · short-term share
    # learn how long- and short-term importance make an interest's share from this many days of engagement after a
    # split of the training period (PinnerFormer); None: the fixed recency_mix. Off by default: on the demo it learns
    # that recency does not predict the next week for most pinners (a 0.79, b 0.02) and drifted feeds lag more
    share_window_days: float | None = None
    max_history: int = 200  # most recent distinct pins clustered per pinner (bounds batch cost)
    recent_pins: int = 20  # pins kept for the random walks' starting points


@dataclass
class PinnerState:
    """One pinner's interests. Importances are as of `as_of` (seconds); decay is applied lazily."""

    centers: np.ndarray  # (m, d) float32, unit rows
    importance: np.ndarray  # (m,) long-term: engagement weight with a slow decay (frequency)
    medoids: np.ndarray  # (m,) pin row indexes
    as_of: float
    short: np.ndarray | None = None  # (m,) short-term: the same with a fast decay (recency)
    recent: list = field(default_factory=list)  # (pin row, weight) newest last
    seen: set = field(default_factory=set)  # pin rows engaged with (excluded from the homefeed)

    def __post_init__(self):
        if self.short is None:
            self.short = np.zeros(len(self.importance))

    def decayed(self, t: float, half_life_days: float) -> np.ndarray:
        return self.importance * 0.5 ** (max(t - self.as_of, 0.0) / (86400.0 * half_life_days))

    def shares(self, t: float, cfg: InterestConfig, model: ShareModel | None = None) -> np.ndarray:
        """Each interest's share of the pinner's attention now: frequency and recency, as in PinnerSage — mixed by
        `cfg.recency_mix`, or weighed by a learned `model`."""
        dt = max(t - self.as_of, 0.0) / 86400.0
        long = self.importance * 0.5 ** (dt / cfg.half_life_days)
        short = self.short * 0.5 ** (dt / cfg.short_half_life_days)
        long = long / max(long.sum(), 1e-12)
        if model is not None:
            return model.shares(long, short / max(short.sum(), 1e-12))
        if short.sum() <= 1e-9:  # nothing recent: frequency alone (also keeps recency_mix = 1 defined)
            return long
        share = (1 - cfg.recency_mix) * long + cfg.recency_mix * short / short.sum()
        return share / share.sum()

    def copy(self) -> PinnerState:
        return PinnerState(self.centers.copy(), self.importance.copy(), self.medoids.copy(), self.as_of,
                           short=self.short.copy(), recent=list(self.recent), seen=set(self.seen))


@dataclass
class ShareModel:
    """share_i ∝ long_i^a · (short_i + floor)^b, with (a, b) fitted to the next days' engagement.

    `long` and `short` are the interests' long- and short-term importance shares; an exponent above 1 sharpens,
    below 1 flattens. The floor keeps an interest with no recent engagement in play."""

    a: float = 1.0
    b: float = 0.0
    floor: float = 0.05

    def shares(self, long: np.ndarray, short: np.ndarray) -> np.ndarray:
        z = self.a * np.log(np.maximum(long, 1e-12)) + self.b * np.log(short + self.floor)
        z = np.exp(z - z.max())
        return z / z.sum()

    @classmethod
    def fit(cls, long: list[np.ndarray], short: list[np.ndarray], target: list[np.ndarray], floor: float = 0.05) -> ShareModel:
        """Maximum likelihood of where each pinner's next-days engagement went (`target`: weight per interest),
        over pinners with two interests or more; a small L2 pull towards (1, 0) — frequency alone — keeps it sane."""
        from scipy.optimize import minimize

        feats = [(np.log(np.maximum(lg, 1e-12)), np.log(sh + floor), y / y.sum()) for lg, sh, y in zip(long, short, target, strict=True)
                 if len(y) > 1 and y.sum() > 0]
        if not feats:
            return cls(floor=floor)

        def loss(theta):
            total = 0.0
            for ll, ls, y in feats:
                z = theta[0] * ll + theta[1] * ls
                total -= y @ (z - z.max() - np.log(np.exp(z - z.max()).sum()))
            return total / len(feats) + 1e-3 * ((theta[0] - 1) ** 2 + theta[1] ** 2)

        theta = minimize(loss, np.array([1.0, 0.0]), method="L-BFGS-B", bounds=[(0.0, 5.0), (0.0, 5.0)]).x
        return cls(float(theta[0]), float(theta[1]), floor)


def fit_pinner(rows: np.ndarray, weights: np.ndarray, vectors: np.ndarray, cfg: InterestConfig, t: float,
               short_weights: np.ndarray | None = None) -> PinnerState:
    """Batch interests from one pinner's engaged pins (`rows`, de-duplicated), their long- and short-term weights."""
    X = vectors[rows].astype(np.float64)
    if len(rows) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        labels = _cut(linkage(X, method="ward"), cfg.ward_threshold)
    n = labels.max() + 1
    imp = np.bincount(labels, weights=weights, minlength=n)
    short = np.bincount(labels, weights=short_weights if short_weights is not None else np.zeros(len(rows)), minlength=n)
    keep = np.argsort(-imp, kind="stable")[: cfg.max_interests]
    centers, medoids = [], []
    for c in keep:
        members = np.flatnonzero(labels == c)
        Xc, wc = X[members], weights[members]
        center = (wc[:, None] * Xc).sum(0)
        centers.append(center / (np.linalg.norm(center) + 1e-12))
        # medoid: the member with the least weighted sum of squared distances to the others (a real pin to show);
        # Σ_j w_j‖x_i − x_j‖² = W‖x_i‖² − 2 x_i·center + const, so O(n·d) instead of O(n²·d)
        d2 = wc.sum() * np.einsum("ij,ij->i", Xc, Xc) - 2 * Xc @ center
        medoids.append(rows[members[np.argmin(d2)]])
    return PinnerState(np.asarray(centers, dtype=np.float32), imp[keep].astype(np.float64), np.asarray(medoids), t,
                       short=short[keep].astype(np.float64))


def _cut(Z: np.ndarray, threshold: float) -> np.ndarray:
    """Flat cluster labels (0..n-1) from a Ward linkage cut at `threshold`: fcluster(criterion="distance") without
    its per-call validation, which cost more than the clustering itself. Ward heights are monotonic, so the
    merges at or below the threshold are a prefix of Z."""
    n = len(Z) + 1
    root = np.arange(2 * n - 1)
    for i in range(int(np.searchsorted(Z[:, 2], threshold, side="right")) - 1, -1, -1):  # parents before children
        root[int(Z[i, 0])] = root[int(Z[i, 1])] = root[n + i]
    return np.unique(root[:n], return_inverse=True)[1]


def update_pinner(state: PinnerState, row: int, vectors: np.ndarray, weight: float, t: float, cfg: InterestConfig,
                  engaged: bool) -> None:
    """Online update for one event on pin `row`: decay, then move the nearest interest or spawn a new one."""
    dt = max(t - state.as_of, 0.0) / 86400.0
    state.importance = state.importance * 0.5 ** (dt / cfg.half_life_days)
    state.short = state.short * 0.5 ** (dt / cfg.short_half_life_days)
    state.as_of = max(t, state.as_of)
    if not engaged:  # an impression is not a preference; it only ages the interests
        return
    if cfg.half_life_engagements is not None:  # one more engagement on the pinner's own clock
        state.importance = state.importance * 0.5 ** (1.0 / cfg.half_life_engagements)
    vector = vectors[row]
    state.seen.add(row)
    state.recent.append((row, weight))
    del state.recent[: -cfg.recent_pins]
    if len(state.importance):
        sims = state.centers @ vector
        j = int(np.argmax(sims))
        if sims[j] >= cfg.spawn_similarity:
            # move: the centre becomes the importance-weighted mean of itself and the new pin
            c = state.importance[j] * state.centers[j] + weight * vector
            state.centers[j] = c / (np.linalg.norm(c) + 1e-12)
            state.importance[j] += weight
            state.short[j] += weight
            if vector @ state.centers[j] > vectors[state.medoids[j]] @ state.centers[j]:
                state.medoids[j] = row  # the new pin now represents the interest best
            return
    # spawn: a taste this pinner has not shown before
    state.centers = np.vstack([state.centers, vector[None, :]]).astype(np.float32)
    state.importance = np.append(state.importance, weight)
    state.short = np.append(state.short, weight)
    state.medoids = np.append(state.medoids, row)
    if len(state.importance) > cfg.max_interests:
        # drop the weakest *old* interest: the new taste must get a chance to grow
        keep = np.arange(len(state.importance)) != int(np.argmin(state.importance[:-1]))
        state.centers, state.importance, state.medoids = state.centers[keep], state.importance[keep], state.medoids[keep]
        state.short = state.short[keep]
