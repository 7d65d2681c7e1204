"""A bounded load generator for the serving API: N concurrent asyncio clients on loopback for a fixed duration,
mixing homefeed, similar, events and navigator requests; QPS, p50/p99 and errors per endpoint.

Each client waits an exponential think time between its requests (people browse; they do not hammer), so the
offered load is about clients / (think time + latency); think_s=0 is a closed loop that measures saturation.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import numpy as np

MIX = {"homefeed": 0.55, "similar": 0.25, "events": 0.15, "navigator": 0.05}
QUERIES = ["mid-century modern armchair", "boho planter under $40", "a japandi vase for the shelf",
           "industrial floor lamp", "art deco mirror, gold", "scandinavian pillow in soft colours"]


class Connection:
    """One keep-alive HTTP/1.1 connection, written by hand: httpx spends ~4 ms of CPU per request, more than the
    server, and on a small machine the load generator's CPU is taken from the server it measures."""

    def __init__(self, url: str, headers: dict, timeout: float = 30):
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.host, self.port, self.timeout = host, int(port), timeout
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: dict | None = None) -> int:
        """Send one request and read the whole answer; returns its status."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        data = b"" if body is None else json.dumps(body).encode()
        extra = f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n" if body is not None else ""
        self.writer.write(f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + data)
        try:
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), self.timeout)
            lines = head.decode("latin-1").split("\r\n")
            fields = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            await asyncio.wait_for(self.reader.readexactly(int(fields["content-length"])), self.timeout)
        except BaseException:
            self.close()  # the connection's state is unknown now: the next request opens a fresh one
            raise
        if fields.get("connection") == "close":
            self.close()
        return int(lines[0].split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def client(conn, rng, pinners, pins, until, think_s, samples):
    names, weights = list(MIX), np.array(list(MIX.values()))
    while time.perf_counter() < until:
        kind = names[rng.choice(len(names), p=weights / weights.sum())]
        if kind == "homefeed":
            call = conn.request("GET", f"/pinners/{rng.choice(pinners)}/homefeed?k=10")
        elif kind == "similar":
            call = conn.request("GET", f"/pins/{rng.choice(pins)}/similar?k=10")
        elif kind == "events":
            call = conn.request("POST", "/events", {"pinner_id": str(rng.choice(pinners)), "pin_id": str(rng.choice(pins)),
                                                    "action": str(rng.choice(["closeup", "save", "click"]))})
        else:
            call = conn.request("POST", "/navigator", {"text": str(rng.choice(QUERIES)), "k": 8})
        started = time.perf_counter()
        try:
            ok = await call < 400
        except Exception:  # a transport error or a timeout is an error like any 5xx
            ok = False
        samples.append((kind, time.perf_counter() - started, ok))
        if think_s:
            await asyncio.sleep(rng.exponential(think_s))
    conn.close()


async def drive(url, headers, pinners, pins, clients, seconds, think_s, seed):
    warm = Connection(url, headers)
    for text in QUERIES[:2]:  # warm up: the first Navigator request loads MiniLM
        await warm.request("POST", "/navigator", {"text": text, "k": 8})
    warm.close()
    samples: list = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(client(Connection(url, headers), np.random.default_rng([seed, i]), pinners, pins, until,
                                  think_s, samples) for i in range(clients)))
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc (Linux); 0 elsewhere."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(server, pinners, pins, clients: int = 50, seconds: float = 20.0, think_s: float = 0.1, seed: int = 0) -> dict:
    """Drive `server` (a ServerProcess) and return per-endpoint figures, the raw samples and the totals."""
    cpu = time.process_time(), _cpu_seconds(server.process.pid)
    samples, elapsed = _run(drive(server.url, server.headers, np.asarray(pinners), np.asarray(pins), clients,
                                         seconds, think_s, seed))
    # CPU per request on each side of the loopback: on a small machine the load generator competes with the server
    cpu = {"client": time.process_time() - cpu[0], "server": _cpu_seconds(server.process.pid) - cpu[1]}
    per = summarise(samples, elapsed)
    for kind, ms in server_side_means(server.client().get("/metrics").text).items():
        per.setdefault(kind, {})["server_mean_ms"] = ms
    return {"clients": clients, "seconds": round(elapsed, 1), "think_ms": think_s * 1000,
            "cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),  # how busy the machine was
            "qps": round(len(samples) / elapsed, 1), "errors": sum(1 for *_, ok in samples if not ok),
            **{f"{side}_cpu_ms_per_request": round(1000 * s / max(len(samples), 1), 2) for side, s in cpu.items()},
            "endpoints": per, "samples": samples}
