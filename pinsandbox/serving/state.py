"""What the server holds for one sandbox: catalog, pin vectors, the taste graph, Navigator's text index, the log.

    state = ServingState.load("alice")      # taste-graph snapshot (or a fresh fit) + replay of the event log
    state.homefeed("pinner-1", k=10)
    state.record_event({...})               # durably logged first, then applied to the pinner's taste
    state.similar("p00042", k=10)
    state.navigator("a mid-century lamp under $80", k=8)

Homefeeds are cached per pinner and dropped when that pinner's taste changes, so a read costs a dict lookup
and the very next read after an event reflects it.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.serving.eventlog import EventLog
from pinsandbox.serving.navigator import retrieve_and_rank
from pinsandbox.serving.ranker import load_ranker

TASTE_GRAPH = "taste-graph"  # tastegraph/<name> artifact the server starts from when it exists


@dataclass
class ServingConfig:
    cache_pinners: int = 50_000  # homefeeds kept in memory (least recently used dropped first)
    navigator_candidates: int = 24  # retrieved per request, then ranked (the vlm stage trains on 24)
    max_k: int = 100
    vectors: str = "proprietary"  # pin vectors for /similar and the taste graph when it must be fitted


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


@dataclass
class ServingState:
    sandbox: object
    catalog: object
    taste: object  # pinsandbox.tastegraph.TasteGraph
    taste_source: str  # artifact id it was loaded from, or how it was fitted
    pin_ids: np.ndarray  # row order of `vectors`
    vectors: np.ndarray
    vectors_id: str
    text_vectors: np.ndarray  # MiniLM of title + description, rows = catalog.pins
    log: EventLog
    ranker: object
    config: ServingConfig = field(default_factory=ServingConfig)
    replayed: int = 0
    startup_s: float = 0.0

    def __post_init__(self):
        self._write = threading.Lock()  # log order = apply order, so a replay rebuilds exactly this state
        self._taste = threading.RLock()  # the taste graph and the feed cache (never held across an fsync)
        self._cache: OrderedDict[str, list[str]] = OrderedDict()
        self._vec_row = pd.Index(self.pin_ids)
        pins = self.catalog.pins.set_index("pin_id", drop=False)
        self._pins = pins
        self._titles = pins["title"].astype(str).to_dict()
        self._price = pins["price"].astype(float).to_numpy() if "price" in pins else None
        self._price_of = pins["price"].astype(float).to_dict() if "price" in pins else None
        self._known_pinners = set(self.catalog.events["pinner_id"].astype(str)) | set(self.taste.states)

    # -- loading --------------------------------------------------------------------------------------
    @classmethod
    def load(cls, sandbox=None, config: ServingConfig | None = None, progress: bool = False) -> "ServingState":
        """Everything the API serves, from the sandbox's artifacts, with the event log replayed on top."""
        from pinsandbox.catalog import load_catalog
        from pinsandbox.sandbox import resolve

        started = time.perf_counter()
        config = config or ServingConfig()
        sb = resolve(sandbox)
        catalog = load_catalog(sb)
        pin_ids, vectors, vectors_id = _load_vectors(sb, config.vectors)
        taste, taste_source, replay_from = load_taste_graph(sb, catalog, pin_ids, vectors, progress)
        if vectors is None:  # vector-less sandbox: serve /similar from the taste graph's own pin embedding
            pin_ids, vectors, vectors_id = np.asarray(taste.pins), taste.vectors, f"{taste_source} (graph SVD)"
        log = EventLog(sb.path("serving/events.db"))
        state = cls(sb, catalog, taste, taste_source, pin_ids, vectors, vectors_id,
                    text_index(sb, catalog, progress), log, load_ranker(sb), config)
        state.replayed = state._replay(replay_from)
        state.startup_s = time.perf_counter() - started
        return state

    def _replay(self, after_seq: int) -> int:
        events = self.log.since(after_seq)
        for ev in events.to_dict("records"):
            self.taste.update(ev)
            self._known_pinners.add(ev["pinner_id"])
        return len(events)

    # -- reads ----------------------------------------------------------------------------------------
    def check_pin(self, pin_id: str) -> None:
        if pin_id not in self._titles:
            raise NotFound(f"no pin {pin_id!r} in catalog {self.catalog.artifact_id}: use a pin_id from its pins table")

    def check_pinner(self, pinner_id: str) -> None:
        if pinner_id not in self._known_pinners:
            raise NotFound(f"no pinner {pinner_id!r} in sandbox {self.sandbox.owner!r}: use a pinner_id from the catalog's "
                           "events, or POST /events for them first (a newcomer gets a profile with their first event)")

    def _check_k(self, k: int) -> int:
        if not 1 <= int(k) <= self.config.max_k:
            raise InvalidInput(f"k must be between 1 and {self.config.max_k}, got {k}")
        return int(k)

    def pin(self, pin_id: str, score: float | None = None) -> dict:
        out = {"pin_id": pin_id, "title": self._titles[pin_id]}
        if self._price_of is not None:
            out["price"] = self._price_of[pin_id]
        if score is not None:
            out["score"] = round(float(score), 5)
        return out

    def homefeed(self, pinner_id: str, k: int = 10) -> list[dict]:
        k = self._check_k(k)
        self.check_pinner(pinner_id)
        with self._taste:
            feed = self._cache.get(pinner_id)
            if feed is None or len(feed) < k:
                feed = self.taste.recommend(pinner_id, max(k, 25))
                self._cache[pinner_id] = feed
                if len(self._cache) > self.config.cache_pinners:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(pinner_id)
        return [self.pin(p) for p in feed[:k]]

    def similar(self, pin_id: str, k: int = 10) -> list[dict]:
        k = self._check_k(k)
        self.check_pin(pin_id)
        row = self._vec_row.get_indexer([pin_id])[0]
        if row < 0:
            raise NotFound(f"pin {pin_id!r} has no vector in {self.vectors_id}: re-run the embeddings stage")
        scores = self.vectors @ self.vectors[row]
        scores[row] = -np.inf
        top = np.argpartition(-scores, k)[:k] if k < len(scores) - 1 else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")][:k]
        return [self.pin(self.pin_ids[i], scores[i]) for i in top if np.isfinite(scores[i])]

    def navigator(self, text: str, k: int = 8, max_price: float | None = None) -> dict:
        """Request text → MiniLM retrieval of candidates → the ranker orders them → pins + a short answer."""
        from pinsandbox.embeddings.features import encode_texts

        k = self._check_k(k)
        text = text.strip()
        if not text:
            raise InvalidInput("navigator text is empty: describe what you are looking for")
        query = encode_texts([text], progress=False)[0]
        ids, scores, n = retrieve_and_rank(query, self.text_vectors, self.catalog.pins["pin_id"].to_numpy(), self.ranker,
                                           text, n_candidates=self.config.navigator_candidates, k=k,
                                           prices=self._price, max_price=max_price)
        pins = [self.pin(p, s) for p, s in zip(ids, scores)]
        if not pins:
            return {"pins": [], "answer": f"Nothing in the catalog fits “{text}”" + (f" under {max_price:g}." if max_price else "."),
                    "ranker": self.ranker.name, "ranker_note": self.ranker.reason, "candidates": 0}
        return {"pins": pins, "answer": _answer(text, pins, self._pins), "ranker": self.ranker.name,
                "ranker_note": self.ranker.reason, "candidates": n}

    # -- writes ---------------------------------------------------------------------------------------
    def record_event(self, event: dict) -> int:
        """Log the event durably, then apply it to the pinner's taste. Returns its sequence number.

        Checked before anything is written, so a refused event leaves no trace.
        """
        self.check_pin(event["pin_id"])
        ts = pd.Timestamp(event.get("ts") or pd.Timestamp.now(tz="UTC"))
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        event = {**event, "ts": ts.isoformat()}
        with self._write:
            seq = self.log.append(event)  # committed and fsync'ed: from here on the event survives a crash
            with self._taste:
                self.taste.update({**event, "ts": ts})
                self._known_pinners.add(event["pinner_id"])
                self._cache.pop(event["pinner_id"], None)
        return seq

    def health(self) -> dict:
        return {"status": "ok", "sandbox": self.sandbox.owner, "catalog": self.catalog.artifact_id,
                "taste_graph": self.taste_source, "vectors": self.vectors_id, "ranker": self.ranker.name,
                "events_logged": self.log.last_seq(), "events_replayed_at_start": self.replayed,
                "startup_s": round(self.startup_s, 2), "pins": len(self._titles), "pinners": len(self._known_pinners)}


