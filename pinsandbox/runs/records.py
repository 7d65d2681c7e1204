"""Run records: `runs/<run-id>/` with notebook.ipynb, params.yaml, metrics.json, env.json, status, log."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import yaml

from pinsandbox.errors import NotFound
from pinsandbox.sandbox.artifacts import write_text_atomic


@dataclass
class RunRecord:
    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    def _json(self, name: str, default):
        p = self.path / name
        return json.loads(p.read_text()) if p.exists() else default

    @property
    def status(self) -> dict:
        status = self._json("status", {"state": "unknown"})
        if status.get("state") == "running" and not _alive(status):
            # The runner itself was killed (e.g. SIGKILL) before it could write the outcome.
            status = {**status, "state": "failed", "error": "interrupted: the runner process is gone"}
            write_json(self.path / "status", status)
        return status

    @property
    def state(self) -> str:
        return self.status["state"]

    @property
    def params(self) -> dict:
        p = self.path / "params.yaml"
        return (yaml.safe_load(p.read_text()) or {}) if p.exists() else {}

    @property
    def metrics(self) -> dict:
        return self._json("metrics.json", {})

    @property
    def env(self) -> dict:
        return self._json("env.json", {})

    @property
    def inputs(self) -> list[str]:
        return self._json("inputs.json", [])

    @property
    def outputs(self) -> list[str]:
        return self._json("outputs.json", [])

    @property
    def notebook(self) -> str:
        return self.env.get("notebook", "")

    def summary(self) -> dict:
        s = self.status
        return {
            "id": self.id, "notebook": self.notebook, "state": s["state"], "cell": s.get("cell"),
            "error": s.get("error"), "started": self.env.get("started"), "duration_s": self.env.get("duration_s"),
            "isolation": self.env.get("isolation"), "params": self.params, "metrics": self.metrics,
            "inputs": self.inputs, "outputs": self.outputs, "path": str(self.path),
        }  # fmt: skip


def write_json(path: Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1, default=str))


def _alive(status: dict) -> bool:
    if status.get("host") != platform.node():
        return True  # another machine's run: we cannot tell, so trust it
    try:
        os.kill(int(status["pid"]), 0)
    except (ProcessLookupError, KeyError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


def list_runs(sandbox) -> list[RunRecord]:
    """All runs of a sandbox, oldest first (run ids start with a UTC timestamp)."""
    runs = sandbox.runs_dir
    return [RunRecord(p) for p in sorted(runs.iterdir()) if p.is_dir() and (p / "env.json").exists()] if runs.exists() else []


def get_run(sandbox, run_id: str) -> RunRecord:
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise NotFound(f"invalid run id {run_id!r}: see `pinsandbox runs list --sandbox {sandbox.owner}`")
    path = sandbox.runs_dir / run_id
    if not (path / "env.json").exists():
        raise NotFound(f"sandbox {sandbox.owner!r} has no run {run_id!r}: see `pinsandbox runs list --sandbox {sandbox.owner}`")
    return RunRecord(path)


def compare(a: RunRecord, b: RunRecord) -> dict:
    """The params and metrics that differ between two runs: {"params": {k: (a, b)}, "metrics": {k: (a, b)}}."""
    out = {}
    for part in ("params", "metrics"):
        da, db = getattr(a, part), getattr(b, part)
        out[part] = {k: (da.get(k), db.get(k)) for k in sorted(set(da) | set(db)) if da.get(k) != db.get(k)}
    return out
