"""The catalog schema every stage shares: the actions of the funnel, what each says about taste, the table
columns, and how times are read. Stages import these names; none keeps a copy of its own.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput

# The engagement funnel, shallow to deep: a pin is shown, opened, clicked, saved to a board, bought from.
ACTIONS = ("impression", "closeup", "click", "save", "merchant_click")
# Everything but a bare impression: what counts as a pinner engaging with a pin (training pairs, gold sets, hits).
ENGAGEMENTS = ACTIONS[1:]
# How much one event says about a pinner's taste, in clicks: a save is worth two clicks, a merchant click three,
# an impression almost nothing (the pinner may not even have looked). One scale for every stage that weighs
# events: the taste graph's edges, the centroid baseline's taste vector, interest importance.
ACTION_WEIGHTS = {"impression": 0.05, "closeup": 0.5, "click": 1.0, "save": 2.0, "merchant_click": 3.0}

PIN_COLUMNS = ("pin_id", "title", "description", "image")  # any other pin column is kept as metadata
EVENT_COLUMNS = ("pinner_id", "pin_id", "action", "ts", "board_id")  # board_id optional
BOARD_COLUMNS = ("board_id", "pinner_id", "name")
REQUIRED_COLUMNS = {"pins": ("pin_id", "title"), "events": EVENT_COLUMNS[:4], "boards": BOARD_COLUMNS}

TIME_HINT = "use ISO-8601 like 2025-01-31T12:00:00Z (no zone means UTC) or unix seconds"
_NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def parse_times(values) -> pd.Series:
    """ISO-8601 (zone optional, none means UTC) or unix seconds → timestamp[us, UTC]; NaT where unparseable.

    For validation that reports every bad row; `to_utc` is the strict form."""
    ts = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(ts):
        out = ts if ts.dt.tz is not None else ts.dt.tz_localize("UTC")
        return out.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    if pd.api.types.is_numeric_dtype(ts):
        return pd.to_datetime(ts, unit="s", utc=True, errors="coerce").astype("datetime64[us, UTC]")
    text = ts.astype("string")
    numeric = text.str.match(_NUMBER).fillna(False).astype(bool)
    out = pd.Series(pd.NaT, index=ts.index, dtype="datetime64[us, UTC]")
    if numeric.any():
        out[numeric] = pd.to_datetime(pd.to_numeric(text[numeric], errors="coerce"), unit="s", utc=True, errors="coerce")
    if (~numeric).any():
        out[~numeric] = pd.to_datetime(text[~numeric], format="ISO8601", utc=True, errors="coerce")
    return out


def to_utc(values, *, what: str = "events") -> pd.Series:
    """`parse_times`, refusing any value that is not a time (missing values included)."""
    out = parse_times(values)
    bad = out.isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        example = pd.Series(values).iloc[rows[0]]
        raise InvalidInput(f"{what} have {len(rows)} ts value(s) that are not times (e.g. {example!r} at row "
                           f"{rows[0] + 1}): {TIME_HINT}")
    return out


def utc_timestamp(value, *, what: str = "time") -> pd.Timestamp:
    """One time as a UTC Timestamp: a Timestamp/datetime, an ISO-8601 string or unix seconds (numbers or digits)."""
    try:
        if isinstance(value, (int, float, np.number)) or (isinstance(value, str) and _NUMBER.match(value)):
            ts = pd.Timestamp(float(value), unit="s")
        else:
            ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        ts = pd.NaT
    if ts is pd.NaT or pd.isna(ts):
        raise InvalidInput(f"{what} {value!r} is not a time: {TIME_HINT}")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
