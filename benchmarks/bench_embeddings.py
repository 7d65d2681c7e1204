"""Benchmark of the embeddings stage; prints ONE JSON object.

1. Precompute throughput (pins/s) of the default-size encoder, local engine vs Ray Data, same pins, 2 CPUs.
2. FAISS on N × 256 clustered unit vectors (N = 1 M, `--quick`: 100 k): exact IndexFlatIP vs HNSW —
   recall@10 of HNSW against exact and queries/s of each, for a few efSearch values, and the speed-up of the
   smallest efSearch reaching 0.95 recall.

Time: `--quick` ≈ 3 min; the full run ≈ 12–15 min on 2 shared cores (the HNSW build of 1 M vectors, ~10 min, dominates).
    python benchmarks/bench_embeddings.py [--quick] [--skip-ray]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def clustered_unit_vectors(n: int, dim: int, n_clusters: int, rng) -> np.ndarray:
    """Pin-like vectors: tight-ish clusters (tastes) with noise, L2-normalised."""
    centers = rng.normal(size=(n_clusters, dim)).astype(np.float32)
    x = np.empty((n, dim), np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        x[s:s + m] = centers[rng.integers(n_clusters, size=m)] + 0.6 * rng.normal(size=(m, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def bench_precompute(n_pins: int, engines: list[str]) -> dict:
    import torch

    from pinsandbox.embeddings.encoder import EncoderConfig, PinEncoder
    from pinsandbox.embeddings.features import MetadataVocab, PinFeatures
    from pinsandbox.embeddings.precompute import precompute

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    out = {"pins": n_pins}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        f = PinFeatures(pin_ids=np.array([f"p{i}" for i in range(n_pins)]),
                        text=rng.normal(size=(n_pins, 384)).astype(np.float32),
                        pixels=rng.integers(0, 255, size=(n_pins, 32, 32, 3), dtype=np.uint8),
                        has_image=np.ones(n_pins, bool), meta=np.zeros((n_pins, 3), np.int64),
                        neighbours=rng.normal(size=(n_pins, 384)).astype(np.float32),
                        pin_index=np.zeros(n_pins, np.int64))
        PinEncoder(EncoderConfig(n_pin_table=n_pins, vocab=MetadataVocab())).save_pretrained(tmp / "enc")
        f.save(tmp / "f.npz")
        vectors = {}
        for engine in engines:
            torch.set_num_threads(2)
            vectors[engine], stats = precompute(tmp / "enc", tmp / "f.npz", n_pins, tmp / engine, engine=engine,
                                                shard_size=1000, progress=False)
            out[f"{engine}_pins_per_s"] = stats["pins_per_s"]
            out[f"{engine}_seconds"] = stats["seconds"]
        if len(vectors) == 2:
            out["ray_vs_local_same_vectors"] = bool(np.allclose(vectors["local"], vectors["ray"], atol=1e-5))
            out["ray_over_local_throughput"] = round(out["ray_pins_per_s"] / out["local_pins_per_s"], 3)
    return out


def bench_faiss(n: int, dim: int = 256, n_queries: int = 1000, k: int = 10) -> dict:
    import faiss

    from pinsandbox.embeddings.index import build_exact, recall_at_k

    faiss.omp_set_num_threads(2)
    rng = np.random.default_rng(0)
    x = clustered_unit_vectors(n, dim, n_clusters=max(100, n // 1000), rng=rng)
    q = x[rng.choice(n, n_queries, replace=False)] + 0.05 * rng.normal(size=(n_queries, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    exact = build_exact(x)
    t = time.perf_counter()
    _, exact_ids = exact.search(q, k)
    exact_qps = n_queries / (time.perf_counter() - t)
    t = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 64
    hnsw.add(x)
    build_s = time.perf_counter() - t
    sweep = []
    for ef in (16, 32, 64, 128, 256, 512):
        hnsw.hnsw.efSearch = ef
        t = time.perf_counter()
        _, ids = hnsw.search(q, k)
        qps = n_queries / (time.perf_counter() - t)
        sweep.append({"ef_search": ef, "recall@10": round(recall_at_k(exact_ids, ids, k), 4), "qps": round(qps, 1),
                      "speedup_vs_exact": round(qps / exact_qps, 1)})
    chosen = next((s for s in sweep if s["recall@10"] >= 0.95), sweep[-1])
    return {"vectors": n, "dim": dim, "queries": n_queries, "exact_qps": round(exact_qps, 1),
            "hnsw": {"m": 32, "ef_construction": 64, "build_seconds": round(build_s, 1)}, "hnsw_sweep": sweep,
            "chosen": chosen, "meets_target": chosen["recall@10"] >= 0.95 and chosen["speedup_vs_exact"] >= 20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 k vectors and 4 k pins instead of 1 M and 20 k")
    ap.add_argument("--skip-ray", action="store_true", help="measure the local engine only")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    t = time.perf_counter()
    engines = ["local"] if args.skip_ray else ["local", "ray"]
    result = {"benchmark": "embeddings", "quick": args.quick,
              "precompute": bench_precompute(4000 if args.quick else 20_000, engines),
              "faiss": bench_faiss(100_000 if args.quick else 1_000_000)}
    result["seconds"] = round(time.perf_counter() - t, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
