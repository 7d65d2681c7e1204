"""The feedback loop: events that serving accepted (`POST /events`, logged in `<sandbox>/serving/events.db`) join
the next retrain's training data.

    events, stats = logged_events(sb, catalog)

Read from the log as they are (the server may be writing meanwhile: SQLite's WAL lets a reader see every
committed event), then cleaned:
- invalid: a pin not in the current catalog (an import replaced it), an unknown action, no pinner or timestamp —
  dropped and counted, since nobody can fix an event after the fact;
- duplicates: the same (pinner, pin, action, ts) twice in the log (a client's retry) or already among the
  catalog's events — kept once;
- the clock: the server stamps events with the wall clock, the sandbox's world runs on Pinworld's calendar, so an
  event stamped at or after the catalog's cutoff is re-timed to just before it (the newest instant of training
  data): it is as fresh as training data gets, and it never lands in the gate's scoring window.
`stats["seq"]` is the last log sequence number read: the verdict carries it, the promoted snapshot records it
(`event_log_seq`), and a server that loads that champion replays only the events after it: none counts twice.
"""

from __future__ import annotations

import pandas as pd

from pinsandbox.schema import ACTIONS, EVENT_COLUMNS

LOG = "serving/events.db"
KEY = ["pinner_id", "pin_id", "action", "ts"]


def logged_events(sb, catalog) -> tuple[pd.DataFrame, dict]:
    """(clean logged events: their log `seq` and EVENT_COLUMNS, {"seq", "read", "used", "invalid", "duplicate",
    "retimed"})."""
    from pinsandbox.serving.eventlog import EventLog

    empty = pd.DataFrame({c: pd.Series(dtype="datetime64[ns, UTC]" if c == "ts" else object)
                          for c in ("seq", *EVENT_COLUMNS)})
    stats = {"seq": 0, "read": 0, "used": 0, "invalid": 0, "duplicate": 0, "retimed": 0}
    path = sb.path(LOG)
    if not path.exists():
        return empty, stats
    log = EventLog(path)
    try:
        raw = log.since(0)
    finally:
        log.close()
    stats["read"] = len(raw)
    if raw.empty:
        return empty, stats
    stats["seq"] = int(raw["seq"].max())
    valid = (raw["pin_id"].isin(catalog.pins["pin_id"]) & raw["action"].isin(ACTIONS)
             & raw["pinner_id"].astype(str).str.len().gt(0) & raw["ts"].notna())
    events = raw.loc[valid, ["seq", *EVENT_COLUMNS]].astype({"pinner_id": str, "pin_id": str})
    stats["invalid"] = int((~valid).sum())
    known = catalog.events[KEY].astype({"pinner_id": str, "pin_id": str})
    seen = pd.MultiIndex.from_frame(known.assign(ts=pd.to_datetime(known["ts"], utc=True)))
    keep = ~events.duplicated(KEY) & ~pd.MultiIndex.from_frame(events[KEY]).isin(seen)
    stats["duplicate"] = int((~keep).sum())
    events = events[keep]
    late = events["ts"] >= catalog.cutoff
    stats["retimed"] = int(late.sum())
    events = events.assign(ts=events["ts"].where(~late, catalog.cutoff - pd.Timedelta(microseconds=1)))
    stats["used"] = len(events)
    return events.reset_index(drop=True), stats
