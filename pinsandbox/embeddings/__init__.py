"""Stage 1 — proprietary pin embeddings (PinCLIP-style encoder), the off-the-shelf baseline, FAISS indexes.

    from pinsandbox.embeddings import fit_and_publish, load_vectors, similar_pins
    result = fit_and_publish("alice")           # train, precompute, index, evaluate, publish
    vecs = load_vectors("proprietary", "alice")  # PinVectors(pin_ids, vectors, artifact_id, dim)
    similar_pins("p00042", k=10, sandbox="alice")

Heavy libraries (torch, faiss) load when a function that needs them runs.
"""

from pinsandbox.embeddings.config import EmbeddingsConfig, TrainConfig
from pinsandbox.embeddings.pipeline import (
    KINDS,
    EmbeddingsResult,
    PinVectors,
    evaluate_vectors,
    find_vectors,
    fit_and_publish,
    load_encoder,
    load_index,
    load_vectors,
    similar_pins,
)

__all__ = ["KINDS", "EmbeddingsConfig", "EmbeddingsResult", "PinVectors", "TrainConfig", "evaluate_vectors",
           "find_vectors", "fit_and_publish", "load_encoder", "load_index", "load_vectors", "similar_pins"]
