"""The serving event log: every engagement the API acknowledges, durably, in SQLite (WAL, synchronous=FULL).

An event is committed — fsync'ed to the write-ahead log — before the server answers 2xx, so a crash (even
SIGKILL) right after the answer loses nothing. On start the server replays the log over the taste-graph
snapshot, which is how online state survives restarts.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    pinner_id TEXT NOT NULL,
    pin_id TEXT NOT NULL,
    action TEXT NOT NULL,
    ts TEXT NOT NULL,
    board_id TEXT
)
"""
COLUMNS = ["seq", "received_at", "pinner_id", "pin_id", "action", "ts", "board_id"]


class EventLog:
    """Append-only event table. One connection, serialised by a lock (SQLite has one writer anyway)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # fsync the WAL on every commit: acknowledged = on disk
        self._conn.execute(SCHEMA)
        self._lock = threading.Lock()

    def append(self, event: dict) -> int:
        """Commit one event (pinner_id, pin_id, action, ts ISO-8601, optional board_id); returns its sequence number."""
        now = pd.Timestamp.now(tz="UTC").isoformat()
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO events (received_at, pinner_id, pin_id, action, ts, board_id) VALUES (?, ?, ?, ?, ?, ?)",
                (now, event["pinner_id"], event["pin_id"], event["action"], event["ts"], event.get("board_id")))
            return int(cur.lastrowid)

    def since(self, seq: int = 0) -> pd.DataFrame:
        """Events with sequence number > `seq`, in order, `ts` as UTC timestamps."""
        with self._lock:
            rows = self._conn.execute("SELECT * FROM events WHERE seq > ? ORDER BY seq", (int(seq),)).fetchall()
        df = pd.DataFrame(rows, columns=COLUMNS)
        df["ts"] = pd.to_datetime(df["ts"], utc=True, format="ISO8601")
        return df

    def last_seq(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
