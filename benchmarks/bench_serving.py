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
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MIX = {"homefeed": 0.55, "similar": 0.25, "events": 0.15, "navigator": 0.05}
QUERIES = ["mid-century modern armchair", "boho planter under $40", "a japandi vase for the shelf",
           "industrial floor lamp", "art deco mirror, gold", "scandinavian pillow in soft colours"]


def throwaway_world(root: Path) -> None:
    from pinsandbox.catalog import generate_pinworld
    from pinsandbox.embeddings import EmbeddingsConfig, TrainConfig, fit_and_publish
    from pinsandbox.sandbox import create

    sb = create("bench")
    generate_pinworld(sb, n_pins=1000, n_pinners=200, seed=0, progress=False, render_images=False)
    fit_and_publish(sb, EmbeddingsConfig(dim=64, train=TrainConfig(steps=30, batch_size=64, n_negatives=32)), progress=False)


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


async def client(http, rng, pinners, pins, until, think_s, samples):
    names, weights = list(MIX), np.array(list(MIX.values()))
    while time.perf_counter() < until:
        kind = names[rng.choice(len(names), p=weights / weights.sum())]
        if kind == "homefeed":
            call = http.get(f"/pinners/{rng.choice(pinners)}/homefeed", params={"k": 10})
        elif kind == "similar":
            call = http.get(f"/pins/{rng.choice(pins)}/similar", params={"k": 10})
        elif kind == "events":
            call = http.post("/events", json={"pinner_id": str(rng.choice(pinners)), "pin_id": str(rng.choice(pins)),
                                              "action": str(rng.choice(["closeup", "save", "click"]))})
        else:
            call = http.post("/navigator", json={"text": str(rng.choice(QUERIES)), "k": 8})
        started = time.perf_counter()
        try:
            r = await call
            ok = r.status_code < 400
        except Exception:  # a transport error is an error like any 5xx
            ok = False
        samples.append((kind, time.perf_counter() - started, ok))
        if think_s:
            await asyncio.sleep(rng.exponential(think_s))


async def drive(url, headers, pinners, pins, clients, seconds, think_s, seed):
    import httpx

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits) as http:
        for text in QUERIES[:2]:  # warm up: the first Navigator request loads MiniLM
            await http.post("/navigator", json={"text": text, "k": 8})
        samples: list = []
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(client(http, np.random.default_rng([seed, i]), pinners, pins, until, think_s, samples)
                               for i in range(clients)))
        return samples, time.perf_counter() - started


ROUTES = {"/pinners/{pinner_id}/homefeed": "homefeed", "/pins/{pin_id}/similar": "similar", "/events": "events",
          "/navigator": "navigator"}


def server_side_means(metrics_text: str) -> dict:
    """Mean time inside the server per endpoint (from its Prometheus histogram), to tell it from queueing."""
    from prometheus_client.parser import text_string_to_metric_families

    sums, counts = {}, {}
    for family in text_string_to_metric_families(metrics_text):
        for s in family.samples:
            route = ROUTES.get(s.labels.get("route"))
            if route and s.name.endswith("_seconds_sum"):
                sums[route] = s.value
            elif route and s.name.endswith("_seconds_count"):
                counts[route] = s.value
    return {r: round(1000 * sums[r] / counts[r], 2) for r in sums if counts.get(r)}


def summarise(samples, elapsed) -> dict:
    out = {}
    for kind in MIX:
        lat = np.array([s for k, s, _ in samples if k == kind]) * 1000
        errors = sum(1 for k, _, ok in samples if k == kind and not ok)
        if len(lat):
            out[kind] = {"requests": len(lat), "qps": round(len(lat) / elapsed, 1), "errors": errors,
                         "p50_ms": round(float(np.percentile(lat, 50)), 2), "p99_ms": round(float(np.percentile(lat, 99)), 2)}
    return out


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

    root = Path(tempfile.mkdtemp(prefix="pinsandbox-bench-serving-"))
    try:
        name = prepare(args.sandbox, root)
        catalog = load_catalog(name)
        pinners = catalog.train_events()["pinner_id"].astype(str).unique()
        pins = catalog.pins["pin_id"].astype(str).to_numpy()
        with start(name) as server:
            startup = server.client().get("/healthz").json()
            samples, elapsed = asyncio.run(drive(server.url, server.headers, pinners, pins, args.clients, seconds,
                                                 args.think_ms / 1000, args.seed))
            server_ms = server_side_means(server.client().get("/metrics").text)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    per = summarise(samples, elapsed)
    for kind, ms in server_ms.items():
        per.setdefault(kind, {})["server_mean_ms"] = ms
    result = {
        "sandbox": name, "pins": len(pins), "clients": args.clients, "seconds": round(elapsed, 1), "think_ms": args.think_ms,
        "qps": round(len(samples) / elapsed, 1), "errors": sum(1 for *_, ok in samples if not ok),
        "homefeed_p99_ms": per.get("homefeed", {}).get("p99_ms"), "navigator_p99_ms": per.get("navigator", {}).get("p99_ms"),
        "server_startup_s": startup.get("startup_s"), "ranker": startup.get("ranker"), "endpoints": per,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
