"""`record(name, value)`: show a headline figure in the notebook and write it to the run's metrics.json."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from pinsandbox.sandbox.artifacts import write_text_atomic

_session_metrics: dict = {}  # outside a run (e.g. in JupyterLab) figures are kept here and shown only


def _plain(value):
    """JSON-safe, rounded-for-reading copy of a metric value (numpy scalars, dicts and lists included)."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def record(name: str, value):
    """Record a headline figure of this run. Returns the value so it can be used inline."""
    plain = _plain(value)
    run_dir = os.environ.get("PINSANDBOX_RUN_DIR")
    if run_dir:
        path = Path(run_dir) / "metrics.json"
        metrics = json.loads(path.read_text()) if path.exists() else {}
        metrics[name] = plain
        write_text_atomic(path, json.dumps(metrics, indent=1, sort_keys=True))
    else:
        _session_metrics[name] = plain
    _show(name, plain)
    return value


def recorded() -> dict:
    """Metrics recorded so far in this process's run (or session)."""
    run_dir = os.environ.get("PINSANDBOX_RUN_DIR")
    if run_dir and (Path(run_dir) / "metrics.json").exists():
        return json.loads((Path(run_dir) / "metrics.json").read_text())
    return dict(_session_metrics)


def _show(name, value):
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(Markdown(f"**{name}** = `{json.dumps(value)}`"))
    else:
        print(f"{name} = {json.dumps(value)}")
