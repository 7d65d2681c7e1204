"""Evaluation: ranking metrics by hand, the A/B statistics on known outcomes, the seeded simulation, the
published evaluation artifact and the side-by-side report (library and CLI)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinsandbox.evaluation import ABConfig, compare
from pinsandbox.metrics import ranking_metrics


def test_ranking_metrics_match_hand_computed_values():
    ranked = {"q1": ["a", "x", "b"], "q2": ["y", "z", "c"]}
    targets = {"q1": {"a", "b"}, "q2": {"c", "d", "e", "f"}}
    m = ranking_metrics(ranked, targets, k=3)
    assert m["precision@3"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert m["recall@3"] == pytest.approx((2 / 2 + 1 / 3) / 2)  # q2: 1 of min(4, 3)
    ndcg_q1 = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    ndcg_q2 = (1 / np.log2(4)) / (1 + 1 / np.log2(3) + 1 / np.log2(4))
    assert m["ndcg@3"] == pytest.approx((ndcg_q1 + ndcg_q2) / 2)
    assert m["queries"] == 2
    assert ranking_metrics({}, {"q": {"a"}}, k=5)["recall@5"] == 0.0  # a query nobody answered scores 0


def _outcomes(lift: float, n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.poisson(2.0, n)
    rows = []
    for name, extra in (("off-the-shelf", 0), ("blueprint", lift)):
        saves = base + (rng.poisson(extra, n) if extra else 0)
        rows.append(pd.DataFrame({"variant": name, "pinner_id": [f"u{i}" for i in range(n)], "impressions": 40,
                                  "closeups": saves * 2, "saves": saves, "board_creations": saves // 2,
                                  "merchant_clicks": base // 2}))
    return pd.concat(rows, ignore_index=True)


def test_bootstrap_verdicts_follow_the_data():
    table = compare(_outcomes(1.0), "off-the-shelf", "blueprint", ABConfig(bootstrap=500)).set_index("metric")
    assert table.loc["saves", "verdict"] == "blueprint ahead"
    assert table.loc["saves", "ci_low"] > 0 and table.loc["saves", "difference"] == pytest.approx(
        table.loc["saves", "blueprint"] - table.loc["saves", "off-the-shelf"])
    assert table.loc["merchant_clicks", "verdict"] == "no clear difference"  # identical arms
    assert table.loc["merchant_clicks", "ci_low"] == table.loc["merchant_clicks", "ci_high"] == 0
    with pytest.raises(Exception, match="same pinners"):
        compare(_outcomes(1.0).query("variant == 'blueprint' or pinner_id != 'u0'"), "off-the-shelf", "blueprint")


def test_evaluation_end_to_end_is_seeded_published_and_reported(world, capsys):
    import pinsandbox.cli
    from pinsandbox.evaluation import load_results, run_evaluation

    cfg = ABConfig(pinners=30, sessions=2, bootstrap=300, seed=3)
    first = run_evaluation(world, ab=cfg)
    again = run_evaluation(world, ab=cfg, publish=False)
    pd.testing.assert_frame_equal(first.outcomes, again.outcomes)  # same seed, same simulated pinners, same clicks
    pd.testing.assert_frame_equal(first.gold, again.gold)

    gold = first.gold
    assert set(gold["variant"]) == {"off-the-shelf", "proprietary", "blueprint"}
    assert set(gold["task"]) == {"homefeed", "item-to-item", "navigator"}
    assert gold[["precision@10", "recall@10", "ndcg@10"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (gold["queries"] > 0).all()
    out = first.outcomes
    assert (out.groupby("variant").size() == 30).all()
    assert (out["saves"] <= out["closeups"]).all() and (out["board_creations"] <= out["saves"]).all()
    assert set(first.ab["verdict"]) <= {"blueprint ahead", "blueprint behind", "no clear difference"}

    stored = load_results(world)
    assert stored.artifact_id.startswith("evaluation/results@")
    pd.testing.assert_frame_equal(stored.ab, first.ab)

    assert pinsandbox.cli.main(["report", "--sandbox", "world"]) == 0
    printed = capsys.readouterr()
    assert "## Accuracy — gold sets" in printed.out and "## Engagement — A/B simulation" in printed.out
    assert "blueprint vs off-the-shelf" in printed.out
    assert "## At a glance" in printed.out and "| engagement | saves per pinner (A/B) |" in printed.out
    assert (world.root / "report.md").read_text() + "\n" == printed.out
    assert f"report: {world.root / 'report.md'}" in printed.err


def test_report_without_evaluation_says_what_to_run(world):
    from pinsandbox.evaluation import build_report

    text = build_report(world)
    assert "No evaluation yet" in text and "06_evaluation_ab.ipynb" in text
