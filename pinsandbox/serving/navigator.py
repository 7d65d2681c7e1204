"""Navigator: retrieve candidates by MiniLM text similarity, then let the ranker order them, then a short answer.
`retrieve_and_rank` is shared with the gold-set evaluation.

What a request states is a hard constraint on what comes back (`parse_request`): a price limit, however it is
written ("under $100", "less than one hundred dollars", "below 80 bucks", "$90 or less": `voice.numbers.budget`,
the one budget reader), and a category named in it ("lamps", "floor lamp", "couches" — the catalog's category
names and their plurals, plus Pinworld's synonyms). Only pins that satisfy both are candidates at all. Style is
left soft: it leads through the retrieval and the ranker, never removes a pin.

The server runs Navigator in its own worker process (`NavigatorWorker`): a request costs tens of milliseconds of
CPU (MiniLM encode + the swapped VLM over the candidates), and inside the server process that CPU would hold the
GIL the event loop needs, so every cached homefeed would queue behind it. In the worker it queues only behind
other Navigator requests.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput, PinsandboxError
from pinsandbox.voice.numbers import budget, say_prices


def retrieve_and_rank(query: np.ndarray, text_vectors: np.ndarray, pin_ids: np.ndarray, ranker, text: str, *,
                      n_candidates: int = 24, k: int = 8, prices: np.ndarray | None = None,
                      max_price: float | None = None,
                      allowed: np.ndarray | None = None) -> tuple[list[str], np.ndarray, int]:
    """(top-k pin ids best first, their ranker scores, how many candidates were ranked). Only pins within
    `max_price` and, when given, with `allowed` True are ever candidates."""
    scores = text_vectors @ query
    if max_price is not None and prices is not None:
        scores = np.where(prices <= max_price, scores, -np.inf)
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    n = min(n_candidates, int(np.isfinite(scores).sum()))
    if n == 0:
        return [], np.zeros(0, np.float32), 0
    cand = np.argpartition(-scores, n - 1)[:n]
    cand = cand[np.argsort(-scores[cand], kind="stable")]
    cand_ids = pin_ids[cand].astype(str)
    ranked = np.asarray(ranker.score(text, list(cand_ids), scores[cand]), dtype=np.float32)
    order = np.argsort(-ranked, kind="stable")[:k]
    return cand_ids[order].tolist(), ranked[order], n


@dataclass
class Constraints:
    """The hard constraints a request states (None: it states none)."""

    max_price: float | None = None
    category: str | None = None

    def as_dict(self) -> dict:
        return {"max_price": self.max_price, "category": self.category}


def category_phrases(categories) -> list[tuple[str, str]]:
    """(phrase, category) pairs a request may name a category by, longest phrase first ("table lamp" is a lamp
    before "table" is a table): each category's name and plural, plus Pinworld's synonyms for its categories."""
    from pinsandbox.catalog import vocab

    phrases: dict[str, str] = {}
    for cat in sorted({str(c) for c in categories}):
        for word in [cat, *vocab.CATEGORY_SYNONYMS.get(cat, [])]:
            word = word.lower()
            for form in (word, word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")):
                phrases.setdefault(form, cat)
    return sorted(phrases.items(), key=lambda p: (-len(p[0]), p[0]))


def parse_request(text: str, phrases: list[tuple[str, str]]) -> Constraints:
    """The price limit and the category `text` states. With `phrases` from `category_phrases`."""
    lowered = text.lower()
    category = None
    for phrase, cat in phrases:
        if re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", lowered):
            category = cat
            break
    return Constraints(max_price=budget(text), category=category)


def pin_fields(pins: pd.DataFrame) -> tuple[dict, dict | None]:
    """(pin_id → title, pin_id → price or None when the catalog has no prices): what a pin card shows."""
    pins = pins.set_index("pin_id", drop=False)
    titles = pins["title"].astype(str).to_dict()
    return titles, (pins["price"].astype(float).to_dict() if "price" in pins else None)


def pin_card(pin_id: str, titles: dict, price_of: dict | None, score: float | None = None) -> dict:
    """A pin as the API returns it."""
    out = {"pin_id": pin_id, "title": titles[pin_id]}
    if price_of is not None:
        out["price"] = price_of[pin_id]
    if score is not None:
        out["score"] = round(float(score), 5)
    return out


# The ways a held-out request's price limit is written for the constraint check: as the gold set writes it, in
# words ("one hundred twenty dollars", as the voice gold set says it), and as digits with "bucks".
PHRASINGS = {
    "written": lambda text: text,
    "in words": say_prices,
    "bucks": lambda text: re.sub(r"\$\s*(\d+)", r"\1 bucks", text),
}


def constraint_violations(navigator, requests: pd.DataFrame, k: int = 8) -> dict:
    """Share of returned pins that break what each request states (its gold `max_price` and `category`, the truth,
    not what the parser read), over `requests` in each of PHRASINGS; also how often the parser read the stated
    limit and category exactly."""
    out = {}
    for name, phrase in PHRASINGS.items():
        returned = bad_price = bad_category = read_right = 0
        for row in requests.itertuples(index=False):
            text = phrase(row.text)
            answer = navigator.ask(text, k)
            read = answer["constraints"]
            read_right += read["max_price"] == row.max_price and read["category"] == row.category
            for pin in answer["pins"]:
                returned += 1
                bad_price += navigator.price_of is not None and navigator.price_of[pin["pin_id"]] > row.max_price
                bad_category += navigator.pins.at[pin["pin_id"], "category"] != row.category
        out[name] = {"requests": len(requests), "returned_pins": returned,
                     "price_violations": bad_price / max(returned, 1),
                     "category_violations": bad_category / max(returned, 1),
                     "constraints_read": read_right / max(len(requests), 1)}
    return out


class NavigatorBusy(PinsandboxError):
    """Navigator's queue is full: the API answers 503 with Retry-After."""


