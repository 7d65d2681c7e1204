"""Stage 1 — proprietary pin embeddings (PinCLIP-style encoder), the off-the-shelf baseline, FAISS indexes.

    from pinsandbox.embeddings import EmbeddingsConfig, TrainConfig, load_vectors, run_embeddings, similar_pins
    result = run_embeddings("alice", EmbeddingsConfig(train=TrainConfig(steps=200)))  # check, train, precompute,
    result.metrics                               # index, evaluate, publish; {"embeddings.hit_rate@10.proprietary": …}
    vecs = load_vectors("proprietary", "alice")  # PinVectors(pin_ids, vectors, artifact_id, dim)
    similar_pins("p00042", k=10, sandbox="alice")

Heavy libraries (torch, faiss) load when a function that needs them runs.
"""

from pinsandbox.embeddings.config import EmbeddingsConfig, TrainConfig
from pinsandbox.embeddings.features import (  # the sentence encoder (MiniLM) other stages read text with
    TEXT_DIM,
    encode_texts,
)
from pinsandbox.embeddings.pipeline import (
    KINDS,
    EmbeddingsResult,
    PinVectors,
    evaluate_vectors,
    find_vectors,
    load_encoder,
    load_index,
    load_vectors,
    run_embeddings,
    similar_pins,
)

__all__ = ["KINDS", "TEXT_DIM", "EmbeddingsConfig", "EmbeddingsResult", "PinVectors", "TrainConfig", "encode_texts",
           "evaluate_vectors", "find_vectors", "load_encoder", "load_index", "load_vectors", "run_embeddings", "similar_pins"]
