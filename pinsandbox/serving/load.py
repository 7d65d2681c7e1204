"""A bounded load generator for the serving API: N concurrent asyncio clients on loopback for a fixed duration,
mixing homefeed, similar, events and navigator requests; QPS, p50/p99 and errors per endpoint.

Each client waits an exponential think time between its requests (people browse; they do not hammer), so the
offered load is about clients / (think time + latency); think_s=0 is a closed loop that measures saturation.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

MIX = {"homefeed": 0.55, "similar": 0.25, "events": 0.15, "navigator": 0.05}
QUERIES = ["mid-century modern armchair", "boho planter under $40", "a japandi vase for the shelf",
           "industrial floor lamp", "art deco mirror, gold", "scandinavian pillow in soft colours"]


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


def summarise(samples, elapsed: float) -> dict:
    out = {}
    for kind in MIX:
        lat = np.array([s for k, s, _ in samples if k == kind]) * 1000
        errors = sum(1 for k, _, ok in samples if k == kind and not ok)
        if len(lat):
            out[kind] = {"requests": len(lat), "qps": round(len(lat) / elapsed, 1), "errors": errors,
                         "p50_ms": round(float(np.percentile(lat, 50)), 2), "p99_ms": round(float(np.percentile(lat, 99)), 2)}
    return out




def _run(coro):
    """asyncio.run, also from inside a running loop (a Jupyter kernel has one): then in a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def run_load(server, pinners, pins, clients: int = 50, seconds: float = 20.0, think_s: float = 0.1, seed: int = 0) -> dict:
    """Drive `server` (a ServerProcess) and return per-endpoint figures, the raw samples and the totals."""
    samples, elapsed = _run(drive(server.url, server.headers, np.asarray(pinners), np.asarray(pins), clients,
                                         seconds, think_s, seed))
    per = summarise(samples, elapsed)
    for kind, ms in server_side_means(server.client().get("/metrics").text).items():
        per.setdefault(kind, {})["server_mean_ms"] = ms
    import os

    return {"clients": clients, "seconds": round(elapsed, 1), "think_ms": think_s * 1000,
            "cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),  # how busy the machine was
            "qps": round(len(samples) / elapsed, 1), "errors": sum(1 for *_, ok in samples if not ok),
            "endpoints": per, "samples": samples}