class Navigator:
    """Navigator in this process: the catalog's pins, their MiniLM text index and the ranker."""

    def __init__(self, pins: pd.DataFrame, text_vectors: np.ndarray, ranker, n_candidates: int = 24, writer=None,
                 ids: dict | None = None):
        self.ids = ids or {}  # the champion artifacts it was loaded from (navigator_ids): what the watcher compares
        self.pins = pins.set_index("pin_id", drop=False)
        self.pin_ids = self.pins["pin_id"].to_numpy()
        self.text_vectors, self.ranker, self.n_candidates = text_vectors, ranker, n_candidates
        self.prices = self.pins["price"].astype(float).to_numpy() if "price" in self.pins else None
        self.titles, self.price_of = pin_fields(pins)
        self.categories = self.pins["category"].astype(str).to_numpy() if "category" in self.pins else None
        self.phrases = category_phrases(self.categories) if self.categories is not None else []
        self.name, self.reason = ranker.name, ranker.reason
        self.writer = writer  # a vlm.reply.ReplyWriter (replies by the pretrained model), or None (the template)

    @classmethod
    def load(cls, sandbox, catalog=None, n_candidates: int = 24, progress: bool = False,
             replies: bool | None = None) -> Navigator:
        """`replies`: written by the pretrained language model (True), by the template (False), or (None) by the
        model exactly when the sandbox's fine-tuned Navigator was trained on a pretrained preset."""
        from pinsandbox.catalog import load_catalog
        from pinsandbox.sandbox import resolve
        from pinsandbox.serving.ranker import load_ranker
        from pinsandbox.serving.state import text_index

        sb = resolve(sandbox)
        ids = navigator_ids(sb)  # read before loading: a promotion meanwhile is seen as a change, never missed
        catalog = catalog if catalog is not None else load_catalog(sb)
        ranker = load_ranker(sb)
        if replies is None:
            from pinsandbox.vlm.pretrained import is_pretrained_source

            navigator = getattr(ranker, "navigator", None)
            replies = navigator is not None and is_pretrained_source(navigator.config.preset)
        writer = None
        if replies:
            from pinsandbox.vlm.reply import ReplyWriter

            writer = ReplyWriter()
        rankable = ranker.can_rank(catalog.pins["pin_id"].to_numpy())
        return cls(catalog.pins[rankable], text_index(sb, catalog, progress)[rankable], ranker, n_candidates, writer,
                   ids)

    def constraints(self, text: str, max_price: float | None = None) -> Constraints:
        """What `text` states (`max_price`, when given, overrides the price limit it states)."""
        stated = parse_request(text, self.phrases)
        return Constraints(max_price if max_price is not None else stated.max_price, stated.category)

    def ask(self, text: str, k: int = 8, max_price: float | None = None) -> dict:
        """Request text → its hard constraints → MiniLM retrieval of the candidates that meet them → the ranker
        orders them → pins + a short answer."""
        from pinsandbox.embeddings import encode_texts

        text = text.strip()
        if not text:
            raise InvalidInput("navigator text is empty: describe what you are looking for")
        limits = self.constraints(text, max_price)
        allowed = self.categories == limits.category if limits.category is not None else None
        query = encode_texts([text], progress=False)[0]
        ids, scores, n = retrieve_and_rank(query, self.text_vectors, self.pin_ids, self.ranker, text,
                                           n_candidates=self.n_candidates, k=k, prices=self.prices,
                                           max_price=limits.max_price, allowed=allowed)
        pins = [pin_card(p, self.titles, self.price_of, s) for p, s in zip(ids, scores, strict=True)]
        out = {"ranker": self.name, "ranker_note": self.reason, "candidates": n, "constraints": limits.as_dict(),
               "answer_by": "template" if self.writer is None else "smollm2-135m"}
        if not pins:
            wanted = ", ".join(([limits.category] if limits.category else []) + (
                [f"under {limits.max_price:g}"] if limits.max_price is not None else []))
            return {"pins": [], "answer": f"Nothing in the catalog fits “{text}”" + (f" ({wanted})." if wanted else "."),
                    **out}
        answer = (_answer(text, pins, self.pins.loc[ids]) if self.writer is None
                  else self.writer.reply(text, pins, self.titles))
        return {"pins": pins, "answer": answer, **out}

    async def ask_async(self, text: str, k: int = 8, max_price: float | None = None) -> dict:
        return await asyncio.to_thread(self.ask, text, k, max_price)

    loaded = True  # (a NavigatorWorker is not until its process has loaded)

    def close(self, finish_pending: bool = False) -> None:
        pass


