"""What the server holds for one sandbox: catalog, pin vectors, the taste graph, Navigator's text index, the log.

    state = ServingState.load("alice")      # taste-graph snapshot (or a fresh fit) + replay of the event log
    state.swap()                            # serve the sandbox's new champion (after a promotion or rollback)
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
from pinsandbox.serving.navigator import Navigator, NavigatorWorker, navigator_ids, pin_card, pin_fields

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
    watch_s: float = 0.25  # how often the server looks for a new champion (two symlink reads)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


@dataclass
class Champion:
    """Everything a promotion changes, built whole before it is served: the catalog, the pin vectors, the taste
    graph with the event log replayed on top, and the homefeeds cached from it. A request reads
    `state.champion` once and finishes on that object, so a swap never mixes two models in one answer."""

    catalog: object
    taste: object  # pinsandbox.tastegraph.TasteGraph
    taste_source: str  # artifact id it was loaded from, or how it was fitted
    pin_ids: np.ndarray  # row order of `vectors`
    vectors: np.ndarray
    vectors_id: str
    ids: dict  # the champion artifacts it was built from (role -> id): what the watcher compares
    content: str  # digest of those artifacts' files (champion_content): a rollback brings back the same content
    applied_seq: int = 0  # the event log is folded in up to this sequence number
    replayed: int = 0  # logged events replayed over the snapshot when it was built
    skipped: int = 0  # logged events on pins this champion's catalog lacks (see catch_up)
    warmed: bool = False

    def __post_init__(self):
        self.cache_lock = threading.Lock()
        self.cache: OrderedDict[str, list[str]] = OrderedDict()
        self.vec_row = pd.Index(self.pin_ids)
        self.titles, self.price_of = pin_fields(self.catalog.pins)
        self.known_pinners = set(self.catalog.events["pinner_id"].astype(str)) | set(self.taste.states)

    @classmethod
    def load(cls, sb, config: ServingConfig, log: EventLog, progress: bool = False) -> Champion:
        """From the sandbox's current artifacts, with every logged event the snapshot does not hold replayed."""
        from pinsandbox.catalog import load_catalog
        from pinsandbox.embeddings import find_vectors

        catalog = load_catalog(sb)
        kind = snapshot_vectors_kind(sb) or config.vectors
        found = find_vectors(sb, kind)
        pin_ids, vectors, vectors_id = (found.pin_ids, found.vectors, found.artifact_id) if found else (None, None, None)
        taste, taste_source, replay_from = load_taste_graph(sb, catalog, pin_ids, vectors, progress)
        if vectors is None:  # vector-less sandbox: serve /similar from the taste graph's own pin embedding
            pin_ids, vectors, vectors_id = np.asarray(taste.pins), taste.vectors, f"{taste_source} (graph SVD)"
        ids = {"tastegraph": getattr(taste, "artifact_id", None), "vectors": found.artifact_id if found else None}
        champion = cls(catalog, taste, taste_source, pin_ids, vectors, vectors_id, ids, champion_content(sb, ids),
                       replay_from)
        champion.replayed = champion.catch_up(log)
        return champion

    @classmethod
    def revive(cls, old: Champion, sb, ids: dict, log: EventLog) -> Champion:
        """A champion served before (a rollback republishes its files under new ids), from the model still in
        memory: its taste graph caught up with every event logged since it was swapped out (the same events in
        the same order as a fresh load replays), the current catalog, the new ids. No refit: a rollback is
        visible in well under a second instead of a full build."""
        from pinsandbox.catalog import load_catalog

        champion = cls(load_catalog(sb), old.taste, ids["tastegraph"] or old.taste_source, old.pin_ids, old.vectors,
                       ids["vectors"] or old.vectors_id, ids, old.content, old.applied_seq, old.replayed, old.skipped)
        champion.catch_up(log)
        return champion

    def catch_up(self, log: EventLog) -> int:
        """Apply the events logged after `applied_seq`; returns how many were applied. An event on a pin this champion's catalog
        lacks was accepted under another champion (a rollback goes back to a catalog older than pins people have
        since engaged with): it is skipped and counted, as the door refuses such a pin, not left to stop the load."""
        events = log.since(self.applied_seq)
        if not len(events):
            return 0
        known = events["pin_id"].astype(str).isin(self.taste.pins)
        self.skipped += int((~known).sum())
        for ev in events[known].to_dict("records"):
            self.taste.update(ev)
            self.known_pinners.add(ev["pinner_id"])
        self.applied_seq = int(events["seq"].iloc[-1])
        return int(known.sum())


