"""Notebooks 05 (serving) and 06 (evaluation, A/B, report) run through the real runner (papermill under the
sandbox's isolation) at their smoke sizes on the tiny Pinworld, and record their headline figures."""

from __future__ import annotations

from pinsandbox.runs.presets import preset_params
from pinsandbox.runs.runner import run_notebook


def test_serving_then_evaluation_notebooks(world):
    serving = run_notebook("notebooks/05_serving.ipynb", world, preset_params("05_serving", "smoke"), quiet=True)
    assert serving.state == "ok", serving.status
    m = serving.metrics
    assert m["serving.errors"] == 0 and m["serving.qps"] > 0
    assert m["serving.homefeed_p99_ms"] > 0 and m["serving.homefeed_pins_changed_after_5_saves"] >= 1

    evaluation = run_notebook("notebooks/06_evaluation_ab.ipynb", world, preset_params("06_evaluation_ab", "smoke"),
                              quiet=True)
    assert evaluation.state == "ok", evaluation.status
    m = evaluation.metrics
    assert 0 <= m["gold.homefeed.blueprint.ndcg@10"] <= 1
    assert m["ab.saves.verdict"] in ("blueprint ahead", "blueprint behind", "no clear difference")
    report = (world.root / "report.md").read_text()
    assert "## Engagement — A/B simulation" in report
    assert "serving.homefeed_p99_ms" in report  # the serving run's latency is in the side-by-side report
