"""A champion swap under load: concurrent clients drive a running server while a promotion (or rollback) lands;
how many requests failed, and how long until the server said it serves the new champion.

    swap_under_load(server, lambda: promote(sb), pinners, pins)   -> {"requests", "failed", "visible_s", ...}

The clients are serving's own load generator (`pinsandbox.serving.load`: keep-alive connections, the homefeed /
similar / events / navigator mix), as a closed loop (no think time) so the swap meets the heaviest load.
"""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np

SERVED = ("tastegraph", "vectors", "navigator")  # the champion roles a server reads (the encoder only embeds)


def _serves(health: dict, champion: dict) -> bool:
    served = health.get("champion") or {}
    return all(served.get(role) == aid for role, aid in champion.items() if role in SERVED)


def swap_under_load(server, action, pinners, pins, *, clients: int = 16, seconds: float = 12.0, lead_s: float = 2.0,
                    seed: int = 0) -> dict:
    """Drive `server` (a ServerProcess) for `seconds`; after `lead_s`, call `action()` (promote or rollback: it
    returns the promotion-log entry) and poll /healthz until it reports the entry's `champion_after`.

    Returns requests (all, and those finished after the action began), failed (non-2xx/3xx or transport errors),
    visible_s (from the action's start until /healthz showed the new champion; None if it never did) and
    action_s (how long the promotion itself took)."""
    import httpx

    from pinsandbox.serving.load import Connection, client

    samples: list = []
    until = time.perf_counter() + seconds

    async def drive():
        await asyncio.gather(*(client(Connection(server.url, server.headers), np.random.default_rng([seed, i]),
                                      np.asarray(pinners), np.asarray(pins), until, 0.0, samples)
                               for i in range(clients)))

    load = threading.Thread(target=asyncio.run, args=(drive(),), name="swap-load")
    load.start()
    visible_s = action_s = None
    try:
        time.sleep(lead_s)
        before = len(samples)
        started = time.perf_counter()
        entry = action()
        action_s = time.perf_counter() - started
        with httpx.Client(base_url=server.url, timeout=5) as probe:
            while time.perf_counter() < until:
                if _serves(probe.get("/healthz").json(), entry["champion_after"]):
                    visible_s = time.perf_counter() - started
                    break
                time.sleep(0.05)
    finally:
        load.join()
    failed = sum(1 for *_, ok in samples if not ok)
    return {"requests": len(samples), "requests_after_action": len(samples) - before, "failed": failed,
            "clients": clients, "seconds": seconds, "visible_s": None if visible_s is None else round(visible_s, 3),
            "action_s": round(action_s, 3), "champion": entry["champion_after"], "action": entry["action"]}