def navigator_ids(sb) -> dict:
    """The champion artifacts Navigator serves from: the fine-tuned Navigator and the pin vectors it ranks with
    (None where the sandbox has none). Two link reads, cheap enough to poll."""
    from pinsandbox.vlm.adapter import ADAPTER_NAME, ADAPTER_STAGE, ADAPTER_VECTORS

    current = lambda stage, name: sb.artifacts.current_id(stage, name) if sb.artifacts.exists(stage, name) else None  # noqa: E731
    return {"navigator": current(ADAPTER_STAGE, ADAPTER_NAME), "navigator_vectors": current("embeddings", ADAPTER_VECTORS)}


_WORKER: Navigator | None = None  # the worker process's own Navigator, loaded once


def _load_in_worker(sandbox_root: str, n_candidates: int, nice: int) -> None:
    from pathlib import Path

    from pinsandbox.sandbox import Sandbox
    from pinsandbox.serving.server import one_thread_per_operation

    global _WORKER
    _exit_with_parent(os.getppid())
    one_thread_per_operation()  # a request's tensors are tiny, and the server and its clients need the other core
    if nice:
        os.nice(nice)  # the fast endpoints' process wins the CPU when both want it; Navigator may be slower
    _WORKER = Navigator.load(Sandbox(Path(sandbox_root)), n_candidates=n_candidates)


def _exit_with_parent(parent: int, every_s: float = 1.0) -> None:
    """Exit when the process that spawned this worker is gone. A SIGKILLed server runs no shutdown, and the
    spawned worker holds both ends of its own call queue, so it would otherwise wait for work forever."""
    def watch():
        while os.getppid() == parent:  # re-parented (to init or a subreaper) once the parent has died
            time.sleep(every_s)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _describe() -> tuple[str, str, dict]:
    return _WORKER.name, _WORKER.reason, _WORKER.ids


def _ask(text: str, k: int, max_price: float | None) -> dict:
    return _WORKER.ask(text, k, max_price)


class NavigatorWorker:
    """Navigator in one separate process (spawned, loaded once), with at most `queue` requests waiting or running;
    one more is refused with `NavigatorBusy` rather than queued without bound."""

    def __init__(self, sandbox, n_candidates: int = 24, queue: int = 64, nice: int = 0):
        import multiprocessing

        from pinsandbox.sandbox import resolve

        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_load_in_worker,
                                         initargs=(str(resolve(sandbox).root), n_candidates, nice))
        self.queue, self._waiting = queue, 0
        self._ready = self._pool.submit(_describe)  # starts the worker now: it loads while the server does

    @property
    def name(self) -> str:
        return self._described()[0]

    @property
    def reason(self) -> str:
        return self._described()[1]

    @property
    def loaded(self) -> bool:
        return self._ready.done()

    @property
    def ids(self) -> dict:
        """The champion artifacts the worker loaded (waits until it has)."""
        return self._described()[2]

    def _described(self) -> tuple[str, str, dict]:
        try:
            return self._ready.result()
        except BrokenProcessPool:
            raise PinsandboxError("the Navigator worker process died while loading: its traceback is in the "
                                  "server's log just above") from None

    def ask(self, text: str, k: int = 8, max_price: float | None = None) -> dict:
        return self._pool.submit(_ask, text, k, max_price).result()

    async def ask_async(self, text: str, k: int = 8, max_price: float | None = None) -> dict:
        if self._waiting >= self.queue:  # only the event loop's thread counts, so no lock is needed
            raise NavigatorBusy(f"navigator has {self._waiting} requests in hand: retry in a second")
        self._waiting += 1
        try:
            return await asyncio.wrap_future(self._pool.submit(_ask, text, k, max_price))
        finally:
            self._waiting -= 1

    def close(self, finish_pending: bool = False) -> None:
        """Stop the worker; `finish_pending`: after answering the requests already queued (a Navigator swap)."""
        self._pool.shutdown(wait=False, cancel_futures=not finish_pending)


def _answer(text: str, pins: list[dict], rows: pd.DataFrame) -> str:
    """One or two sentences a shopper can read: how many pins, what they mostly are, the price range."""
    parts = [f"{len(pins)} pins for “{text}”"]
    if "category" in rows:
        top = rows["category"].value_counts()
        parts.append(f"mostly {top.index[0]}" + (f" and {top.index[1]}" if len(top) > 1 else ""))
    if "price" in rows and rows["price"].notna().any():
        parts.append(f"from {rows['price'].min():.0f} to {rows['price'].max():.0f}")
    return re.sub(r"\s+", " ", ", ".join(parts)) + "."