def _load_vectors(sb, kind: str):
    from pinsandbox.embeddings import load_vectors

    for k in dict.fromkeys([kind, "proprietary", "off-the-shelf"]):
        try:
            v = load_vectors(k, sb)
            return v.pin_ids, v.vectors, v.artifact_id
        except NotFound:
            continue
    return None, None, None


def load_taste_graph(sb, catalog, pin_ids, vectors, progress):
    """(taste graph, where it came from, log sequence already folded into it)."""
    from pinsandbox.tastegraph import TasteGraph

    if hasattr(TasteGraph, "load") and sb.artifacts.exists("tastegraph", TASTE_GRAPH):
        taste = TasteGraph.load(sb, TASTE_GRAPH)
        art = sb.artifacts.read("tastegraph", TASTE_GRAPH, verify=False)
        return taste, art.id, int(art.manifest.get("event_log_seq", 0))
    # no snapshot: fit one on the catalog's training side, as the taste-graph stage would
    train = catalog.train_events()
    taste = TasteGraph().fit(train, None if vectors is None else (pin_ids, vectors), pins=catalog.pins["pin_id"])
    return taste, f"fitted at start on {catalog.artifact_id} (no tastegraph/{TASTE_GRAPH} artifact)", 0


def text_index(sb, catalog, progress) -> np.ndarray:
    """MiniLM vectors of every pin's title + description, cached per catalog version in the sandbox."""
    from pinsandbox.embeddings.features import encode_texts

    texts = (catalog.pins["title"].fillna("").astype(str) + ". " + catalog.pins["description"].fillna("").astype(str)).tolist()
    key = hashlib.sha256((catalog.artifact_id + "\n" + "\n".join(texts)).encode()).hexdigest()[:16]
    path = sb.path(f"serving/cache/text-{key}.npy")
    if path.exists():
        return np.load(path)
    vectors = encode_texts(texts, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


def _answer(text: str, pins: list[dict], table: pd.DataFrame) -> str:
    """One or two sentences a shopper can read: how many pins, what they mostly are, the price range."""
    if not pins:
        return f"I found nothing for “{text}”."
    rows = table.loc[[p["pin_id"] for p in pins]]
    parts = [f"{len(pins)} pins for “{text}”"]
    if "category" in rows:
        top = rows["category"].value_counts()
        parts.append(f"mostly {top.index[0]}" + (f" and {top.index[1]}" if len(top) > 1 else ""))
    if "price" in rows and rows["price"].notna().any():
        parts.append(f"from {rows['price'].min():.0f} to {rows['price'].max():.0f}")
    return re.sub(r"\s+", " ", ", ".join(parts)) + "."
