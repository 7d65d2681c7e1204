"""`pinsandbox bench`: runs real benchmark scripts, reads their JSON (one line or indented), and flags
regressions by direction (latency up is worse, ratio or recall down is worse) against the previous report."""

from __future__ import annotations

import json

import pytest

from pinsandbox import bench, settings

SCRIPT = """
import json, os, sys
value = float(os.environ["BENCH_SCALE"])
result = {{"serving": {{"homefeed_p99_ms": 10 * value}}, "ttft_ratio": 20 / value, "pins": 1000}}
print("warming up…")
print(json.dumps(result{indent}))
"""


@pytest.fixture
def benchmarks(tmp_path, monkeypatch):
    (tmp_path / "bench_one.py").write_text(SCRIPT.format(indent=""))
    (tmp_path / "bench_two.py").write_text(SCRIPT.format(indent=", indent=1"))  # indented JSON, as bench_vlm prints
    monkeypatch.setattr(settings, "BENCHMARKS_DIR", tmp_path)
    monkeypatch.setattr(bench, "REPORTS", tmp_path / "reports")
    return tmp_path


def test_bench_reports_and_flags_regressions_by_direction(benchmarks, monkeypatch):
    monkeypatch.setenv("BENCH_SCALE", "1")
    first, _ = bench.run_all(quick=True)
    assert first["results"]["two"]["ttft_ratio"] == 20 and first["regressions"] == []
    assert first["comparison"]["one.serving.homefeed_p99_ms"]["direction"] == "lower"
    assert first["comparison"]["one.ttft_ratio"]["direction"] == "higher"

    monkeypatch.setenv("BENCH_SCALE", "2")  # latency doubles and the ratio halves: both are worse
    second, path = bench.run_all(quick=True)
    assert sorted(second["regressions"]) == ["one.serving.homefeed_p99_ms", "one.ttft_ratio",
                                             "two.serving.homefeed_p99_ms", "two.ttft_ratio"]
    assert second["comparison"]["one.pins"]["regression"] is False  # no direction, never flagged
    md = path.with_suffix(".md").read_text()
    assert "## Headline figures" in md and "TTFT ratio" in md and "serving p99" in md
    assert "| one.ttft_ratio | 10 | 20 | -50% | ↑ | ⚠ regression |" in md
    assert json.loads(path.read_text())["previous"] == first["created"]

    monkeypatch.setenv("BENCH_SCALE", "0.5")  # better on both: nothing flagged
    third, _ = bench.run_all(quick=True)
    assert third["regressions"] == []


def test_bench_names_a_failed_benchmark(benchmarks, monkeypatch):
    monkeypatch.delenv("BENCH_SCALE", raising=False)  # the scripts crash without it
    report, path = bench.run_all(quick=True, only=["one"])
    assert "error" in report["results"]["one"] and "KeyError" in report["results"]["one"]["error"]
    assert "**Failed benchmarks:** one:" in path.with_suffix(".md").read_text()


def test_results_pages_carry_each_benchmarks_newest_figures(benchmarks, monkeypatch, tmp_path, sandbox):
    """`pinsandbox report --results` writes DIR/bench.md (the page the guides link): for each benchmark, its
    figures from the newest report that ran it — a later report of one benchmark does not hide the other's."""
    from pinsandbox.evaluation.report import Collected
    from pinsandbox.evaluation.results import write_results

    monkeypatch.setenv("BENCH_SCALE", "1")
    _, both = bench.run_all(quick=True)
    monkeypatch.setenv("BENCH_SCALE", "2")
    _, only_two = bench.run_all(quick=True, only=["two"])
    collected = Collected(sandbox=sandbox, stages={}, evaluation=None, bench=None)
    page = write_results(sandbox, tmp_path / "results", collected=collected)["bench"].read_text()
    one, two = page.split("## two")
    assert both.name in one and "| ttft_ratio | 20 |" in one
    assert only_two.name in two and "| ttft_ratio | 10 |" in two
