"""The variants compared everywhere in evaluation, each a full route from request to pins:

- `off-the-shelf`: generic embeddings (MiniLM text + generic image features), one taste vector per pinner,
  Navigator ranked by text retrieval alone — what a team gets without the blueprint;
- `proprietary`: the blueprint's embeddings with the same simple homefeed — isolates what the embeddings add;
- `blueprint`: proprietary embeddings + the taste graph (multi-interest, online) + the swapped VLM ranking
  Navigator's candidates from precomputed vectors (retrieval ranking when the sandbox has no such model).

Built from the other stages' published artifacts through their public API only: `pinsandbox.embeddings`
(`load_vectors`) and `pinsandbox.serving` (`Navigator`, which loads the fine-tuned swapped VLM through
`pinsandbox.vlm.load_navigator` when the sandbox has one; `load_taste_graph`, the taste graph serving starts from).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.evaluation.config import VARIANTS


@dataclass
class Variant:
    name: str
    description: str
    pin_ids: np.ndarray  # rows of `vectors`
    vectors: np.ndarray
    vectors_id: str
    feed: object  # fit/update/recommend/fork: the homefeed model
    navigator: object  # answers a request: `.ask(text, k, max_price)` (a `pinsandbox.serving.Navigator`)


@dataclass
class Context:
    """What every evaluation reads once: the catalog, its ground truth and the training side."""

    catalog: object
    truth: object
    train: object  # events before the cutoff


class TextRetrievalOnly:
    """Navigator's ranker for the off-the-shelf route: keeps the MiniLM retrieval order (no fine-tuned model)."""

    name = "retrieval"
    reason = "text retrieval only (the off-the-shelf route has no fine-tuned ranker)"

    def score(self, text: str, pin_ids: list[str], retrieval_scores: np.ndarray) -> np.ndarray:
        return np.asarray(retrieval_scores, dtype=np.float32)


def load_context(sandbox=None) -> Context:
    from pinsandbox.catalog import load_catalog, load_ground_truth
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    catalog = load_catalog(sb)
    return Context(catalog, load_ground_truth(sb), catalog.train_events())


def load_both_vectors(sandbox) -> dict:
    """Both published vector sets (evaluation compares them), or NotFound naming the one missing."""
    from pinsandbox.embeddings import load_vectors

    out = {}
    for kind in ("off-the-shelf", "proprietary"):
        try:
            out[kind] = load_vectors(kind, sandbox)
        except NotFound as e:
            raise NotFound(f"evaluation compares both vector sets, and this sandbox lacks one: {e}") from None
    return out


def build_variants(context: Context, sandbox=None, names=VARIANTS, vectors: dict | None = None,
                   n_candidates: int = 24) -> dict[str, Variant]:
    from pinsandbox.evaluation.centroid import CentroidFeed
    from pinsandbox.sandbox import resolve
    from pinsandbox.serving import Navigator, load_taste_graph

    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise InvalidInput(f"unknown variant(s) {', '.join(map(repr, unknown))}: use {', '.join(VARIANTS)}")
    sb = resolve(sandbox)
    vecs = vectors or load_both_vectors(sb)
    catalog, train = context.catalog, context.train
    # one Navigator of the sandbox (its MiniLM text index, and the swapped VLM when there is one); the simple
    # routes reuse its text index with retrieval order only
    navigator = Navigator.load(sb, catalog, n_candidates=n_candidates)
    text_only = Navigator(catalog.pins, navigator.text_vectors, TextRetrievalOnly(), n_candidates)
    out = {}
    for name in names:
        if name in ("off-the-shelf", "proprietary"):
            v = vecs[name]
            feed = CentroidFeed().fit(train, v.pin_ids, v.vectors)
            desc = f"{name} embeddings, one taste vector per pinner, Navigator by text retrieval"
            out[name] = Variant(name, desc, v.pin_ids, v.vectors, v.artifact_id, feed, text_only)
        else:  # blueprint
            v = vecs["proprietary"]
            # the taste graph serving starts from: the published snapshot, else one fitted on the training side
            taste, source, _ = load_taste_graph(sb, catalog, v.pin_ids, v.vectors, False)
            desc = f"proprietary embeddings + taste graph ({source}) + Navigator ranked by {navigator.name}"
            out[name] = Variant(name, desc, v.pin_ids, v.vectors, v.artifact_id, taste, navigator)
    return out

