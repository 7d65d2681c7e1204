"""The variants compared everywhere in evaluation, each a full route from request to pins:

- `off-the-shelf`: generic embeddings (MiniLM text + generic image features), one taste vector per pinner,
  Navigator ranked by text retrieval alone — what a team gets without the blueprint;
- `proprietary`: the blueprint's embeddings with the same simple homefeed — isolates what the embeddings add;
- `blueprint`: proprietary embeddings + the taste graph (multi-interest, online) + the swapped VLM ranking
  Navigator's candidates from precomputed vectors (retrieval ranking when the sandbox has no such model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pinsandbox.errors import NotFound


@dataclass
class Variant:
    name: str
    description: str
    pin_ids: np.ndarray  # rows of `vectors`
    vectors: np.ndarray
    vectors_id: str
    feed: object  # fit/update/recommend/fork: the homefeed model
    ranker: object  # Navigator ranker (see pinsandbox.serving.ranker)


@dataclass
class Context:
    """What every evaluation reads once: the catalog, its truth, the training side and the text index."""

    catalog: object
    truth: object
    train: object  # events before the cutoff
    text_vectors: np.ndarray


def load_context(sandbox=None, progress: bool = False) -> Context:
    from pinsandbox.catalog import load_catalog, load_ground_truth
    from pinsandbox.sandbox import resolve
    from pinsandbox.serving.state import text_index

    sb = resolve(sandbox)
    catalog = load_catalog(sb)
    return Context(catalog, load_ground_truth(sb), catalog.train_events(), text_index(sb, catalog, progress))


def build_variants(context: Context, sandbox=None, names=("off-the-shelf", "proprietary", "blueprint")) -> dict[str, Variant]:
    from pinsandbox.embeddings import load_vectors
    from pinsandbox.evaluation.centroid import CentroidFeed
    from pinsandbox.sandbox import resolve
    from pinsandbox.serving.ranker import RetrievalRanker, load_ranker
    from pinsandbox.serving.state import load_taste_graph

    sb = resolve(sandbox)
    train, pins = context.train, context.catalog.pins["pin_id"]
    out = {}
    vecs = {}
    for kind in ("off-the-shelf", "proprietary"):
        try:
            vecs[kind] = load_vectors(kind, sb)
        except NotFound as e:
            raise NotFound(f"evaluation compares both vector sets, and this sandbox lacks one: {e}") from None
    text_only = RetrievalRanker("text retrieval only (the off-the-shelf route has no fine-tuned ranker)")
    for name in names:
        if name in ("off-the-shelf", "proprietary"):
            v = vecs[name]
            feed = CentroidFeed().fit(train, v.pin_ids, v.vectors)
            desc = f"{name} embeddings, one taste vector per pinner, Navigator by text retrieval"
            out[name] = Variant(name, desc, v.pin_ids, v.vectors, v.artifact_id, feed, text_only)
        elif name == "blueprint":
            v = vecs["proprietary"]
            taste, source, _ = load_taste_graph(sb, context.catalog, v.pin_ids, v.vectors, False)
            ranker = load_ranker(sb)
            desc = f"proprietary embeddings + taste graph ({source}) + Navigator ranked by {ranker.name}"
            out[name] = Variant(name, desc, v.pin_ids, v.vectors, v.artifact_id, taste, ranker)
        else:
            raise NotFound(f"unknown variant {name!r}: use off-the-shelf, proprietary or blueprint")
    return out
