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
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.sandbox.artifacts import atomic_file
from pinsandbox.schema import utc_timestamp
from pinsandbox.serving.eventlog import EventLog
from pinsandbox.serving.navigator import Navigator, NavigatorWorker, pin_card, pin_fields

TASTE_GRAPH = "taste-graph"  # tastegraph/<name> artifact the server starts from when it exists


@dataclass
class ServingConfig:
    cache_pinners: int = 50_000  # homefeeds kept in memory (least recently used dropped first)
    navigator_candidates: int = 24  # retrieved per request, then ranked (the vlm stage trains on 24)
    # Navigator requests waiting or running in the worker before one more gets 503: above the 50 clients of the
    # load test, so its mix never overflows; a real deployment would size it to its latency budget.
    navigator_queue: int = 64
    # Navigator's worker runs at this lower CPU priority: when both want a core, cached homefeeds, similar pins and
    # events (sub-millisecond) go first, and the one endpoint that costs tens of milliseconds waits.
    navigator_nice: int = 10
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
    log: EventLog
    nav: object  # Navigator in this process, or a NavigatorWorker process (what the server runs)
    config: ServingConfig = field(default_factory=ServingConfig)
    replayed: int = 0
    startup_s: float = 0.0
    warmed: bool = False

    def __post_init__(self):
        self._write = threading.Lock()  # log order = apply order, so a replay rebuilds exactly this state
        # One pinner's taste is updated and read under its stripe's lock (so a feed is never computed from a
        # half-applied event, nor cached after a newer event dropped it); different pinners proceed in parallel.
        self._stripes = [threading.Lock() for _ in range(64)]
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[str, list[str]] = OrderedDict()
        self._vec_row = pd.Index(self.pin_ids)
        self._titles, self._price_of = pin_fields(self.catalog.pins)
        self._known_pinners = set(self.catalog.events["pinner_id"].astype(str)) | set(self.taste.states)

    # -- loading --------------------------------------------------------------------------------------
    @classmethod
    def load(cls, sandbox=None, config: ServingConfig | None = None, progress: bool = False,
             navigator_worker: bool = False) -> ServingState:
        """Everything the API serves, from the sandbox's artifacts, with the event log replayed on top.
        `navigator_worker`: run Navigator in its own process (the server does), loading there while this loads."""
        from pinsandbox.catalog import load_catalog
        from pinsandbox.sandbox import resolve

        started = time.perf_counter()
        config = config or ServingConfig()
        sb = resolve(sandbox)
        nav = NavigatorWorker(sb, config.navigator_candidates, config.navigator_queue,
                              config.navigator_nice) if navigator_worker else None
        catalog = load_catalog(sb)
        from pinsandbox.embeddings import find_vectors

        found = find_vectors(sb, snapshot_vectors_kind(sb) or config.vectors)
        pin_ids, vectors, vectors_id = (found.pin_ids, found.vectors, found.artifact_id) if found else (None, None, None)
        taste, taste_source, replay_from = load_taste_graph(sb, catalog, pin_ids, vectors, progress)
        if vectors is None:  # vector-less sandbox: serve /similar from the taste graph's own pin embedding
            pin_ids, vectors, vectors_id = np.asarray(taste.pins), taste.vectors, f"{taste_source} (graph SVD)"
        log = EventLog(sb.path("serving/events.db"))
        nav = nav or Navigator.load(sb, catalog, config.navigator_candidates, progress)
        state = cls(sb, catalog, taste, taste_source, pin_ids, vectors, vectors_id, log, nav, config)
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
        return pin_card(pin_id, self._titles, self._price_of, score)

    def _stripe(self, pinner_id: str) -> threading.Lock:
        return self._stripes[hash(pinner_id) % len(self._stripes)]

    def _cached(self, pinner_id: str, k: int) -> list[str] | None:
        with self._cache_lock:
            feed = self._cache.get(pinner_id)
            if feed is not None and len(feed) >= k:
                self._cache.move_to_end(pinner_id)
                return feed
        return None

    def _feed(self, pinner_id: str, k: int) -> list[str]:
        feed = self._cached(pinner_id, k)
        if feed is not None:
            return feed
        with self._stripe(pinner_id):
            feed = self.taste.recommend(pinner_id, max(k, 25))
            with self._cache_lock:
                self._cache[pinner_id] = feed
                if len(self._cache) > self.config.cache_pinners:
                    self._cache.popitem(last=False)
        return feed

    def homefeed(self, pinner_id: str, k: int = 10) -> list[dict]:
        k = self._check_k(k)
        self.check_pinner(pinner_id)
        return [self.pin(p) for p in self._feed(pinner_id, k)[:k]]

    def cached_homefeed(self, pinner_id: str, k: int = 10) -> list[dict] | None:
        """The homefeed when it is precomputed (microseconds), else None: the caller computes it off its event loop."""
        k = self._check_k(k)
        self.check_pinner(pinner_id)
        feed = self._cached(pinner_id, k)
        return None if feed is None else [self.pin(p) for p in feed[:k]]

    def refresh(self, pinner_id: str) -> None:
        """Recompute a homefeed an event dropped, so the pinner's next read is a cache hit again."""
        self._feed(pinner_id, 10)

    def warm(self, limit: int | None = None) -> int:
        """Precompute homefeeds, most active pinners first (run in the background at start): afterwards a read
        is a cache hit until that pinner's next event. Returns how many it computed."""
        counts = self.catalog.train_events()["pinner_id"].astype(str).value_counts()
        done = 0
        for pinner in counts.index[:limit]:
            if pinner not in self._cache:
                self._feed(pinner, 10)
                done += 1
        self.warmed = True
        return done

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
        return self.nav.ask(text, self._check_k(k), max_price)

    # -- writes ---------------------------------------------------------------------------------------
    def record_event(self, event: dict) -> int:
        """Log the event durably, then apply it to the pinner's taste. Returns its sequence number.

        Checked before anything is written, so a refused event leaves no trace.
        """
        self.check_pin(event["pin_id"])
        ts = utc_timestamp(event["ts"], what="event ts") if event.get("ts") else pd.Timestamp.now(tz="UTC")
        event = {**event, "ts": ts.isoformat()}
        with self._write:
            seq = self.log.append(event)  # committed and fsync'ed: from here on the event survives a crash
            with self._stripe(event["pinner_id"]):
                self.taste.update({**event, "ts": ts})
                self._known_pinners.add(event["pinner_id"])
                with self._cache_lock:
                    self._cache.pop(event["pinner_id"], None)
        return seq

    def health(self) -> dict:
        return {"status": "ok", "sandbox": self.sandbox.owner, "catalog": self.catalog.artifact_id,
                "taste_graph": self.taste_source, "vectors": self.vectors_id, "ranker": self.nav.name,
                "events_logged": self.log.last_seq(), "events_replayed_at_start": self.replayed,
                "startup_s": round(self.startup_s, 2), "homefeeds_cached": len(self._cache), "warm": self.warmed,
                "pins": len(self._titles), "pinners": len(self._known_pinners)}


