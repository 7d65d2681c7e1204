"""Small, seeded synthetic worlds for tests and benchmarks (the real demo data is the catalog stage's Pinworld).

Pins belong to styles; pin vectors are noisy copies of their style's direction. Each pinner likes a few
styles, and a share of pinners drift: halfway through they swap one style for another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class SyntheticWorld:
    pins: pd.DataFrame  # pin_id, style
    events: pd.DataFrame  # the catalog contract's events table
    pin_ids: np.ndarray
    vectors: np.ndarray  # float32, L2-normalised, row i = pin_ids[i]
    cutoff: pd.Timestamp  # 80th percentile of event time
    interests: pd.DataFrame  # pinner_id, style, from_day, to_day


def make_world(n_pins: int = 600, n_pinners: int = 120, n_events: int = 12_000, *, n_styles: int = 12,
               dim: int = 32, days: int = 60, drift_share: float = 0.3, noise: float = 0.6, seed: int = 0) -> SyntheticWorld:
    rng = np.random.default_rng(seed)
    pin_ids = np.array([f"p{i}" for i in range(n_pins)])
    style = rng.integers(0, n_styles, n_pins)
    centers = rng.standard_normal((n_styles, dim))
    vectors = centers[style] + noise * rng.standard_normal((n_pins, dim))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    pop = rng.pareto(1.5, n_pins) + 1.0  # a few pins are much more popular than the rest

    # each pinner: 1-3 styles; drifting pinners replace their first style at a random day
    n_like = rng.integers(1, 4, n_pinners)
    likes = np.stack([rng.choice(n_styles, 3, replace=False) for _ in range(n_pinners)])
    drifts = rng.random(n_pinners) < drift_share
    new_style = (likes[:, 0] + 1 + rng.integers(0, n_styles - 1, n_pinners)) % n_styles
    drift_day = rng.uniform(0.4, 0.7, n_pinners) * days

    by_style = [np.flatnonzero(style == s) for s in range(n_styles)]
    by_style_p = [pop[ix] / pop[ix].sum() for ix in by_style]

    who = rng.integers(0, n_pinners, n_events)
    day = np.sort(rng.uniform(0, days, n_events))
    pick = rng.integers(0, 3, n_events) % n_like[who]
    s = likes[who, pick]
    drifted = drifts[who] & (pick == 0) & (day >= drift_day[who])
    s = np.where(drifted, new_style[who], s)
    explore = rng.random(n_events) < 0.15  # impressions of anything, like a feed shows
    pin = np.empty(n_events, dtype=np.int64)
    for st in range(n_styles):  # vectorised per style: popularity-weighted draws
        m = (s == st) & ~explore
        pin[m] = rng.choice(by_style[st], m.sum(), p=by_style_p[st])
    pin[explore] = rng.integers(0, n_pins, explore.sum())
    action = np.where(explore, "impression",
                      rng.choice(["closeup", "click", "save", "merchant_click"], n_events, p=[0.4, 0.3, 0.25, 0.05]))
    board = np.where(action == "save", np.char.add(np.char.add("b", who.astype(str)), np.char.add("_", s.astype(str))), None)
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    events = pd.DataFrame({
        "pinner_id": np.char.add("u", who.astype(str)),
        "pin_id": pin_ids[pin],
        "action": action,
        "ts": t0 + pd.to_timedelta(day * 86400, unit="s"),
        "board_id": board,
    })
    events["ts"] = events["ts"].astype("datetime64[us, UTC]")
    rows = []
    for u in range(n_pinners):
        for j in range(n_like[u]):
            if j == 0 and drifts[u]:
                rows += [(f"u{u}", int(likes[u, 0]), 0.0, float(drift_day[u])), (f"u{u}", int(new_style[u]), float(drift_day[u]), float(days))]
            else:
                rows.append((f"u{u}", int(likes[u, j]), 0.0, float(days)))
    interests = pd.DataFrame(rows, columns=["pinner_id", "style", "from_day", "to_day"])
    cutoff = events["ts"].quantile(0.8)
    return SyntheticWorld(pd.DataFrame({"pin_id": pin_ids, "style": style}), events, pin_ids, vectors, cutoff, interests)
