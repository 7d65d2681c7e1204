"""FAISS indexes over pin vectors: exact inner product (IndexFlatIP) and an ANN index — HNSW (the default: no
training, good at any size) or IVF-Flat (k-means lists; for large catalogs, where it builds and searches faster) —
with the ANN's recall against exact measured.

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


IVF_MIN_PER_LIST = 39  # FAISS's k-means wants at least this many training vectors per list


def build_ivf(vectors: np.ndarray, n_lists: int | None = None, nprobe: int = 8, seed: int = 0):
    """IVF-Flat over 4·√N k-means lists (FAISS's rule of thumb) unless `n_lists` is given; each query scans the
    `nprobe` nearest lists. Trained on a seeded sample of up to 50 vectors per list."""
    import faiss

    vectors = check_vectors(vectors)
    n, dim = vectors.shape
    n_lists = n_lists or max(1, int(4 * np.sqrt(n)))
    check_ann("ivf", n, n_lists)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, n_lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    sample = np.random.default_rng(seed).choice(n, size=min(n, 50 * n_lists), replace=False)
    index.train(vectors[np.sort(sample)])
    index.add(vectors)
    index.nprobe = nprobe
    return index


ANN_BUILDERS = {"hnsw": build_hnsw, "ivf": build_ivf}


def check_ann(kind: str, n_vectors: int, n_lists: int | None = None) -> None:
    """Refuse an unknown ANN kind, or an IVF too big for the catalog, before any work is done."""
    if kind not in ANN_BUILDERS:
        raise InvalidInput(f"unknown ANN index {kind!r}: use one of {', '.join(ANN_BUILDERS)}")
    n_lists = n_lists or max(1, int(4 * np.sqrt(n_vectors)))
    if kind == "ivf" and n_vectors < IVF_MIN_PER_LIST * n_lists:
        raise InvalidInput(f"IVF with {n_lists} lists needs at least {IVF_MIN_PER_LIST * n_lists} vectors, got "
                           f"{n_vectors}: use ann='hnsw' for a catalog this small (IVF pays off from ~100 k pins)")


def recall_at_k(exact_ids: np.ndarray, ann_ids: np.ndarray, k: int = 10) -> float:
    """Fraction of the exact top-k that the ANN also returns in its top-k."""
    hits = sum(len(set(e[:k]) & set(a[:k])) for e, a in zip(exact_ids, ann_ids, strict=False))
    return hits / (len(exact_ids) * k)


@dataclass
class PinIndex:
    """A vector set with its exact and ANN (`ann_kind`: hnsw | ivf) indexes; `search` by vector."""

    pin_ids: np.ndarray
    exact: object
    ann: object
    ann_kind: str = "hnsw"

    @classmethod
    def build(cls, pin_ids: np.ndarray, vectors: np.ndarray, ann: str = "hnsw", **params) -> PinIndex:
        """`params` go to the ANN's builder: `build_hnsw` (m, ef_construction, ef_search) or `build_ivf`."""
        check_ann(ann, len(vectors), params.get("n_lists"))
        return cls(np.asarray(pin_ids).astype(str), build_exact(vectors), ANN_BUILDERS[ann](vectors, **params), ann)

    def save(self, directory: Path) -> None:
        import faiss

        faiss.write_index(self.exact, str(Path(directory) / "index_exact.faiss"))
        faiss.write_index(self.ann, str(Path(directory) / f"index_{self.ann_kind}.faiss"))

    @classmethod
    def load(cls, directory: Path, pin_ids: np.ndarray) -> PinIndex:
        import faiss

        directory = Path(directory)
        kind = next((k for k in ANN_BUILDERS if (directory / f"index_{k}.faiss").exists()), None)
        if kind is None:
            raise InvalidInput(f"no ANN index (index_hnsw.faiss or index_ivf.faiss) in {directory}")
        return cls(pin_ids, faiss.read_index(str(directory / "index_exact.faiss")),
                   faiss.read_index(str(directory / f"index_{kind}.faiss")), kind)

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
