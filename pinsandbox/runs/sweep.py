"""Parameter sweeps: one run per point of a grid, locally one after another or as Ray tasks."""

from __future__ import annotations

import itertools
from pathlib import Path

from pinsandbox.errors import InvalidInput
from pinsandbox.runs.records import RunRecord
from pinsandbox.runs.runner import parse_param, run_notebook
from pinsandbox.sandbox.sandbox import resolve


def parse_grid(specs: list[str]) -> dict[str, list]:
    """["lr=0.1,0.01", "seed=0,1"] → {"lr": [0.1, 0.01], "seed": [0, 1]}."""
    grid = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep or not values:
            raise InvalidInput(f"invalid --grid {spec!r}: write KEY=V1,V2,… e.g. --grid seed=0,1,2")
        grid[key] = [parse_param(key, v) for v in values.split(",")]
    return grid


def points(grid: dict[str, list]) -> list[dict]:
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


def sweep(notebook, sandbox=None, grid: dict[str, list] | None = None, *, base_params: dict | None = None,
          engine: str = "local", isolation_mode: str | None = None, ray_address: str | None = None):
    """Run `notebook` once per grid point; returns the run records in grid order."""
    sb = resolve(sandbox)
    runs = [{**(base_params or {}), **p} for p in points(grid or {})]
    if engine == "local":
        return [run_notebook(notebook, sb, p, isolation_mode=isolation_mode) for p in runs]
    if engine != "ray":
        raise InvalidInput(f"unknown engine {engine!r}: use local or ray")
    import ray

    ray.init(address=ray_address, num_cpus=None if ray_address else 2, include_dashboard=False,
             ignore_reinit_error=True, log_to_driver=False)  # fmt: skip

    @ray.remote
    def one(params):
        # Runs in one sandbox share its lock, so on one machine they queue; on a cluster with the sandboxes
        # root on shared storage, each task still runs the notebook under the sandbox's isolation.
        return str(run_notebook(notebook, sb.owner, params, isolation_mode=isolation_mode, quiet=True).path)

    paths = ray.get([one.remote(p) for p in runs])
    return [RunRecord(Path(p)) for p in paths]


def table(records) -> list[dict]:
    """Params and metrics of each run, side by side, one row per run."""
    return [{"run": r.id, "state": r.state, **r.params, **r.metrics} for r in records]
