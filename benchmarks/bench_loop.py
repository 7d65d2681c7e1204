"""The loop's gate (#18): does it promote genuinely retrained challengers and refuse degraded ones?

    python benchmarks/bench_loop.py            # 20 seeded worlds (~5 min on 2 cores)
    python benchmarks/bench_loop.py --quick    # 3 worlds (~45 s)

Per seed: a small Pinworld (300 pins, 600 pinners) with a tiny encoder and a champion taste graph (stages 00,
01, 04 through their entry points), then 14 days of `data advance`; then two challengers gated against the
champion on the new window: a genuine retrain (the cheap refresh) and a degraded one trained on shuffled
engagement (`RetrainConfig(degrade="shuffle")`). Nothing is promoted (`promote=False`): both face the same
champion. Prints one JSON object: how many of each the gate passed, the gains and their intervals, loop times.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=None)
    args = ap.parse_args()
    n = args.seeds or (3 if args.quick else 20)
    os.environ["PINSANDBOX_ROOT"] = tempfile.mkdtemp(prefix="bench-loop-")
    import torch

    torch.set_num_threads(2)
    import pinsandbox
    from pinsandbox.catalog import CatalogConfig, advance_catalog, run_catalog
    from pinsandbox.embeddings import EmbeddingsConfig, TrainConfig, run_embeddings
    from pinsandbox.loop import RetrainConfig, run_retrain
    from pinsandbox.tastegraph import GNNConfig, TasteGraphConfig, TasteGraphStageConfig, run_tastegraph

    rows = []
    for seed in range(n):
        sb = pinsandbox.create(f"gate{seed}")
        run_catalog(sb, CatalogConfig(n_pins=300, n_pinners=600, seed=seed, render_images=False,
                                      n_navigator_requests=40), progress=False)
        run_embeddings(sb, EmbeddingsConfig(dim=32, seed=seed, train=TrainConfig(steps=15, batch_size=64, n_negatives=32)),
                       progress=False)
        run_tastegraph(sb, TasteGraphStageConfig(ablations=False, drift_weeks=0,
                                                 model=TasteGraphConfig(gnn=GNNConfig(dim=16, epochs=2))), progress=False)
        t = time.perf_counter()
        advance_catalog(sb, 14, progress=False)
        good = run_retrain(sb, RetrainConfig(seed=seed, promote=False, latency_pinners=50), progress=False)
        loop_s = time.perf_counter() - t
        bad = run_retrain(sb, RetrainConfig(seed=seed, promote=False, latency_pinners=50, vectors=False,
                                            degrade="shuffle"), progress=False)
        rows.append({"seed": seed, "genuine_passed": good.verdict["passed"], "genuine_gain": round(good.verdict["gain"], 4),
                     "genuine_interval": [round(x, 4) for x in good.verdict["interval"]],
                     "degraded_passed": bad.verdict["passed"], "degraded_gain": round(bad.verdict["gain"], 4),
                     "loop_s": round(loop_s, 1)})
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({
        "worlds": n,
        "gate_genuine_promoted": sum(r["genuine_passed"] for r in rows),
        "gate_degraded_refused": sum(not r["degraded_passed"] for r in rows),
        "genuine_gain_mean": round(sum(r["genuine_gain"] for r in rows) / n, 4),
        "loop_s_mean": round(sum(r["loop_s"] for r in rows) / n, 1),
        "per_seed": rows,
    }, indent=1))


if __name__ == "__main__":
    main()
