"""Evaluation: ranking metrics by hand, the A/B statistics on known outcomes, the config checked before any work,
and the stage's entry point on the tiny world: seeded, published with its config, metrics under
`evaluation.<task>.<metric>.<variant>` / `evaluation.ab.<metric>.<part>`, and the same through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pinsandbox.errors import InvalidInput
from pinsandbox.evaluation import ABConfig, EvaluationConfig, compare
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
    assert m["hit_rate@3"] == 1.0 and m["queries"] == 2
    assert ranking_metrics({}, {"q": {"a"}}, k=5)["recall@5"] == 0.0  # a query nobody answered scores 0


def outcomes(lift: float, n: int = 200, seed: int = 0) -> pd.DataFrame:
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
    table = compare(outcomes(1.0), "off-the-shelf", "blueprint", ABConfig(bootstrap=500)).set_index("metric")
    assert table.loc["saves", "verdict"] == "blueprint ahead"
    assert table.loc["saves", "ci_low"] > 0 and table.loc["saves", "difference"] == pytest.approx(
        table.loc["saves", "blueprint"] - table.loc["saves", "off-the-shelf"])
    assert table.loc["merchant_clicks", "verdict"] == "no clear difference"  # identical arms
    assert table.loc["merchant_clicks", "ci_low"] == table.loc["merchant_clicks", "ci_high"] == 0
    with pytest.raises(Exception, match="same pinners"):
        compare(outcomes(1.0).query("variant == 'blueprint' or pinner_id != 'u0'"), "off-the-shelf", "blueprint")


def test_a_bad_config_is_refused_whole_before_any_work(sandbox):
    from pinsandbox.evaluation import run_evaluation

    bad = EvaluationConfig(k=0, max_queries=-1, baseline="blueprint", treatment="blueprint",
                           ab=ABConfig(pinners=1, confidence=1.5))
    with pytest.raises(InvalidInput) as e:
        run_evaluation(sandbox, bad)  # the sandbox has no catalog at all: the config is checked first
    message = str(e.value)
    for part in ("k must be", "max_queries", "both 'blueprint'", "ab.pinners", "ab.confidence"):
        assert part in message
    assert not sandbox.artifacts.exists("evaluation", "results")
    with pytest.raises(InvalidInput, match="'popular' is not a variant"):
        EvaluationConfig(treatment="popular").validate()


def test_evaluation_end_to_end_is_seeded_published_with_its_config(world, capsys):
    import pinsandbox.cli
    from pinsandbox.evaluation import load_results, run_evaluation

    cfg = EvaluationConfig(max_queries=30, ab=ABConfig(pinners=30, sessions=2, bootstrap=300, seed=3))
    first = run_evaluation(world, cfg, progress=False)
    again = run_evaluation(world, cfg, progress=False, publish=False)
    pd.testing.assert_frame_equal(first.outcomes, again.outcomes)  # same seed, same simulated pinners, same clicks
    pd.testing.assert_frame_equal(first.gold, again.gold)
    assert first.metrics == again.metrics and first.stage == "evaluation" and first.config is cfg

    gold = first.gold
    assert set(gold["variant"]) == {"off-the-shelf", "proprietary", "blueprint"}
    assert set(gold["task"]) == {"homefeed", "item-to-item", "navigator"}
    assert gold[["precision@10", "recall@10", "ndcg@10", "hit_rate@10"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (gold["hit_rate@10"] >= gold["recall@10"] - 1e-12).all()  # a query with any hit counts whole
    assert (gold["queries"] > 0).all() and (gold["queries"] <= 30).all()
    out = first.outcomes
    assert (out.groupby("variant").size() == 30).all()
    assert (out["saves"] <= out["closeups"]).all() and (out["board_creations"] <= out["saves"]).all()

    m = first.metrics
    assert m["evaluation.homefeed.ndcg@10.blueprint"] == pytest.approx(
        gold.set_index(["task", "variant"]).loc[("homefeed", "blueprint"), "ndcg@10"])
    assert m["evaluation.item-to-item.hit_rate@10.off-the-shelf"] >= 0 and m["evaluation.navigator.queries"] > 0
    assert m["evaluation.ab.saves.verdict"] in ("blueprint ahead", "blueprint behind", "no clear difference")
    assert m["evaluation.ab.saves.ci_low"] <= m["evaluation.ab.saves.ci_high"]
    assert len([k for k in m if k.startswith("evaluation.ab.")]) == 6 * 4  # 6 A/B metrics × lift, CI, verdict

    stored = load_results(world)
    assert stored.artifact_id == first.artifact_id and stored.artifact_id.startswith("evaluation/results@")
    assert stored.config == cfg  # read back from the artifact's config.json, never a default
    assert stored.metrics == first.metrics
    pd.testing.assert_frame_equal(stored.ab, first.ab)
    assert first.record() == first.metrics  # outside a run: shown, kept in the session
    capsys.readouterr()

    assert pinsandbox.cli.main(["evaluate", "--sandbox", "world", "--max-queries", "30", "--ab-pinners", "30",
                                "--ab-sessions", "2", "--bootstrap", "300", "--seed", "3", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed.keys() == first.metrics.keys()
    assert printed["evaluation.homefeed.ndcg@10.blueprint"] == pytest.approx(m["evaluation.homefeed.ndcg@10.blueprint"])
    assert load_results(world).config.ab.seed == 3
