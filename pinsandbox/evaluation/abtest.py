"""A/B simulation on Pinworld: simulated pinners, driven by the ground truth, respond to what each variant shows.

Each simulated pinner opens `sessions` homefeeds of `k` pins, one a day after the cutoff. They react to every
pin as Pinworld's own generator makes pinners react — by how the pin's (style, category) matches their
interests *at that time* (drift included): closeup, click, save, merchant click (shoppable pins only). A save
to a (style, category) the pinner has no board for yet is a board creation. Every engagement is fed back to the
variant online, so a variant that learns within the session earns it.

Pairing: a pinner draws the same random numbers in every variant (common random numbers), so the difference
between variants is the feed, not the luck. Intervals: percentile bootstrap over pinners of the paired
difference in per-pinner means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput
from pinsandbox.metrics import bootstrap_ci

METRICS = ("saves", "board_creations", "merchant_clicks", "closeups")


@dataclass
class ABConfig:
    pinners: int | None = 200  # simulated pinners (seeded sample of those with ground truth); None = all
    sessions: int = 3
    k: int = 10
    bootstrap: int = 2000
    confidence: float = 0.95
    seed: int = 0


# Pinworld's funnel (pinsandbox/catalog/pinworld.py): probabilities by match with the pinner's current interests
P_CLOSEUP = {"match": 0.45, "style": 0.15, "none": 0.03}
P_SAVE = {"match": 0.5, "style": 0.25, "none": 0.08}
P_CLICK, P_MERCHANT = 0.45, 0.35


def _interests_at(truth_interests: pd.DataFrame, t: pd.Timestamp) -> dict[str, tuple[set, set]]:
    """pinner_id -> ({(style, category)}, {style}) active at time t."""
    now = truth_interests[(truth_interests["from_ts"] <= t) & (truth_interests["to_ts"] > t) & (truth_interests["weight"] > 0)]
    out = {}
    for u, g in now.groupby("pinner_id", sort=False):
        out[u] = (set(zip(g["style"], g["category"], strict=False)), set(g["style"]))
    return out


def simulate(context, variants: dict, config: ABConfig | None = None, progress=None) -> pd.DataFrame:
    """Per-pinner outcomes: one row per (variant, pinner) with impressions, closeups, saves, board_creations,
    merchant_clicks."""
    config = config or ABConfig()
    truth, catalog = context.truth, context.catalog
    styles = truth.pin_styles.set_index("pin_id")
    pins = catalog.pins.set_index("pin_id")
    style_of = styles["style"].to_dict()
    cat_of = styles["category"].to_dict()
    shoppable = (pins["merchant"].notna() if "merchant" in pins else pd.Series(False, index=pins.index)).to_dict()
    pinners = sorted(set(truth.pinner_interests["pinner_id"]) & set(context.train["pinner_id"]))
    if not pinners:
        raise InvalidInput("no pinner has both ground-truth interests and history before the cutoff: nothing to simulate")
    if config.pinners is not None and config.pinners < len(pinners):
        pinners = sorted(np.random.default_rng(config.seed).choice(pinners, config.pinners, replace=False).tolist())
    saves_before = context.train[context.train["action"] == "save"]
    boards_before = {u: {(style_of.get(p), cat_of.get(p)) for p in g} for u, g in saves_before.groupby("pinner_id")["pin_id"]}
    days = [catalog.cutoff + pd.Timedelta(days=s + 0.5) for s in range(config.sessions)]
    interests = [_interests_at(truth.pinner_interests, t) for t in days]

    rows = []
    for name, variant in variants.items():
        feed = variant.feed.fork()
        it = pinners if progress is None else progress(pinners, desc=f"A/B {name}")
        for i, u in enumerate(it):
            rng = np.random.default_rng([config.seed, i])  # the same draws for this pinner in every variant
            out = dict(variant=name, pinner_id=u, impressions=0, closeups=0, saves=0, board_creations=0, merchant_clicks=0)
            boards = set(boards_before.get(u, set()))
            for s, t in enumerate(days):
                cells, liked_styles = interests[s].get(u, (set(), set()))
                draws = rng.random((config.k, 4))
                for j, p in enumerate(feed.recommend(u, config.k)):
                    cell = (style_of.get(p), cat_of.get(p))
                    level = "match" if cell in cells else ("style" if cell[0] in liked_styles else "none")
                    out["impressions"] += 1
                    if draws[j, 0] >= P_CLOSEUP[level]:
                        continue
                    out["closeups"] += 1
                    ts = t + pd.Timedelta(seconds=20 * j)
                    feed.update({"pinner_id": u, "pin_id": p, "action": "closeup", "ts": ts})
                    if draws[j, 1] < P_SAVE[level]:
                        out["saves"] += 1
                        if cell not in boards:
                            boards.add(cell)
                            out["board_creations"] += 1
                        feed.update({"pinner_id": u, "pin_id": p, "action": "save", "ts": ts})
                    if draws[j, 2] < P_CLICK and shoppable.get(p, False) and draws[j, 3] < P_MERCHANT:
                        out["merchant_clicks"] += 1
                        feed.update({"pinner_id": u, "pin_id": p, "action": "merchant_click", "ts": ts})
            rows.append(out)
    return pd.DataFrame(rows)


def compare(outcomes: pd.DataFrame, baseline: str, treatment: str, config: ABConfig | None = None) -> pd.DataFrame:
    """Per metric: per-pinner means of both arms, paired difference, relative lift, bootstrap CI, verdict."""
    config = config or ABConfig()
    a = outcomes[outcomes["variant"] == baseline].set_index("pinner_id").sort_index()
    b = outcomes[outcomes["variant"] == treatment].set_index("pinner_id").sort_index()
    if a.empty or b.empty or not a.index.equals(b.index):
        raise InvalidInput(f"variants {baseline!r} and {treatment!r} must both be simulated on the same pinners")
    rows = []
    metrics = list(METRICS) + ["save_rate", "merchant_click_rate"]
    for m in metrics:
        if m.endswith("_rate"):
            base_m = {"save_rate": "saves", "merchant_click_rate": "merchant_clicks"}[m]
            x, y = (a[base_m] / a["impressions"]).to_numpy(), (b[base_m] / b["impressions"]).to_numpy()
        else:
            x, y = a[m].to_numpy(float), b[m].to_numpy(float)
        diff = y - x
        # the same seed for every metric: each metric's interval is drawn over the same resampled pinners
        lo, hi = bootstrap_ci(diff, n=config.bootstrap, level=config.confidence, seed=config.seed)
        mean_x = x.mean()
        verdict = (f"{treatment} ahead" if lo > 0 else f"{treatment} behind" if hi < 0
                   else "no clear difference")
        rows.append({"metric": m, baseline: mean_x, treatment: y.mean(), "difference": diff.mean(),
                     "ci_low": lo, "ci_high": hi, "lift": diff.mean() / mean_x if mean_x else float("nan"),
                     "verdict": verdict})
    return pd.DataFrame(rows)

