"""Execute a notebook for a sandbox: papermill under the sandbox's isolation, leaving `runs/<run-id>/`.

    runs/<run-id>/
      input.ipynb     the notebook as it was when the run started
      notebook.ipynb  the executed copy, outputs included
      params.yaml     the parameters papermill injected
      metrics.json    figures recorded with pinsandbox.record()
      env.json        versions, git commit, seed, host, isolation, start/end/duration
      inputs.json / outputs.json   artifact versions read and written
      status          {"state": "ok"|"failed"|"running", "cell": n, "error": "..."}
      log             the kernel's output, as it ran
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from pinsandbox import settings
from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.runs.records import RunRecord, write_json
from pinsandbox.sandbox import isolation
from pinsandbox.sandbox.sandbox import resolve

VERSIONED = ("pinsandbox", "torch", "transformers", "peft", "faiss-cpu", "papermill", "pandas", "numpy", "ray")


def resolve_notebook(notebook: str | os.PathLike) -> Path:
    """A notebook path, or the name of a stage notebook (`00_catalog` or `00_catalog.ipynb`)."""
    candidates = [Path(notebook), settings.NOTEBOOKS_DIR / notebook, settings.NOTEBOOKS_DIR / f"{notebook}.ipynb"]
    for path in candidates:
        if path.suffix == ".ipynb" and path.is_file():
            return path.resolve()
    stages = ", ".join(p.stem for p in sorted(settings.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")))
    raise NotFound(f"no notebook {str(notebook)!r}: give a path to an .ipynb file or a stage name ({stages})")


def parse_param(key: str, raw: str):
    """`-p KEY VALUE`: the value is read as YAML (1 → int, 0.5 → float, true → bool, [a, b] → list)."""
    if not key.isidentifier():
        raise InvalidInput(f"invalid parameter name {key!r}: it must be a Python identifier, e.g. n_pins")
    try:
        return yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        raise InvalidInput(f"parameter {key}: cannot read value {raw!r}; quote strings, e.g. -p {key} 'text'") from None


def new_run_id(notebook: Path) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{notebook.stem}-{secrets.token_hex(2)}"


def run_notebook(
    notebook,
    sandbox=None,
    params: dict | None = None,
    *,
    isolation_mode: str | None = None,
    wait: bool = True,
    timeout_s: float | None = None,
    quiet: bool = False,
) -> RunRecord:
    """Run `notebook` for `sandbox` with `params`; returns its record (check `.state`)."""
    sb = resolve(sandbox)
    nb_path = resolve_notebook(notebook)
    params = dict(params or {})
    for key in params:
        if not str(key).isidentifier():
            raise InvalidInput(f"invalid parameter name {key!r}: it must be a Python identifier")
    mode = isolation.choose(sb, isolation_mode)
    timeout_s = timeout_s or sb.limits.timeout_s
    run_id = new_run_id(nb_path)
    with sb.lock(f"run {run_id}", wait=wait):
        sb.check_quota()
        run_dir = sb.runs_dir / run_id
        run_dir.mkdir(parents=True)
        shutil.copyfile(nb_path, run_dir / "input.ipynb")
        (run_dir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=True))
        started = time.time()
        env = _environment_record(nb_path, params, mode, started)
        write_json(run_dir / "env.json", env)
        write_json(run_dir / "status", {"state": "running", "pid": os.getpid(), "host": platform.node()})
        if not quiet:
            print(f"run {run_id}: {nb_path.name} in sandbox {sb.owner!r} ({mode} isolation)", file=sys.stderr)
        with open(run_dir / "log", "wb") as log:
            proc = isolation.spawn(
                sb, [sys.executable, "-m", "pinsandbox.runs.execute", str(run_dir)], mode,
                env_extra={"PINSANDBOX_RUN_DIR": str(run_dir), "PINSANDBOX_RUN_ID": run_id},
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            status = _wait(proc, timeout_s, run_dir)
        ended = time.time()
        env.update(ended=_iso(ended), duration_s=round(ended - started, 2))
        write_json(run_dir / "env.json", env)
        write_json(run_dir / "status", status)
        record = RunRecord(run_dir)
        from pinsandbox.loop.history import append_history

        append_history(sb, record)  # the sandbox's one metric history (loop/history.jsonl)
    if not quiet:
        where = f" at cell {status['cell']}" if status.get("cell") else ""
        detail = f"{where}: {status['error']}" if status["state"] != "ok" else ""
        print(f"run {run_id}: {status['state']}{detail}  ({env['duration_s']} s, {run_dir})", file=sys.stderr)
    return record


def _wait(proc: subprocess.Popen, timeout_s: float, run_dir: Path) -> dict:
    try:
        rc = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return {"state": "failed", "cell": None, "error": f"timed out after {timeout_s:g} s (sandbox timeout_s)"}
    except BaseException:  # Ctrl-C or the like: do not leave the kernel behind
        _kill_group(proc)
        raise
    result_file = run_dir / "result.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    how = f"killed by signal {signal.Signals(-rc).name}" if rc < 0 else f"exited with code {rc}"
    return {"state": "failed", "cell": None, "error": f"the run process {how} before finishing (see {run_dir / 'log'})"}


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds")


def _environment_record(nb_path: Path, params: dict, mode: str, started: float) -> dict:
    versions = {}
    for dist in VERSIONED:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return {
        "notebook": nb_path.stem,
        "notebook_path": str(nb_path),
        "notebook_sha256": hashlib.sha256(nb_path.read_bytes()).hexdigest(),
        "seed": params.get("seed"),
        "python": platform.python_version(),
        "versions": versions,
        "git_commit": _git_commit(),
        "host": platform.node(),
        "isolation": mode,
        "started": _iso(started),
    }


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(settings.CODE_ROOT), "describe", "--always", "--dirty", "--abbrev=40"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None
