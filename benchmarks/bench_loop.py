"""The loop (#18), in sections (`--only NAME`, repeatable; default all):

    python benchmarks/bench_loop.py            # everything (~10 min on 2 cores)
    python benchmarks/bench_loop.py --quick    # 3 gate worlds, a shorter load (~3 min)

gate: does the gate promote genuinely retrained challengers and refuse degraded ones? Per seed: a small Pinworld (300 pins, 600 pinners) with a tiny encoder and a champion taste graph (stages 00,
01, 04 through their entry points), then 14 days of `data advance`; then two challengers gated against the
champion on the new window: a genuine retrain (the cheap refresh) and a degraded one trained on shuffled
engagement (`RetrainConfig(degrade="shuffle")`). Nothing is promoted (`promote=False`): both face the same
champion. How many of each the gate passed, the gains and their intervals, loop times.

serving: the real server on 127.0.0.1 over a copy of the seed-0 demo sandbox (`make demo`); beside it, a week
advanced and a challenger retrained; then 16 closed-loop clients while the challenger is promoted, and again while
it is rolled back:
failed requests out of how many, and seconds until /healthz shows the new champion (goal: 0 failed of >= 1,000,
visible within 5 s).

Prints one JSON object, one key per section.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

SECTIONS = ("gate", "serving")
DEMO = Path(__file__).resolve().parent.parent / "sandboxes" / "demo"


def demo_copy(demo: Path, name: str):
    """A scratch copy of the demo sandbox under this run's root (the demo itself is never changed)."""
    import pinsandbox

    if not (demo / "artifacts" / "tastegraph" / "taste-graph").exists():
        raise SystemExit(f"{demo} has no demo sandbox with a taste graph: run `make demo` first")
    shutil.copytree(demo, Path(os.environ["PINSANDBOX_ROOT"]) / name, symlinks=True)
    return pinsandbox.open_sandbox(name)


def gate_section(n: int) -> dict:
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
    return {"worlds": n,
            "gate_genuine_promoted": sum(r["genuine_passed"] for r in rows),
            "gate_degraded_refused": sum(not r["degraded_passed"] for r in rows),
            "genuine_gain_mean": round(sum(r["genuine_gain"] for r in rows) / n, 4),
            "loop_s_mean": round(sum(r["loop_s"] for r in rows) / n, 1),
            "per_seed": rows}


def serving_section(demo: Path, seconds: float) -> dict:
    from pinsandbox.catalog import advance_catalog, load_catalog
    from pinsandbox.loop import RetrainConfig, promote, rollback, run_retrain
    from pinsandbox.loop.swap import swap_under_load
    from pinsandbox.serving import start

    sb = demo_copy(demo, "swap")
    catalog = load_catalog(sb)
    pinners, pins = catalog.train_events()["pinner_id"].unique(), catalog.pins["pin_id"].to_numpy()
    out = {"goal_visible_s": 5.0, "goal_min_requests": 1000}
    with start(sb) as server:  # serving first, then time moves on and the loop runs beside it, as in production
        out["server_warm"] = server.wait_warm(300)["warm"]
        advance_catalog(sb, 7, progress=False)
        verdict = run_retrain(sb, RetrainConfig(promote=False), progress=False).verdict
        out["gate_passed"] = verdict["passed"]
        # forced only if the gate refused (then said so above): this section measures the swap, not the gate
        for name, action in (("promotion", lambda: promote(sb, force=not verdict["passed"])),
                             ("rollback", lambda: rollback(sb))):
            r = swap_under_load(server, action, pinners, pins, seconds=seconds, seed=0)
            out[name] = {k: r[k] for k in ("requests", "requests_after_action", "failed", "visible_s", "action_s",
                                           "clients", "seconds")}
            print(json.dumps({name: out[name]}), flush=True)
    out["goals_met"] = all(out[n]["failed"] == 0 and out[n]["requests_after_action"] >= 1000
                           and (out[n]["visible_s"] or 1e9) <= 5 for n in ("promotion", "rollback"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=None, help="gate: how many seeded worlds (default 20, quick 3)")
    ap.add_argument("--only", action="append", choices=SECTIONS, help="run only this section (repeatable)")
    ap.add_argument("--demo", type=Path, default=DEMO, help="the seed-0 demo sandbox to copy (serving)")
    args = ap.parse_args()
    os.environ["PINSANDBOX_ROOT"] = tempfile.mkdtemp(prefix="bench-loop-")
    import torch

    torch.set_num_threads(2)
    out = {}
    for section in args.only or SECTIONS:
        started = time.perf_counter()
        if section == "gate":
            out[section] = gate_section(args.seeds or (3 if args.quick else 20))
        elif section == "serving":
            out[section] = serving_section(args.demo, 8.0 if args.quick else 15.0)
        out[section]["section_s"] = round(time.perf_counter() - started, 1)
    shutil.rmtree(os.environ["PINSANDBOX_ROOT"], ignore_errors=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
