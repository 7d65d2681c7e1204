"""The serving stage's measurable part, as one call (notebook 05, `pinsandbox load-test`, the tests):
start the real server over the sandbox, wait until every homefeed is precomputed, put a bounded load on it,
stop it, and return the per-endpoint table, the raw samples and `serving.*` metrics.

    from pinsandbox.serving import ServingStageConfig, run_serving
    result = run_serving("alice", ServingStageConfig(clients=50, seconds=10, think_ms=100))
    result.table            # requests, qps, errors, p50/p99 and the server-side mean per endpoint
    result.metrics["serving.homefeed_p99_ms"]

The server reads everything it serves from the sandbox's artifacts (catalog, pin vectors, the taste-graph
snapshot and its config, the fine-tuned Navigator); the load test's events go to the sandbox's event log like
any client's. The run is published as `serving/load-test` with this config.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pandas as pd

from pinsandbox.errors import InvalidInput
from pinsandbox.stages import StageResult

STAGE = "serving"
ENDPOINTS = ("homefeed", "similar", "events", "navigator")


@dataclass
class ServingStageConfig:
    clients: int = 50  # concurrent clients in the load test
    seconds: float = 10.0  # how long they keep asking
    think_ms: float = 100.0  # mean pause between one client's requests (0: a closed loop, saturation)
    seed: int = 0
    start_timeout_s: float = 180.0  # the server must answer /healthz within this
    warm_timeout_s: float = 300.0  # and have precomputed every homefeed within this (else the test starts anyway)


@dataclass(kw_only=True)
class ServingResult(StageResult):
    table: pd.DataFrame  # one row per endpoint: requests, qps, errors, p50_ms, p99_ms, server_mean_ms
    samples: pd.DataFrame  # endpoint, seconds, ok: every request of the load test
    load: dict  # run_load's totals (clients, seconds, qps, errors, CPU per request, load average)
    health: dict  # /healthz once warm: what the server loaded (catalog, taste graph, vectors, ranker)
    warm_s: float  # from /healthz answering to every homefeed precomputed


def check_config(config: ServingStageConfig) -> ServingStageConfig:
    if not isinstance(config, ServingStageConfig):
        raise InvalidInput(f"run_serving takes a ServingStageConfig, got {type(config).__name__}")
    if int(config.clients) < 1:
        raise InvalidInput(f"clients must be at least 1, got {config.clients}")
    if not config.seconds > 0:
        raise InvalidInput(f"seconds must be positive, got {config.seconds}")
    if config.think_ms < 0:
        raise InvalidInput(f"think_ms must be 0 or more, got {config.think_ms}")
    if not (config.start_timeout_s > 0 and config.warm_timeout_s >= 0):
        raise InvalidInput("start_timeout_s must be positive and warm_timeout_s 0 or more")
    return config


def run_serving(sandbox=None, config: ServingStageConfig | None = None, progress=True) -> ServingResult:
    """Start the server, wait warm, run the bounded load test, stop the server; see the module docstring."""
    from pinsandbox.catalog import load_catalog
    from pinsandbox.sandbox import resolve
    from pinsandbox.serving.load import run_load
    from pinsandbox.serving.server import start

    config = check_config(config or ServingStageConfig())
    sb = resolve(sandbox)
    catalog = load_catalog(sb)  # refuses a sandbox without a catalog before any server starts
    pinners = catalog.train_events()["pinner_id"].astype(str).unique()
    pins = catalog.pins["pin_id"].astype(str).to_numpy()
    if not len(pinners) or not len(pins):
        raise InvalidInput(f"catalog {catalog.artifact_id} has no pinners with training events or no pins: nothing to load-test")

    say = print if progress else (lambda *a, **k: None)
    server = start(sb, timeout=config.start_timeout_s)
    try:
        started = time.perf_counter()
        health = server.wait_warm(config.warm_timeout_s)
        warm_s = time.perf_counter() - started
        say(f"server up in {health['startup_s']} s, warm after {warm_s:.1f} s more; "
            f"{config.clients} clients for {config.seconds:g} s")
        load = run_load(server, pinners, pins, clients=int(config.clients), seconds=float(config.seconds),
                        think_s=config.think_ms / 1000, seed=int(config.seed))
    finally:
        server.stop()

    table = pd.DataFrame(load["endpoints"]).T.rename_axis("endpoint")
    samples = pd.DataFrame(load["samples"], columns=["endpoint", "seconds", "ok"])
    summary = {key: value for key, value in load.items() if key != "samples"}
    inputs = [a for a in (health.get("catalog"), health.get("taste_graph"), health.get("vectors")) if _is_artifact_id(a)]
    with sb.artifacts.write(STAGE, "load-test", config=config, inputs=inputs) as w:
        (w.path / "load.json").write_text(json.dumps({"load": summary, "health": health, "warm_s": warm_s}, indent=1, default=str))
        samples.to_parquet(w.path / "samples.parquet")
    artifact = sb.artifacts.current_id(STAGE, "load-test")
    return ServingResult(stage=STAGE, config=config, artifacts={"load-test": artifact},
                         metrics=serving_metrics(health, warm_s, load), table=table, samples=samples, load=summary,
                         health=health, warm_s=warm_s)


def serving_metrics(health: dict, warm_s: float, load: dict) -> dict:
    """`serving.*`: startup and warm-up, QPS, errors, p50/p99 per endpoint, CPU per request, the load average."""
    m = {"serving.startup_s": float(health["startup_s"]), "serving.warm_s": round(warm_s, 1),
         "serving.qps": float(load["qps"]), "serving.errors": int(load["errors"]),
         "serving.requests": int(sum(e.get("requests", 0) for e in load["endpoints"].values())),
         "serving.load_average_1m": float(load["load_average_1m"]),  # other work on the machine shows here
         "serving.client_cpu_ms_per_request": float(load["client_cpu_ms_per_request"]),
         "serving.server_cpu_ms_per_request": float(load["server_cpu_ms_per_request"])}
    for endpoint in ENDPOINTS:
        figures = load["endpoints"].get(endpoint, {})
        for figure in ("p50_ms", "p99_ms", "server_mean_ms"):
            if figure in figures:
                m[f"serving.{endpoint}_{figure}"] = float(figures[figure])
        if "errors" in figures:
            m[f"serving.{endpoint}_errors"] = int(figures["errors"])
    return m


def _is_artifact_id(value) -> bool:
    return isinstance(value, str) and "/" in value and "@" in value and " " not in value
