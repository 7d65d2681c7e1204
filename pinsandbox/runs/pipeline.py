"""`run-all`: the stage notebooks in order, skipping a stage whose notebook, params and inputs are unchanged."""

from __future__ import annotations

import hashlib
import sys

from pinsandbox import settings
from pinsandbox.errors import RunFailed
from pinsandbox.runs.presets import preset_params
from pinsandbox.runs.records import RunRecord, list_runs
from pinsandbox.runs.runner import run_notebook
from pinsandbox.sandbox.sandbox import resolve


def stage_notebooks() -> list:
    """`notebooks/NN_*.ipynb`, in order: whatever stages exist — but not the loop's (07_retrain runs on its own,
    `pinsandbox retrain`, on a sandbox whose stages have run)."""
    from pinsandbox.stages import LOOP_NOTEBOOKS

    return sorted(p for p in settings.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb") if p.stem not in LOOP_NOTEBOOKS.values())


def unchanged_since(sandbox, notebook, params: dict) -> RunRecord | None:
    """The last `ok` run of `notebook` with the same notebook text and params whose inputs and outputs are
    still the current artifact versions — or None if the stage must run again."""
    digest = hashlib.sha256(notebook.read_bytes()).hexdigest()
    for run in reversed(list_runs(sandbox)):
        if run.notebook != notebook.stem:
            continue
        if run.state != "ok" or run.env.get("notebook_sha256") != digest or run.params != params:
            return None
        still_current = all(_is_current(sandbox, aid) for aid in run.inputs + run.outputs)
        return run if still_current else None
    return None


def _is_current(sandbox, artifact_id: str) -> bool:
    stage, rest = artifact_id.split("/", 1)
    name = rest.split("@", 1)[0]
    return sandbox.artifacts.current_id(stage, name) == artifact_id


def run_all(sandbox=None, preset: str = "demo", *, isolation_mode: str | None = None, force: bool = False, wait: bool = True):
    """Run every stage notebook in order; returns the list of (stage, record, skipped)."""
    sb = resolve(sandbox)
    done = []
    for nb in stage_notebooks():
        params = preset_params(nb.stem, preset)
        previous = None if force else unchanged_since(sb, nb, params)
        if previous is not None:
            print(f"{nb.stem}: unchanged since run {previous.id} (notebook, params and inputs the same) — skipped", file=sys.stderr)
            done.append((nb.stem, previous, True))
            continue
        record = run_notebook(nb, sb, params, isolation_mode=isolation_mode, wait=wait)
        done.append((nb.stem, record, False))
        if record.state != "ok":
            s = record.status
            raise RunFailed(
                f"stage {nb.stem} failed at cell {s.get('cell')}: {s.get('error')} — see {record.path / 'notebook.ipynb'}"
            )
    return done