def champion_content(sb, ids: dict) -> str:
    """One digest of the files (the manifests' sha256s) of the champion artifacts named in `ids`."""
    digest = hashlib.sha256()
    for role in sorted(ids):
        if ids[role] is None or "@" not in ids[role]:
            digest.update(f"{role}:none\n".encode())
            continue
        stage, name = ids[role].split("@", 1)[0].split("/", 1)
        files = sb.artifacts.read(stage, name, verify=False).manifest.get("files", {})
        digest.update(f"{role}:{sorted((f, v['sha256']) for f, v in files.items())}\n".encode())
    return digest.hexdigest()


def champion_ids(sb, config: ServingConfig) -> dict:
    """The champion artifacts a fresh load would serve now (role -> id): two link reads, cheap enough to poll."""
    kind = snapshot_vectors_kind(sb) or config.vectors
    return {"tastegraph": sb.artifacts.current_id("tastegraph", TASTE_GRAPH),
            "vectors": sb.artifacts.current_id("embeddings", kind)}


@dataclass
class ServingState:
    sandbox: object
    champion: Champion  # swapped whole by `swap`; never changed in place but by logged events
    log: EventLog
    nav: object  # Navigator in this process, or a NavigatorWorker process (what the server runs)
    config: ServingConfig = field(default_factory=ServingConfig)
    replayed: int = 0
    startup_s: float = 0.0

    def __post_init__(self):
        self._write = threading.Lock()  # log order = apply order, so a replay rebuilds exactly this state
        # One pinner's taste is updated and read under its stripe's lock (so a feed is never computed from a
        # half-applied event, nor cached after a newer event dropped it); different pinners proceed in parallel.
        self._stripes = [threading.Lock() for _ in range(64)]
        self.swaps: list[dict] = []  # every champion swap: ids, when, how long the build took
        self.previous: Champion | None = None  # the champion swapped out last, kept for an instant rollback
        self.navigator_swaps: list[dict] = []  # every Navigator swap (a promotion changed its model or vectors)
        self._navigator_failed: dict | None = None  # navigator ids that failed to load: not retried until they change

    # what the current champion serves (read-only views, for callers and tests)
    catalog = property(lambda self: self.champion.catalog)
    taste = property(lambda self: self.champion.taste)
    taste_source = property(lambda self: self.champion.taste_source)
    pin_ids = property(lambda self: self.champion.pin_ids)
    vectors = property(lambda self: self.champion.vectors)
    vectors_id = property(lambda self: self.champion.vectors_id)
    warmed = property(lambda self: self.champion.warmed)

    # -- loading --------------------------------------------------------------------------------------
    @classmethod
    def load(cls, sandbox=None, config: ServingConfig | None = None, progress: bool = False,
             navigator_worker: bool = False) -> ServingState:
        """Everything the API serves, from the sandbox's artifacts, with the event log replayed on top.
        `navigator_worker`: run Navigator in its own process (the server does), loading there while this loads."""
        from pinsandbox.sandbox import resolve

        started = time.perf_counter()
        config = config or ServingConfig()
        sb = resolve(sandbox)
        nav = NavigatorWorker(sb, config.navigator_candidates, config.navigator_queue,
                              config.navigator_nice) if navigator_worker else None
        log = EventLog(sb.path("serving/events.db"))
        champion = Champion.load(sb, config, log, progress)
        nav = nav or Navigator.load(sb, champion.catalog, config.navigator_candidates, progress)
        state = cls(sb, champion, log, nav, config, replayed=champion.replayed)
        state.startup_s = time.perf_counter() - started
        return state

    def swap(self, progress: bool = False) -> dict:
        """Build the sandbox's current champion off the request path, catch it up with the events logged while it
        was built, and serve it: one reference assignment. Requests already running finish on the old one."""
        started = time.perf_counter()
        ids, prev = champion_ids(self.sandbox, self.config), self.previous
        revived = prev is not None and prev.content == champion_content(self.sandbox, ids)
        new = (Champion.revive(prev, self.sandbox, ids, self.log) if revived
               else Champion.load(self.sandbox, self.config, self.log, progress))
        built_s = time.perf_counter() - started
        with self._write:  # no event is logged between the catch-up and the swap, so none is lost to the new model
            new.catch_up(self.log)
            old, self.champion = self.champion, new
        with old.cache_lock:
            old.cache.clear()  # its homefeeds go stale with the first event it no longer gets
        self.previous = old
        entry = {"from": old.ids, "to": new.ids, "at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
                 "build_s": round(built_s, 3), "revived": revived}
        self.swaps.append(entry)
        return entry

    def swap_navigator(self) -> dict:
        """Load the champion's Navigator off the request path — in a new worker process when the server runs one —
        then serve it: one reference assignment. The old one answers the requests it already holds, then stops."""
        started = time.perf_counter()
        c = self.config
        new = (NavigatorWorker(self.sandbox, c.navigator_candidates, c.navigator_queue, c.navigator_nice)
               if isinstance(self.nav, NavigatorWorker) else Navigator.load(self.sandbox, n_candidates=c.navigator_candidates))
        try:
            to = new.ids  # a worker: waits until its process has loaded (raises if it died doing so)
        except Exception:
            new.close()
            raise
        old, self.nav = self.nav, new
        entry = {"from": old.ids, "to": to, "at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
                 "build_s": round(time.perf_counter() - started, 3)}
        old.close(finish_pending=True)
        self.navigator_swaps.append(entry)
        return entry

    def _follow_navigator(self) -> None:
        import sys

        try:
            entry = self.swap_navigator()
        except Exception as exc:  # noqa: BLE001 (the old Navigator keeps serving)
            self._navigator_failed = navigator_ids(self.sandbox)
            print(f"pinsandbox serve: new Navigator {self._navigator_failed} not served ({type(exc).__name__}: "
                  f"{exc}); still serving {self.nav.ids}", file=sys.stderr, flush=True)
            return
        print(f"pinsandbox serve: Navigator now serves {entry['to']} (loaded in {entry['build_s']:.2f} s)",
              file=sys.stderr, flush=True)

    def watch(self, stop: threading.Event | None = None) -> None:
        """Follow promotions and rollbacks until `stop` is set (the server runs this in a thread): when the
        champion's artifacts change, wait for the promotion to finish writing, swap, then warm the new homefeeds
        in the background; when Navigator's model or vectors change, load the new Navigator in a thread of its own
        (it takes longer) and swap it too. What fails to load is reported and skipped; the old one keeps serving."""
        import sys

        from pinsandbox.loop.promotion import settled

        stop = stop or threading.Event()
        failed, navigator_loading = None, None
        while not stop.wait(self.config.watch_s):
            nav_ids = navigator_ids(self.sandbox)
            if (self.nav.loaded and nav_ids != self.nav.ids and nav_ids != self._navigator_failed
                    and not (navigator_loading and navigator_loading.is_alive())):
                navigator_loading = threading.Thread(target=self._follow_navigator, name="swap-navigator", daemon=True)
                navigator_loading.start()
            ids = champion_ids(self.sandbox, self.config)
            if ids == self.champion.ids or ids == failed:
                continue
            try:
                with settled(self.sandbox):  # a promotion swaps two links: never load one old and one new
                    entry = self.swap()
            except Exception as exc:  # noqa: BLE001 (any failure to build leaves the old champion serving)
                failed = ids
                print(f"pinsandbox serve: new champion {ids} not served ({type(exc).__name__}: {exc}); "
                      f"still serving {self.champion.ids}", file=sys.stderr, flush=True)
                continue
            print(f"pinsandbox serve: now serving {entry['to']} (built in {entry['build_s']:.2f} s)",
                  file=sys.stderr, flush=True)
            threading.Thread(target=self.warm, name="warm-homefeeds", daemon=True).start()

    # -- reads ----------------------------------------------------------------------------------------
    def check_pin(self, pin_id: str, champion: Champion | None = None) -> None:
        c = champion or self.champion
        if pin_id not in c.titles:
            raise NotFound(f"no pin {pin_id!r} in catalog {c.catalog.artifact_id}: use a pin_id from its pins table")

    def check_pinner(self, pinner_id: str, champion: Champion | None = None) -> None:
        if pinner_id not in (champion or self.champion).known_pinners:
            raise NotFound(f"no pinner {pinner_id!r} in sandbox {self.sandbox.owner!r}: use a pinner_id from the catalog's "
                           "events, or POST /events for them first (a newcomer gets a profile with their first event)")

    def _check_k(self, k: int) -> int:
        if not 1 <= int(k) <= self.config.max_k:
            raise InvalidInput(f"k must be between 1 and {self.config.max_k}, got {k}")
        return int(k)

    def pin(self, pin_id: str, score: float | None = None, champion: Champion | None = None) -> dict:
        c = champion or self.champion
        return pin_card(pin_id, c.titles, c.price_of, score)

    def _stripe(self, pinner_id: str) -> threading.Lock:
        return self._stripes[hash(pinner_id) % len(self._stripes)]

    @staticmethod
    def _cached(c: Champion, pinner_id: str, k: int) -> list[str] | None:
        with c.cache_lock:
            feed = c.cache.get(pinner_id)
            if feed is not None and len(feed) >= k:
                c.cache.move_to_end(pinner_id)
                return feed
        return None

    def _feed(self, c: Champion, pinner_id: str, k: int) -> list[str]:
        feed = self._cached(c, pinner_id, k)
        if feed is not None:
            return feed
        with self._stripe(pinner_id):
            feed = c.taste.recommend(pinner_id, max(k, 25))
            with c.cache_lock:
                c.cache[pinner_id] = feed
                if len(c.cache) > self.config.cache_pinners:
                    c.cache.popitem(last=False)
        return feed

    def homefeed(self, pinner_id: str, k: int = 10) -> list[dict]:
        k, c = self._check_k(k), self.champion
        self.check_pinner(pinner_id, c)
        return [self.pin(p, champion=c) for p in self._feed(c, pinner_id, k)[:k]]

    def cached_homefeed(self, pinner_id: str, k: int = 10) -> list[dict] | None:
        """The homefeed when it is precomputed (microseconds), else None: the caller computes it off its event loop."""
        k, c = self._check_k(k), self.champion
        self.check_pinner(pinner_id, c)
        feed = self._cached(c, pinner_id, k)
        return None if feed is None else [self.pin(p, champion=c) for p in feed[:k]]

    def refresh(self, pinner_id: str) -> None:
        """Recompute a homefeed an event dropped, so the pinner's next read is a cache hit again."""
        self._feed(self.champion, pinner_id, 10)

    def warm(self, limit: int | None = None) -> int:
        """Precompute the current champion's homefeeds, most active pinners first (run in the background at start
        and after a swap): afterwards a read is a cache hit until that pinner's next event. Returns how many."""
        c = self.champion
        counts = c.catalog.train_events()["pinner_id"].astype(str).value_counts()
        done = 0
        for pinner in counts.index[:limit]:
            if c is not self.champion:  # swapped meanwhile: the new champion gets its own warm-up
                return done
            if pinner not in c.cache:
                self._feed(c, pinner, 10)
                done += 1
        c.warmed = True
        return done

    def similar(self, pin_id: str, k: int = 10, champion: Champion | None = None) -> list[dict]:
        """The pins nearest `pin_id` in the champion's vectors (the current one unless given)."""
        k, c = self._check_k(k), champion or self.champion
        self.check_pin(pin_id, c)
        row = c.vec_row.get_indexer([pin_id])[0]
        if row < 0:
            raise NotFound(f"pin {pin_id!r} has no vector in {c.vectors_id}: re-run the embeddings stage")
        scores = c.vectors @ c.vectors[row]
        scores[row] = -np.inf
        top = np.argpartition(-scores, k)[:k] if k < len(scores) - 1 else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")][:k]
        return [self.pin(c.pin_ids[i], scores[i], c) for i in top if np.isfinite(scores[i])]

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
            c = self.champion  # a swap waits for this lock, so the champion applying it is the one serving it
            with self._stripe(event["pinner_id"]):
                c.taste.update({**event, "ts": ts})
                c.known_pinners.add(event["pinner_id"])
                c.applied_seq = seq
                with c.cache_lock:
                    c.cache.pop(event["pinner_id"], None)
        return seq

    def health(self) -> dict:
        c = self.champion
        return {"status": "ok", "sandbox": self.sandbox.owner, "catalog": c.catalog.artifact_id,
                "taste_graph": c.taste_source, "vectors": c.vectors_id, "ranker": self.nav.name if self.nav.loaded else None,
                # what is served now, role -> artifact id (a full retrain's promotion also changes the Navigator)
                "champion": {**c.ids, **({"navigator": self.nav.ids["navigator"]} if self.nav.loaded else {})},
                "champion_swaps": len(self.swaps), "last_swap": self.swaps[-1] if self.swaps else None,
                "navigator": self.nav.ids if self.nav.loaded else None, "navigator_swaps": len(self.navigator_swaps),
                "events_logged": self.log.last_seq(), "events_applied": c.applied_seq, "events_replayed_at_start": self.replayed,
                "events_skipped": c.skipped,
                "startup_s": round(self.startup_s, 2), "homefeeds_cached": len(c.cache), "warm": c.warmed,
                "pins": len(c.titles), "pinners": len(c.known_pinners)}


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
