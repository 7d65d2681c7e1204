"""Choose settings on a validation split carved from the *training* period, never on the test window.

Only recommend-time settings are searched (blend weights, recency mix, diversity), so one fit serves the
whole grid; EASE's regulariser gets the same treatment for a fair comparison.
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
                     grid: dict[str, list] | None = None, k: int = 10, fraction: float = 0.15, progress=None) -> pd.DataFrame:
    """NDCG@k on the validation split for every combination in `grid`, best first; `.attrs["best"]` is its config."""
    config = config or TasteGraphConfig()
    grid = grid or {"blend.interests": [0.5, 1.0, 2.0], "blend.gnn": [0.5, 1.0], "interests.recency_mix": [0.0, 0.5],
                    "diversity": [0.85, 1.0]}
    fit_part, val_part = validation_split(train_events, fraction)
    model = TasteGraph(config).fit(fit_part, pin_vectors, pins=pins)
    targets = targets_of(fit_part, val_part)
    rows = []
    combos = list(itertools.product(*grid.values()))
    for values in (combos if progress is None else progress(combos, desc="validation grid")):
        cfg = config
        for key, v in zip(grid, values):
            cfg = _with(cfg, key, v)
        trial = model.fork()
        trial.config = cfg
        m = evaluate(trial, fit_part, val_part, k=k, targets=targets)
        rows.append({**dict(zip(grid, values)), f"ndcg@{k}": m[f"ndcg@{k}"], f"recall@{k}": m[f"recall@{k}"]})
    table = pd.DataFrame(rows).sort_values(f"ndcg@{k}", ascending=False, kind="stable").reset_index(drop=True)
    best = config
    for key in grid:
        best = _with(best, key, table.loc[0, key])
    table.attrs["best"] = best
    return table


def tune_ease(train_events, *, pins=None, l2s=(10.0, 50.0, 100.0, 300.0, 1000.0), k: int = 10, fraction: float = 0.15) -> pd.DataFrame:
    fit_part, val_part = validation_split(train_events, fraction)
    targets = targets_of(fit_part, val_part)
    rows = [{"l2": l2, f"ndcg@{k}": evaluate(EASE(l2=l2).fit(fit_part, pins=pins), fit_part, val_part, k=k, targets=targets)[f"ndcg@{k}"]}
            for l2 in l2s]
    return pd.DataFrame(rows).sort_values(f"ndcg@{k}", ascending=False, kind="stable").reset_index(drop=True)
