"""The Navigator task: a shopping request (text) and candidate pins in, the pins that answer it out.

Formulation (ranking): each request comes with `n_candidates` pins — the gold answers (up to `max_answers`)
plus hard negatives (same category other style, same style other category, same cell over budget) and random
pins — shuffled with a seeded generator. The model scores every candidate (see scoring.py); the loss is a
listwise softmax cross-entropy against a target spread evenly over the answers (candidates compete, as on a
results page), and the metric is recall@10: the share of a request's answers among its 10 best-scored
candidates. Random ranking gets 10 / n_candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.metrics import recall_at_k as shared_recall_at_k


@dataclass
class NavigatorExample:
    request_id: str
    text: str
    candidates: list[str]  # pin ids, in prompt order
    labels: np.ndarray  # bool, True where the candidate answers the request


@dataclass
class NavigatorTask:
    train: list[NavigatorExample]
    test: list[NavigatorExample]
    n_candidates: int

    @property
    def pin_ids(self) -> list[str]:
        return sorted({p for ex in self.train + self.test for p in ex.candidates})


def build_task(gold_navigator: pd.DataFrame, pins: pd.DataFrame, *, n_candidates: int = 24, max_answers: int = 4,
               max_train: int | None = None, max_test: int | None = None, seed: int = 0) -> NavigatorTask:
    """Candidate lists for the gold requests. `pins` needs pin_id, category and a `style` column
    (Pinworld keeps style in the ground truth: merge `pin_styles` in first) and price when present."""
    for col in ("pin_id", "category", "style"):
        if col not in pins.columns:
            raise InvalidInput(f"pins table needs a {col!r} column to draw Navigator candidates")
    if n_candidates < max_answers + 2:
        raise InvalidInput(f"n_candidates ({n_candidates}) must leave room for negatives beside {max_answers} answers")
    rng = np.random.default_rng(seed)
    ids = pins["pin_id"].astype(str).to_numpy()
    style, cat = pins["style"].to_numpy(), pins["category"].to_numpy()
    known = set(ids)
    out = {"train": [], "test": []}
    for row in gold_navigator.itertuples(index=False):
        answers = [p for p in row.answer_pin_ids if p in known]
        if not answers:
            continue
        answers = list(rng.permutation(answers)[:max_answers])
        taken = set(answers)
        pools = [ids[(cat == row.category) & (style != row.style)], ids[(style == row.style) & (cat != row.category)],
                 ids[(style == row.style) & (cat == row.category)], ids]  # the third: same cell, over budget
        negatives: list[str] = []
        share = [0.35, 0.25, 0.15, 1.0]
        need = n_candidates - len(answers)
        for pool, frac in zip(pools, share, strict=True):
            pool = [p for p in pool if p not in taken]
            k = min(len(pool), need - len(negatives) if frac == 1.0 else int(round(frac * need)))
            pick = list(rng.choice(pool, size=k, replace=False)) if k > 0 else []
            negatives += pick
            taken.update(pick)
        cands = np.array(answers + negatives[: need])
        order = rng.permutation(len(cands))
        labels = np.isin(cands[order], answers)
        split = row.split if row.split in out else "train"
        out[split].append(NavigatorExample(row.request_id, row.text, [str(c) for c in cands[order]], labels))
    if not out["train"] or not out["test"]:
        raise InvalidInput("the Navigator gold set needs train and test requests whose answers are in the catalog")
    return NavigatorTask(out["train"][:max_train], out["test"][:max_test], n_candidates)


def load_task(sandbox=None, only_pins=None, **options) -> NavigatorTask:
    """The Navigator task from a sandbox's catalog and Pinworld ground truth; `only_pins`: candidates drawn among
    these pins only (those every model compared has a vector for: pins published later have none in older ones)."""
    from pinsandbox.catalog import load_catalog, load_ground_truth

    catalog = load_catalog(sandbox)
    truth = load_ground_truth(sandbox)
    pins = catalog.pins.drop(columns=[c for c in ("style",) if c in catalog.pins.columns])
    if only_pins is not None:
        pins = pins[pins["pin_id"].astype(str).isin(set(np.asarray(only_pins).astype(str)))]
    pins = pins.merge(truth.pin_styles[["pin_id", "style"]], on="pin_id", how="left")
    return build_task(truth.gold_navigator, pins, **options)


class PinLookup:
    """pin_id -> row of a vector table, with one clear error for unknown ids."""

    def __init__(self, pin_ids, vectors: np.ndarray):
        self.pin_ids = np.asarray(pin_ids).astype(str)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.index = pd.Index(self.pin_ids)
        if len(self.index) != len(self.vectors):
            raise InvalidInput(f"{len(self.index)} pin ids but {len(self.vectors)} vectors")

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def rows(self, pin_ids) -> np.ndarray:
        pos = self.index.get_indexer(list(pin_ids))
        if (pos < 0).any():
            missing = [p for p, i in zip(pin_ids, pos, strict=True) if i < 0]
            raise NotFound(f"{len(missing)} pin id(s) have no vector: {missing[:5]}: embed them first "
                           "(run the embeddings stage on the current catalog)")
        return self.vectors[pos]


class ImageLookup:
    """pin_id -> RGB array (loaded once, resized to `side`), for the original model's vision tower."""

    def __init__(self, catalog, side: int):
        from PIL import Image

        self.side = side
        self.catalog = catalog
        self._cache: dict[str, np.ndarray] = {}
        self._Image = Image
        self._paths = dict(zip(catalog.pins["pin_id"].astype(str), catalog.pins["image"], strict=True))

    def get(self, pin_id: str) -> np.ndarray:
        if pin_id not in self._cache:
            if pin_id not in self._paths:
                raise NotFound(f"no pin {pin_id!r} in catalog {self.catalog.artifact_id}")
            rel = self._paths[pin_id]
            if rel is None or (isinstance(rel, float) and np.isnan(rel)):
                img = np.full((self.side, self.side, 3), 127, np.uint8)  # text-only pin: a grey square
            else:
                with self._Image.open(self.catalog.images_dir / rel) as im:
                    img = np.asarray(im.convert("RGB").resize((self.side, self.side), self._Image.BICUBIC))
            self._cache[pin_id] = img
        return self._cache[pin_id]

    def many(self, pin_ids) -> list[np.ndarray]:
        return [self.get(p) for p in pin_ids]


def recall_at_k(scores: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Recall@k of one request's candidates ranked by score (ties broken by candidate order)."""
    return shared_recall_at_k(np.argsort(-scores, kind="stable"), set(np.flatnonzero(labels)), k)
