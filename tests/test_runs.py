"""Runs: papermill under isolation, run records, reproducibility, run-all, sweeps, crashes, concurrency."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pinsandbox import settings
from pinsandbox.runs import pipeline
from pinsandbox.runs.records import compare, list_runs
from pinsandbox.runs.runner import run_notebook
from pinsandbox.runs.sweep import parse_grid, sweep

TEST_NOTEBOOKS = Path(__file__).parent / "notebooks"

ECHO = TEST_NOTEBOOKS / "echo.ipynb"
SLOW = TEST_NOTEBOOKS / "slow_artifact.ipynb"


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "pinsandbox", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=settings.CODE_ROOT)  # fmt: skip


def test_run_writes_a_complete_record(sandbox):
    rec = run_notebook(ECHO, sandbox, {"seed": 3})
    assert rec.state == "ok", rec.status
    names = {p.name for p in rec.path.iterdir()}
    assert {"notebook.ipynb", "params.yaml", "metrics.json", "env.json", "status", "log"} <= names
    assert rec.params == {"seed": 3}
    env = rec.env
    assert env["seed"] == 3 and env["versions"]["papermill"] and env["git_commit"]
    assert env["duration_s"] > 0 and env["started"] and env["ended"] and env["host"]
    executed = json.loads((rec.path / "notebook.ipynb").read_text())
    assert any("Parameters injected" in "".join(c["source"]) or "injected-parameters" in c["metadata"].get("tags", [])
               for c in executed["cells"])  # fmt: skip


def test_same_params_same_metrics(sandbox):
    a = run_notebook(ECHO, sandbox, {"seed": 7})
    b = run_notebook(ECHO, sandbox, {"seed": 7})
    c = run_notebook(ECHO, sandbox, {"seed": 8})
    assert a.metrics == b.metrics
    assert a.metrics != c.metrics
    assert compare(a, c)["params"] == {"seed": (7, 8)}
    assert compare(a, b) == {"params": {}, "metrics": {}}


def test_failed_run_names_cell_and_error(sandbox):
    rec = run_notebook(ECHO, sandbox, {"fail": True})
    assert rec.state == "failed"
    assert rec.status["cell"] == 3
    assert rec.status["error"] == "ValueError: asked to fail"
    assert rec.metrics["value"] > 0  # what ran before the failure is still recorded


@pytest.mark.slow
def test_cli_run_list_show_compare(sandbox):
    assert cli("run", ECHO, "--sandbox", "alice", "-p", "seed", "1").returncode == 0
    assert cli("run", ECHO, "--sandbox", "alice", "-p", "seed", "2", "-p", "scale", "0.5").returncode == 0
    failed = cli("run", ECHO, "--sandbox", "alice", "-p", "fail", "true")
    assert failed.returncode == 1 and "failed at cell 3: ValueError: asked to fail" in failed.stderr
    runs = json.loads(cli("runs", "list", "--sandbox", "alice", "--json").stdout)
    assert [r["state"] for r in runs] == ["ok", "ok", "failed"]
    shown = json.loads(cli("runs", "show", runs[1]["id"], "--sandbox", "alice", "--json").stdout)
    assert shown["params"] == {"seed": 2, "scale": 0.5}
    diff = cli("runs", "compare", runs[0]["id"], runs[1]["id"], "--sandbox", "alice")
    assert "seed" in diff.stdout and "scale" in diff.stdout and "value" in diff.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "nope.ipynb", "--sandbox", "alice"], "no notebook 'nope.ipynb'"),
        (["run", ECHO, "--sandbox", "alice", "-p", "9lives", "1"], "invalid parameter name '9lives'"),
        (["run", ECHO, "--sandbox", "alice", "-p", "seed", "[1, 2"], "parameter seed: cannot read value"),
        (["run", ECHO, "--sandbox", "nobody"], "no sandbox 'nobody'"),
        (["run", ECHO, "--sandbox", "../x"], "invalid sandbox name '../x'"),
        (["run", ECHO, "--sandbox", "alice", "-p", "seed"], "expected 2 arguments"),
        (["sandbox", "create", "Bob"], "invalid sandbox name 'Bob'"),
        (["sandbox", "create", ""], "invalid sandbox name ''"),
        (["sandbox", "create", "a" * 100], "invalid sandbox name"),
        (["runs", "show", "nope", "--sandbox", "alice"], "has no run 'nope'"),
        (["sweep", ECHO, "--sandbox", "alice", "--grid", "seed"], "invalid --grid 'seed'"),
    ],
)
def test_bad_input_is_one_line_and_creates_nothing(sandbox, sandboxes_root, args, message):
    before = sorted(str(p) for p in sandboxes_root.rglob("*"))
    out = cli(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert sorted(str(p) for p in sandboxes_root.rglob("*")) == before


@pytest.mark.slow
def test_run_all_skips_unchanged_stages(sandbox, tmp_path, monkeypatch, capsys):
    stages = tmp_path / "notebooks"
    stages.mkdir()
    (stages / "00_make.ipynb").write_bytes(SLOW.read_bytes())
    use = json.loads(ECHO.read_text())
    use["cells"][1]["source"] = "import pinsandbox\nart = pinsandbox.current_sandbox().artifacts.read('demo', 'slow')\npinsandbox.record('value', int(art.file('value.txt').read_text()))"
    (stages / "01_use.ipynb").write_text(json.dumps(use))
    monkeypatch.setattr(settings, "NOTEBOOKS_DIR", stages)

    first = pipeline.run_all(sandbox, "demo")
    assert [(s, skipped) for s, _, skipped in first] == [("00_make", False), ("01_use", False)]
    assert first[1][1].inputs == [first[0][1].outputs[0]]
    second = pipeline.run_all(sandbox, "demo")
    assert [skipped for *_, skipped in second] == [True, True]
    assert "unchanged since run" in capsys.readouterr().err
    with sandbox.artifacts.write("demo", "slow") as w:  # someone replaced the stage's output
        (w.path / "value.txt").write_text("5")
    third = pipeline.run_all(sandbox, "demo")
    assert [skipped for *_, skipped in third] == [False, False]
    assert third[1][1].metrics["value"] == 1


@pytest.mark.slow
def test_sweep_local(sandbox):
    records = sweep(ECHO, sandbox, parse_grid(["seed=0", "scale=1,2.5"]))
    assert [r.params for r in records] == [{"seed": 0, "scale": 1}, {"seed": 0, "scale": 2.5}]
    v = [r.metrics["value"] for r in records]
    assert v[1] == pytest.approx(2.5 * v[0], rel=1e-5)


@pytest.mark.slow
def test_sweep_on_ray(sandbox):
    out = cli("sweep", ECHO, "--sandbox", "alice", "--grid", "seed=0,1", "--engine", "ray", "--json", timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out.stdout)
    assert [r["seed"] for r in rows] == [0, 1] and all(r["state"] == "ok" for r in rows)
    local = sweep(ECHO, sandbox, parse_grid(["seed=0,1"]))
    assert [r["value"] for r in rows] == [r.metrics["value"] for r in local]


@pytest.mark.slow
def test_concurrent_runs_queue_and_no_wait_refuses(sandbox):
    procs = [subprocess.Popen([sys.executable, "-m", "pinsandbox", "run", str(SLOW), "--sandbox", "alice",
                               "-p", "value", str(v), "-p", "hold_s", "2"], stderr=subprocess.PIPE, text=True)
             for v in (1, 2)]  # fmt: skip
    time.sleep(1.0)
    busy = cli("run", ECHO, "--sandbox", "alice", "--no-wait")
    assert busy.returncode == 2 and "is busy with run" in busy.stderr
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs
    assert any("waiting" in e for e in errs)
    runs = list_runs(sandbox)
    assert sorted(r.metrics["value"] for r in runs) == [1, 2]
    assert all(r.state == "ok" and (r.path / "notebook.ipynb").exists() for r in runs)


@pytest.mark.slow
def test_sigkill_mid_artifact_keeps_previous_and_marks_failed(sandbox):
    assert run_notebook(SLOW, sandbox, {"value": 1}).state == "ok"
    before = sandbox.artifacts.read("demo", "slow")
    proc = subprocess.Popen([sys.executable, "-m", "pinsandbox", "run", str(SLOW), "--sandbox", "alice",
                             "-p", "value", "2", "-p", "hold_s", "60"])  # fmt: skip
    stage = sandbox.root / "artifacts" / "demo"
    deadline = time.time() + 60
    while not list(stage.glob(".staging-*/started")):
        assert time.time() < deadline, "the second run never started writing its artifact"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    after = sandbox.artifacts.read("demo", "slow")
    assert after.id == before.id and after.file("value.txt").read_text() == "1"
    last = list_runs(sandbox)[-1]
    assert last.state == "failed" and "interrupted" in last.status["error"]
    time.sleep(1)  # the kernel dies with its runner: nothing is still writing to the sandbox
    assert sandbox.artifacts.read("demo", "slow").id == before.id
    assert list(stage.glob(".staging-*"))  # the killed writer's half-written folder is still there…
    assert run_notebook(SLOW, sandbox, {"value": 3}).state == "ok"
    assert not list(stage.glob(".staging-*"))  # …until the next write to the stage sweeps it (quota)
    assert sandbox.artifacts.read("demo", "slow").file("value.txt").read_text() == "3"


@pytest.mark.slow
def test_timeout_fails_the_run(sandbox):
    rec = run_notebook(TEST_NOTEBOOKS / "escape.ipynb", sandbox, {"attempt": "sleep", "target": "60"}, timeout_s=8)
    assert rec.state == "failed" and "timed out after 8 s" in rec.status["error"]


def test_figures_are_saved_as_images_in_the_run_notebook(sandbox):
    """A run's output notebook keeps its plots: shown with plt.show() and returned as a cell's value alike."""
    rec = run_notebook(TEST_NOTEBOOKS / "plot.ipynb", sandbox, {"points": 5})
    assert rec.state == "ok", rec.status
    cells = json.loads((rec.path / "notebook.ipynb").read_text())["cells"]
    outputs = {c["id"]: c.get("outputs", []) for c in cells if c["cell_type"] == "code"}
    backend = "".join("".join(o.get("text", "")) for o in outputs["p1"])
    assert "backend" in backend and "agg" != backend.split()[-1].lower()  # inline, not the headless Agg
    for cell in ("p1", "p2"):
        assert any("image/png" in o.get("data", {}) for o in outputs[cell]), f"cell {cell} has no image: {outputs[cell]}"
        assert not any("<Figure" in "".join(o.get("data", {}).get("text/plain", "")) and "image/png" not in o.get("data", {})
                       for o in outputs[cell])
