"""The preference graph: pinners, pins and boards as sparse matrices built from engagement events.

Edges are weighted by what the pinner did (a merchant click says more than an impression) and by how
recently (half-life decay), so the graph is a *preference* graph, not a record of who saw what.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pinsandbox.errors import InvalidInput
from pinsandbox.schema import ACTION_WEIGHTS, ENGAGEMENTS, EVENT_COLUMNS, to_utc

REQUIRED = EVENT_COLUMNS[:4]


def prepare_events(events: pd.DataFrame, *, what: str = "events") -> pd.DataFrame:
    """Check an events table against the catalog contract and return a clean copy sorted by time.

    `ts` may be timestamps, ISO-8601 strings or unix seconds; it comes back as UTC timestamps.
    """
    if not isinstance(events, pd.DataFrame):
        raise InvalidInput(f"{what} must be a pandas DataFrame with columns {', '.join(REQUIRED)}")
    missing = [c for c in REQUIRED if c not in events.columns]
    if missing:
        raise InvalidInput(f"{what} lack column(s) {', '.join(missing)}: give pinner_id, pin_id, action, ts (board_id optional)")
    out = events.loc[:, [c for c in (*REQUIRED, "board_id") if c in events.columns]].copy()
    bad = ~out["action"].isin(list(ACTION_WEIGHTS))
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:5].tolist()
        raise InvalidInput(
            f"{what} have {int(bad.sum())} row(s) with an unknown action (rows {rows}, e.g. {out['action'].iloc[rows[0]]!r}): "
            f"use one of {', '.join(ACTION_WEIGHTS)}"
        )
    for col in ("pinner_id", "pin_id"):
        if out[col].isna().any():
            raise InvalidInput(f"{what} have {int(out[col].isna().sum())} row(s) with no {col}: every event needs one")
        out[col] = out[col].astype(str)
    out["ts"] = to_utc(out["ts"], what=what)
    if "board_id" not in out.columns:
        out["board_id"] = None
    return out.sort_values("ts", kind="stable").reset_index(drop=True)


def check_known_pins(events: pd.DataFrame, pins: pd.Index, *, what: str = "events") -> None:
    unknown = ~events["pin_id"].isin(pins)
    if unknown.any():
        examples = events.loc[unknown, "pin_id"].unique()[:3].tolist()
        raise InvalidInput(
            f"{what} mention {int(events.loc[unknown, 'pin_id'].nunique())} pin(s) not in the catalog (e.g. {examples}): "
            "drop those events, or re-import the catalog with those pins"
        )


def edge_weights(events: pd.DataFrame, now: pd.Timestamp, half_life_days: float,
                 half_life_engagements: float | None = None) -> np.ndarray:
    """Action weight × recency decay (halves every `half_life_days` before `now`, and, if given, every
    `half_life_engagements` engagements the pinner made since: see `engagement_clock_decay`)."""
    age_days = (now - events["ts"]).dt.total_seconds().to_numpy() / 86400.0
    decay = np.power(0.5, np.clip(age_days, 0, None) / half_life_days)
    if half_life_engagements is not None:
        decay = decay * engagement_clock_decay(events, half_life_engagements)
    return events["action"].map(ACTION_WEIGHTS).to_numpy(dtype=np.float64) * decay


def engagement_clock_decay(events: pd.DataFrame, half_life: float) -> np.ndarray:
    """0.5 ** (engagements the same pinner made after this event / half_life), for time-sorted events.

    Time on the pinner's own clock: a pinner who has engaged fifty times since last touching a taste has moved on,
    while one who has not been back for a month has not — wall-clock decay cannot tell the two apart."""
    engaged = events["action"].isin(ENGAGEMENTS).astype(np.int64)
    by_pinner = engaged.groupby(events["pinner_id"].to_numpy(), sort=False)
    later = (by_pinner.transform("sum") - by_pinner.cumsum()).to_numpy()
    return np.power(0.5, later / half_life)


@dataclass
class Graph:
    """Pinner–pin and pin–board adjacency. Rows/columns follow `pinners`, `pins`, `boards`."""

    pinners: pd.Index
    pins: pd.Index
    boards: pd.Index  # real boards, plus one pseudo-board per pinner for engagements saved to no board
    pinner_pin: sp.csr_matrix  # weighted engagement (impressions included, lightly)
    pin_board: sp.csr_matrix  # engagement-only curation edges, used by the random walks
    board_pin: sp.csr_matrix
    now: pd.Timestamp

    @property
    def popularity(self) -> np.ndarray:
        """Weighted engagement per pin over all pinners."""
        return np.asarray(self.pinner_pin.sum(axis=0)).ravel()


def build_graph(events: pd.DataFrame, pins: pd.Index, *, half_life_days: float = 30.0,
                half_life_engagements: float | None = None, now: pd.Timestamp | None = None) -> Graph:
    """Build the graph from prepared events (see `prepare_events`) over the pin universe `pins`."""
    now = now if now is not None else (events["ts"].max() if len(events) else pd.Timestamp.now(tz="UTC"))
    pinners = pd.Index(pd.unique(events["pinner_id"]), name="pinner_id")
    w = edge_weights(events, now, half_life_days, half_life_engagements)
    rows = pinners.get_indexer(events["pinner_id"])
    cols = pins.get_indexer(events["pin_id"])
    pinner_pin = sp.csr_matrix((w, (rows, cols)), shape=(len(pinners), len(pins)))
    pinner_pin.sum_duplicates()

    # Pixie walks pin -> board -> pin. Saves name their board; other engagements go to the pinner's
    # pseudo-board "~pinner", so catalogs without boards still get a co-engagement graph.
    eng = events["action"].isin(ENGAGEMENTS).to_numpy()
    board_of = events["board_id"].where(events["board_id"].notna(), "~" + events["pinner_id"]).astype(str)
    boards = pd.Index(pd.unique(board_of[eng]), name="board_id")
    b_rows = pins.get_indexer(events.loc[eng, "pin_id"])
    b_cols = boards.get_indexer(board_of[eng])
    pin_board = sp.csr_matrix((w[eng], (b_rows, b_cols)), shape=(len(pins), len(boards)))
    pin_board.sum_duplicates()
    return Graph(pinners, pins, boards, pinner_pin, pin_board, pin_board.T.tocsr(), now)
