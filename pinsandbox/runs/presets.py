"""Presets: `demo` is each notebook's own defaults; `smoke` is the tiny sizes in notebooks/smoke/<stem>.yaml.

One source for the tests (nbval and papermill) and `pinsandbox run-all --preset smoke`.
"""

from __future__ import annotations

import yaml

from pinsandbox import settings
from pinsandbox.errors import InvalidInput

PRESETS = ("demo", "smoke")


def preset_params(notebook_stem: str, preset: str) -> dict:
    if preset not in PRESETS:
        raise InvalidInput(f"unknown preset {preset!r}: use one of {', '.join(PRESETS)}")
    if preset == "demo":
        return {}
    path = settings.NOTEBOOKS_DIR / "smoke" / f"{notebook_stem}.yaml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def injected_source(params: dict) -> str:
    """Python assignments for `params`, as papermill injects them after the parameters cell."""
    if not params:
        return ""
    lines = ["", "# Parameters injected for this run"]
    lines += [f"{key} = {value!r}" for key, value in params.items()]
    return "\n".join(lines) + "\n"
