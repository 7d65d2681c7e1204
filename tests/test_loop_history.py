"""Notebook 08 (#18): every recorded figure over versions and over time, and the regression alarm's verdicts —
run as users run it (papermill, through the runner) over a sandbox history with reruns and an injected regression."""

import json

import numpy as np
import pytest

import pinsandbox
from pinsandbox.loop import append_history, metric_history, regression_alarm


def _entry(notebook, i, metrics, commit="c1"):
    return {"run_id": f"{notebook}-r{i}", "notebook": notebook, "state": "ok", "params": {"seed": 0},
            "git_commit": commit, "started": f"2026-01-{i + 1:02d}T10:00:00+00:00", "ended": None, "duration_s": 1.0,
            "metrics": metrics}


@pytest.mark.slow
def test_history_notebook_plots_every_figure_and_fires_only_on_the_injected_regression(sandbox):
    rng = np.random.default_rng(0)
    # two notebooks, five reruns each of the same code and params: a seeded figure (identical) and a timing (noisy)
    for nb, ndcg in (("07_retrain", 0.31), ("04_taste_graph", 0.42)):
        for i in range(5):
            append_history(sandbox, _entry(nb, i, {"x.ndcg@10": ndcg, "x.homefeed_p99_ms": 5 + rng.normal(0, 0.5)}))
    # 04's latest run is new code with an injected regression: NDCG down, latency up far beyond the noise
    append_history(sandbox, _entry("04_taste_graph", 5, {"x.ndcg@10": 0.40, "x.homefeed_p99_ms": 25.0}, commit="c2"))

    record = pinsandbox.run("08_history", sandbox, {"ncols": 2})
    assert record.state == "ok", record.status
    m = record.metrics
    assert m["history.regressions.04_taste_graph"] == 2 and m["history.regressions.07_retrain"] == 0
    assert m["history.regressions"] == 2 and m["history.runs"] == 11
    assert m["history.metrics_judged"] == 6 and m["history.metrics_unmeasured"] == 0  # 3 metrics each, with duration
    cells = json.loads((record.path / "notebook.ipynb").read_text())["cells"]
    text = "".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))  # str or list of lines
    assert "REGRESSION x.ndcg@10: 0.42 -> 0.4" in text and "REGRESSION x.homefeed_p99_ms" in text
    assert "07_retrain: run 07_retrain-r4 against 07_retrain-r3: 0 regression(s), 3 within noise" in text
    figures = [sum("image/png" in o.get("data", {}) for o in c.get("outputs", [])) for c in cells]
    assert figures[-3] == figures[-1] == 2  # one grid per notebook, over versions and over time

    # the notebook's own run joined the history, and is not what the alarm judges for the other notebooks
    assert record.id in set(metric_history(sandbox)["run_id"])
    assert regression_alarm(sandbox, "04_taste_graph-r5")["alarms"]


@pytest.mark.slow
def test_history_notebook_refuses_an_unknown_notebook(sandbox):
    append_history(sandbox, _entry("07_retrain", 0, {"x.ndcg@10": 0.3}))
    record = pinsandbox.run("08_history", sandbox, {"notebooks": ["09_nope"]})
    assert record.state == "failed" and "no run of 09_nope" in record.status["error"]
