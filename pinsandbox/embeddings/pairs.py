"""Positive pairs from the engagement graph (PinSage's co-engagement, PinCLIP's neighbour alignment).

Two pins are a positive pair when the same pinner engaged with both close together in their history, or
saved both to the same board. Impressions are not engagement and are ignored. Callers pass only events
before the catalog's cutoff for training — held-out pairs are for evaluation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput
from pinsandbox.schema import ENGAGEMENTS


def coengagement_pairs(events: pd.DataFrame, window: int = 5, max_pairs: int | None = 200_000,
                       seed: int = 0) -> pd.DataFrame:
    """Pairs (a, b), a != b, of pins engaged by one pinner within `window` steps of each other (both orders,
    one row per occurrence)."""
    eng = events[events["action"].isin(ENGAGEMENTS)].sort_values(["pinner_id", "ts"], kind="stable")
    eng = eng.drop_duplicates(["pinner_id", "pin_id"])
    pinner = eng["pinner_id"].to_numpy()
    pin = eng["pin_id"].to_numpy()
    parts = []
    for lag in range(1, window + 1):
        same = pinner[lag:] == pinner[:-lag]
        parts.append(pd.DataFrame({"a": pin[:-lag][same], "b": pin[lag:][same]}))
    if "board_id" in eng.columns:  # pins saved to the same board, each to the next one saved there
        saves = eng[eng["action"].eq("save") & eng["board_id"].notna()].sort_values(["board_id", "ts"], kind="stable")
        board, bpin = saves["board_id"].to_numpy(), saves["pin_id"].to_numpy()
        for lag in range(1, window + 1):
            same = board[lag:] == board[:-lag]
            parts.append(pd.DataFrame({"a": bpin[:-lag][same], "b": bpin[lag:][same]}))
    pairs = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"a": [], "b": []})
    pairs = pairs[pairs["a"] != pairs["b"]]
    pairs = pd.concat([pairs, pairs.rename(columns={"a": "b", "b": "a"})], ignore_index=True)
    # duplicates kept on purpose: a pair co-engaged by many pinners is sampled (weighted) more often
    if max_pairs is not None and len(pairs) > max_pairs:
        pairs = pairs.sample(n=max_pairs, random_state=np.random.RandomState(seed), ignore_index=True)
    return pairs.astype({"a": str, "b": str})


def training_pairs(catalog, window: int = 5, max_pairs: int | None = 200_000, seed: int = 0) -> pd.DataFrame:
    """Positive pairs from the catalog's training history only (events with ts < cutoff)."""
    train = catalog.train_events()
    if not train["action"].isin(ENGAGEMENTS).any():
        raise InvalidInput(
            f"catalog {catalog.artifact_id} has no engagement (closeup/click/save/merchant_click) before its cutoff "
            f"{catalog.cutoff}: engagement alignment needs it; import events, or train with engagement_weight=0"
        )
    known = set(catalog.pins["pin_id"])
    pairs = coengagement_pairs(train, window=window, max_pairs=max_pairs, seed=seed)
    pairs = pairs[pairs["a"].isin(known) & pairs["b"].isin(known)].reset_index(drop=True)
    if pairs.empty:
        raise InvalidInput(
            f"catalog {catalog.artifact_id}: no pinner engaged with two different pins before the cutoff, so there are "
            "no co-engagement pairs to align on; import more events, or train with engagement_weight=0"
        )
    return pairs


def heldout_pairs(catalog, truth=None) -> pd.DataFrame:
    """Evaluation pairs (query_pin_id, target_pin_id): Pinworld's gold set, else co-engagement after the cutoff.

    Both pins must have been seen before the cutoff (an item-to-item query is about a known pin).
    """
    gold = getattr(truth, "gold_item_pairs", None) if truth is not None else None
    if gold is None:
        seen = set(catalog.train_events()["pin_id"])
        future = coengagement_pairs(catalog.test_events(), window=3, max_pairs=None)
        gold = future[future["a"].isin(seen) & future["b"].isin(seen)]
        gold = gold.rename(columns={"a": "query_pin_id", "b": "target_pin_id"})
    return gold[["query_pin_id", "target_pin_id"]].drop_duplicates().reset_index(drop=True)
