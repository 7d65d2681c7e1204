"""SIGKILL during a retrain (#18): the champion keeps serving, nothing half-written is served, the promotion log and
the metric history stay intact, and the next retrain runs as if nothing happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import TEST_NOTEBOOKS


@pytest.mark.slow
def test_sigkill_mid_retrain_leaves_champion_serving_and_history_intact(world, sandboxes_root):
    import pinsandbox
    import pinsandbox.cli
    from pinsandbox.catalog import advance_catalog, load_catalog
    from pinsandbox.loop import metric_history, promotion_log
    from pinsandbox.serving import start

    advance_catalog(world, 7, progress=False)  # new data: the retrain has something to do
    history = world.path("loop/history.jsonl")
    # one recorded run first, so there is a history to keep (the cheapest notebook: a retrain here costs ~15 s more)
    assert pinsandbox.run(TEST_NOTEBOOKS / "echo.ipynb", world, {"seed": 0}).state == "ok"
    before = {"history": history.read_bytes(), "log": promotion_log(world),
              "champion": world.artifacts.current_id("tastegraph", "taste-graph"),
              "vectors": world.artifacts.current_id("embeddings", "proprietary")}
    pinner = load_catalog(world).train_events()["pinner_id"].iloc[0]
    old_challenger = world.artifacts.current_id("tastegraph", "challenger")

    with start(world) as server, server.client() as c:
        # the retrain as users run it (notebook 07 in a papermill kernel), in its own process group; SIGKILLed
        # once its refreshed vectors are out, while it refits and scores: kernel and CLI die with no cleanup
        env = {**os.environ, "PINSANDBOX_ROOT": str(sandboxes_root)}
        proc = subprocess.Popen([sys.executable, "-m", "pinsandbox", "retrain", "--sandbox", "world"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        first_vectors = world.artifacts.current_id("embeddings", "proprietary-challenger")
        deadline = time.monotonic() + 180
        while world.artifacts.current_id("embeddings", "proprietary-challenger") == first_vectors:
            assert proc.poll() is None and time.monotonic() < deadline, "the retrain ended before it could be killed"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL

        for _ in range(100):  # still serving, the same champion, after the watcher had time to look
            assert c.get(f"/pinners/{pinner}/homefeed").status_code == 200
            health = c.get("/healthz").json()
            time.sleep(0.02)
        assert {r: health["champion"][r] for r in ("tastegraph", "vectors")} == {"tastegraph": before["champion"],
                                                                                 "vectors": before["vectors"]}
        assert health["champion_swaps"] == 0
        # nothing of the killed run lives on (its kernel included): no challenger was published after the kill
        assert world.artifacts.current_id("tastegraph", "challenger") == old_challenger
        assert history.read_bytes() == before["history"]  # as it was: the killed run appended nothing
        assert len(metric_history(world))  # and readable
        assert promotion_log(world) == before["log"]
        assert world.artifacts.current_id("tastegraph", "taste-graph") == before["champion"]

    # the sandbox is usable: the next retrain runs, is recorded, and the history gains exactly one line
    assert pinsandbox.cli.main(["retrain", "--sandbox", "world", "--no-promote"]) == 0
    lines = history.read_bytes().splitlines()
    assert lines[:-1] == before["history"].splitlines() and len(lines) == len(before["history"].splitlines()) + 1
    assert not list(world.path("artifacts/tastegraph").glob(".staging-*"))  # the killed writer's leftovers swept
