"""Choose settings on a validation split carved from the *training* period, never on the test window.

Recommend-time settings (blend weights, recency mix, diversity) share one fit per half-life; the half-life, a
fit-time setting, costs one fit per value. EASE gets the same treatment (its l2 and half-life) so the baseline
is as strong as the taste graph it is compared with.
"""

from __future__ import annotations

import copy
import itertools

import pandas as pd

from pinsandbox.tastegraph.baselines import EASE
from pinsandbox.tastegraph.metrics import evaluate, targets_of, validation_split
from pinsandbox.tastegraph.model import TasteGraph, TasteGraphConfig


def _with(config: TasteGraphConfig, key: str, value) -> TasteGraphConfig:
    """A copy of `config` with a dotted setting changed: "diversity", "blend.gnn", "interests.recency_mix"."""
    config = copy.deepcopy(config)
    head, _, tail = key.partition(".")
    if head == "blend":
        config.blend[tail] = value
    elif tail:
        setattr(getattr(config, head), tail, value)
    else:
        setattr(config, head, value)
    return config


def tune_taste_graph(train_events, pin_vectors=None, *, pins=None, config: TasteGraphConfig | None = None,
                     grid: dict[str, list] | None = None, half_lives=None, k: int = 10, fraction: float = 0.15,
                     progress=None) -> pd.DataFrame:
    """NDCG@k on the validation split for every combination in `grid` (and each of `half_lives`, applied to the
    graph and the interests alike), best first; `.attrs["best"]` is its config."""
    config = config or TasteGraphConfig()
    grid = grid or {"blend.interests": [0.5, 1.0, 2.0], "blend.gnn": [0.0, 0.5], "blend.ease": [0.0, 1.0, 2.0],
                    "interests.recency_mix": [0.5, 0.9]}
    half_lives = list(half_lives) if half_lives is not None else [config.half_life_days]
    fit_part, val_part = validation_split(train_events, fraction)
    targets = targets_of(fit_part, val_part)
    rows = []
    for hl in half_lives:
        base = _with(_with(config, "half_life_days", hl), "interests.half_life_days", hl)
        model = TasteGraph(base).fit(fit_part, pin_vectors, pins=pins)
        combos = list(itertools.product(*grid.values()))
        for values in (combos if progress is None else progress(combos, desc=f"validation grid, half-life {hl:g} d")):
            cfg = base
            for key, v in zip(grid, values, strict=True):
                cfg = _with(cfg, key, v)
            trial = model.fork()
            trial.config = cfg
            m = evaluate(trial, fit_part, val_part, k=k, targets=targets)
            rows.append({"half_life_days": hl, **dict(zip(grid, values, strict=True)), f"ndcg@{k}": m[f"ndcg@{k}"],
                         f"recall@{k}": m[f"recall@{k}"]})
    table = pd.DataFrame(rows).sort_values(f"ndcg@{k}", ascending=False, kind="stable").reset_index(drop=True)
    best = _with(_with(config, "half_life_days", table.loc[0, "half_life_days"]), "interests.half_life_days",
                 table.loc[0, "half_life_days"])
    for key in grid:
        best = _with(best, key, table.loc[0, key])
    table.attrs["best"] = best
    return table


def tune_ease(train_events, *, pins=None, l2s=(10.0, 50.0, 100.0, 300.0, 1000.0), half_lives=(30.0,), k: int = 10,
              fraction: float = 0.15) -> pd.DataFrame:
    """NDCG@k of EASE on the same validation split for each l2 and half-life, best first."""
    fit_part, val_part = validation_split(train_events, fraction)
    targets = targets_of(fit_part, val_part)
    rows = []
    for hl, l2 in itertools.product(half_lives, l2s):
        ease = EASE(l2=l2)
        ease.half_life_days = hl
        rows.append({"half_life_days": hl, "l2": l2,
                     f"ndcg@{k}": evaluate(ease.fit(fit_part, pins=pins), fit_part, val_part, k=k, targets=targets)[f"ndcg@{k}"]})
    return pd.DataFrame(rows).sort_values(f"ndcg@{k}", ascending=False, kind="stable").reset_index(drop=True)
