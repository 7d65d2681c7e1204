"""Load test of the serving API: 50 concurrent clients on loopback for a fixed duration, mixing homefeed,
similar, events and navigator requests; prints QPS, p50/p99 per endpoint and errors as one JSON line.

The real server runs as a subprocess over a *copy* of the sandbox (so the load's events never reach the
user's event log). Sandbox: --sandbox NAME if given, else `demo` when it exists, else a small throwaway
Pinworld built here. Each client waits an exponential think time between requests (--think-ms, mean),
like people browsing; --think-ms 0 is a closed loop that measures saturation.

    python benchmarks/bench_serving.py [--quick] [--sandbox NAME] [--clients 50] [--seconds 20] [--think-ms 100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def throwaway_world(root: Path) -> None:
    from pinsandbox.catalog import generate_pinworld
    from pinsandbox.embeddings import EmbeddingsConfig, TrainConfig, run_embeddings
    from pinsandbox.sandbox import create

    sb = create("bench")
    generate_pinworld(sb, n_pins=1000, n_pinners=200, seed=0, progress=False, render_images=False)
    run_embeddings(sb, EmbeddingsConfig(dim=64, train=TrainConfig(steps=30, batch_size=64, n_negatives=32)), progress=False)


def prepare(sandbox: str | None, root: Path) -> str:
    """Copy the sandbox to serve into `root` (events go to the copy); returns its owner name."""
    from pinsandbox import settings

    source_root = settings.sandboxes_root()
    name = sandbox or ("demo" if (source_root / "demo" / "sandbox.toml").exists() else None)
    os.environ["PINSANDBOX_ROOT"] = str(root)
    if name is None:
        throwaway_world(root)
        return "bench"
    if not (source_root / name / "sandbox.toml").exists():
        sys.exit(f"bench_serving: no sandbox {name!r} under {source_root}")
    shutil.copytree(source_root / name, root / name, symlinks=True,
                    ignore=shutil.ignore_patterns("runs", "tmp", "home", "events.db*", "server.log"))
    return name


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 s instead of 20 s")
    ap.add_argument("--sandbox", default=None)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--think-ms", type=float, default=100.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    seconds = args.seconds or (5.0 if args.quick else 20.0)

    from pinsandbox.catalog import load_catalog
    from pinsandbox.serving import start
    from pinsandbox.serving.load import run_load

    root = Path(tempfile.mkdtemp(prefix="pinsandbox-bench-serving-"))
    try:
        name = prepare(args.sandbox, root)
        catalog = load_catalog(name)
        pinners = catalog.train_events()["pinner_id"].astype(str).unique()
        pins = catalog.pins["pin_id"].astype(str).to_numpy()
        with start(name) as server:
            startup = server.client().get("/healthz").json()
            warm_started = time.perf_counter()
            server.wait_warm()  # measure the steady state: every pinner's homefeed precomputed
            warm_s = round(time.perf_counter() - warm_started, 1)
            load = run_load(server, pinners, pins, args.clients, seconds, args.think_ms / 1000, args.seed)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    per = load.pop("endpoints")
    load.pop("samples")
    result = {
        "sandbox": name, "pins": len(pins), **load,
        "homefeed_p99_ms": per.get("homefeed", {}).get("p99_ms"), "navigator_p99_ms": per.get("navigator", {}).get("p99_ms"),
        "server_startup_s": startup.get("startup_s"), "warm_s": warm_s, "ranker": startup.get("ranker"), "endpoints": per,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