def snapshot_vectors_kind(sb) -> str | None:
    """The pin vectors the taste-graph snapshot was fitted on (its manifest's `embeddings/<kind>@…` input), so
    /similar and the homefeed read the same vectors; None without a snapshot or when it used graph embeddings."""
    if not sb.artifacts.exists("tastegraph", TASTE_GRAPH):
        return None
    for input_id in sb.artifacts.read("tastegraph", TASTE_GRAPH, verify=False).manifest.get("inputs", []):
        stage, _, rest = str(input_id).partition("/")
        if stage == "embeddings":
            return rest.split("@", 1)[0]
    return None


def load_taste_graph(sb, catalog, pin_ids, vectors, progress):
    """(taste graph, where it came from, log sequence already folded into it)."""
    from pinsandbox.tastegraph import TasteGraph

    if sb.artifacts.exists("tastegraph", TASTE_GRAPH):
        taste = TasteGraph.load(sb, TASTE_GRAPH)  # with the TasteGraphConfig saved in the snapshot
        art = sb.artifacts.read("tastegraph", TASTE_GRAPH, verify=False)
        return taste, art.id, int(art.manifest.get("event_log_seq", 0))
    # no snapshot: fit one on the catalog's training side, as the taste-graph stage would
    train = catalog.train_events()
    taste = TasteGraph().fit(train, None if vectors is None else (pin_ids, vectors), pins=catalog.pins["pin_id"])
    return taste, f"fitted at start on {catalog.artifact_id} (no tastegraph/{TASTE_GRAPH} artifact)", 0


def text_index(sb, catalog, progress) -> np.ndarray:
    """MiniLM vectors of every pin's title + description, cached per catalog version in the sandbox."""
    from pinsandbox.embeddings import encode_texts

    texts = (catalog.pins["title"].fillna("").astype(str) + ". " + catalog.pins["description"].fillna("").astype(str)).tolist()
    key = hashlib.sha256((catalog.artifact_id + "\n" + "\n".join(texts)).encode()).hexdigest()[:16]
    path = sb.path(f"serving/cache/text-{key}.npy")
    if path.exists():
        return np.load(path)
    vectors = encode_texts(texts, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        np.save(tmp, vectors)
    return vectors
