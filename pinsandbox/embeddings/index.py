"""FAISS indexes over pin vectors: exact inner product (IndexFlatIP) and HNSW, with ANN recall measured.

Vectors are L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pinsandbox.errors import InvalidInput


def check_vectors(vectors: np.ndarray, what: str = "pin vectors") -> np.ndarray:
    """float32 C-contiguous N×d, finite — or one clear error."""
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[1] == 0:
        raise InvalidInput(f"{what} must be a 2-D array N×d, got shape {vectors.shape}")
    bad = ~np.isfinite(vectors).all(1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InvalidInput(f"{what}: {bad.sum()} row(s) contain NaN or inf (rows {rows[:5].tolist()}…); "
                           "recompute them, or drop those pins before indexing")
    return np.ascontiguousarray(vectors, dtype=np.float32)


def build_exact(vectors: np.ndarray):
    import faiss

    vectors = check_vectors(vectors)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def build_hnsw(vectors: np.ndarray, m: int = 32, ef_construction: int = 80, ef_search: int = 64):
    import faiss

    vectors = check_vectors(vectors)
    index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.add(vectors)
    index.hnsw.efSearch = ef_search
    return index


def recall_at_k(exact_ids: np.ndarray, ann_ids: np.ndarray, k: int = 10) -> float:
    """Fraction of the exact top-k that the ANN also returns in its top-k."""
    hits = sum(len(set(e[:k]) & set(a[:k])) for e, a in zip(exact_ids, ann_ids, strict=False))
    return hits / (len(exact_ids) * k)


@dataclass
class PinIndex:
    """A vector set with its exact and ANN indexes; `search` by vector, `similar` by pin id."""

    pin_ids: np.ndarray
    exact: object
    ann: object

    @classmethod
    def build(cls, pin_ids: np.ndarray, vectors: np.ndarray, **hnsw) -> PinIndex:
        return cls(np.asarray(pin_ids).astype(str), build_exact(vectors), build_hnsw(vectors, **hnsw))

    def save(self, directory: Path) -> None:
        import faiss

        faiss.write_index(self.exact, str(Path(directory) / "index_exact.faiss"))
        faiss.write_index(self.ann, str(Path(directory) / "index_hnsw.faiss"))

    @classmethod
    def load(cls, directory: Path, pin_ids: np.ndarray) -> PinIndex:
        import faiss

        return cls(pin_ids, faiss.read_index(str(Path(directory) / "index_exact.faiss")),
                   faiss.read_index(str(Path(directory) / "index_hnsw.faiss")))

    def search(self, queries: np.ndarray, k: int = 10, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        queries = check_vectors(np.atleast_2d(queries), "query vectors")
        return (self.exact if exact else self.ann).search(queries, k)

    def ann_recall(self, vectors: np.ndarray, k: int = 10, n_queries: int = 1000, seed: int = 0) -> float:
        """Recall@k of the ANN index against exact search, over a seeded sample of the indexed vectors."""
        rng = np.random.default_rng(seed)
        q = vectors[rng.choice(len(vectors), size=min(n_queries, len(vectors)), replace=False)]
        _, e = self.search(q, k, exact=True)
        _, a = self.search(q, k, exact=False)
        return recall_at_k(e, a, k)
