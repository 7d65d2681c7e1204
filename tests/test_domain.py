"""The shared domain layer: the catalog schema, ranking metrics, configs that travel with artifacts, StageResult."""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from pinsandbox.config import config_from_dict, config_to_dict
from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.metrics import bootstrap_ci, ndcg_at_k, ranking_metrics, recall_at_k
from pinsandbox.schema import ACTION_WEIGHTS, ACTIONS, ENGAGEMENTS, parse_times, to_utc, utc_timestamp
from pinsandbox.stages import StageResult, check_metric_key


def test_actions_weights_and_engagements_agree():
    assert set(ACTION_WEIGHTS) == set(ACTIONS) and set(ENGAGEMENTS) == set(ACTIONS) - {"impression"}
    assert [ACTION_WEIGHTS[a] for a in ACTIONS] == sorted(ACTION_WEIGHTS.values())  # deeper in the funnel, more weight


def test_times_parse_iso_unix_and_refuse_the_rest():
    got = parse_times(pd.Series(["2025-01-06T10:00:00Z", "2025-01-06T11:00:00", "1736158000", "yesterday"]))
    assert got.iloc[0] == pd.Timestamp("2025-01-06T10:00:00Z") and got.iloc[1] == pd.Timestamp("2025-01-06T11:00:00Z")
    assert got.iloc[2] == pd.Timestamp(1736158000, unit="s", tz="UTC") and pd.isna(got.iloc[3])
    with pytest.raises(InvalidInput, match="'yesterday' at row 4"):
        to_utc(["2025-01-06", "2025-01-07", "2025-01-08", "yesterday"])
    assert utc_timestamp("1736158000") == utc_timestamp(1736158000) == pd.Timestamp(1736158000, unit="s", tz="UTC")
    assert utc_timestamp("2025-01-06T12:00:00+02:00") == pd.Timestamp("2025-01-06T10:00:00Z")
    with pytest.raises(InvalidInput, match="not a time"):
        utc_timestamp("soon")


def test_ranking_metrics_by_hand():
    assert recall_at_k(["a", "x", "b"], {"a", "b"}, 3) == 1.0
    assert recall_at_k(["a", "x"], {"a", "b", "c"}, 2) == 0.5  # divides by min(|gold|, k)
    assert ndcg_at_k(["x", "a"], {"a"}, 2) == pytest.approx(1 / np.log2(3))
    m = ranking_metrics({"q1": ["a", "x"], "q2": ["y", "z"]}, {"q1": {"a"}, "q2": {"b"}, "q3": set()}, k=2)
    assert m == {"precision@2": 0.25, "recall@2": 0.5, "ndcg@2": 0.5, "hit_rate@2": 0.5, "queries": 2}


def test_bootstrap_is_seeded_paired_and_narrows_with_more_data():
    rng = np.random.default_rng(0)
    few, many = rng.normal(1, 1, 20), rng.normal(1, 1, 2000)
    assert bootstrap_ci(few, seed=3) == bootstrap_ci(few, seed=3)
    lo, hi = bootstrap_ci(few, seed=3)
    lo2, hi2 = bootstrap_ci(many, seed=3)
    assert lo < 1 < hi and (hi2 - lo2) < (hi - lo) / 3
    pairs = np.c_[few, few + 0.5]  # a paired statistic keeps its rows together: the difference is exactly 0.5
    assert bootstrap_ci(pairs, statistic=lambda v: (v[:, 1] - v[:, 0]).mean()) == pytest.approx((0.5, 0.5))


@dataclass
class Inner:
    steps: int = 10
    sizes: tuple = (1, 2)


@dataclass
class Outer:
    name: str = "x"
    inner: Inner = field(default_factory=Inner)


def test_config_round_trips_and_refuses_unknown_fields():
    cfg = Outer("y", Inner(3, (4, 5)))
    assert config_from_dict(Outer, config_to_dict(cfg)) == cfg
    with pytest.raises(InvalidInput, match="no field.*stepz"):
        config_from_dict(Outer, {"inner": {"stepz": 1}})


def test_artifact_gives_back_the_config_it_was_made_with(sandbox):
    cfg = Outer("made", Inner(7))
    with sandbox.artifacts.write("tests", "thing", config=cfg) as w:
        (w.path / "data.txt").write_text("x")
    art = sandbox.artifacts.read("tests", "thing")
    assert art.config() == cfg and art.params["inner"]["steps"] == 7
    with sandbox.artifacts.write("tests", "bare") as w:
        (w.path / "data.txt").write_text("x")
    with pytest.raises(NotFound, match="without a config"):
        sandbox.artifacts.read("tests", "bare").config()


def test_metric_keys_follow_one_convention():
    assert check_metric_key("embeddings.hit_rate@10.proprietary")
    for bad in ("hit_rate@10_proprietary", "gold.homefeed.ndcg@10", "Serving.p99", "tastegraph_ndcg@10"):
        with pytest.raises(InvalidInput, match="<stage>.<metric>"):
            check_metric_key(bad)
    with pytest.raises(InvalidInput):
        StageResult(stage="serving", config=None, metrics={"p99_ms": 3})


@dataclass
class WithOptional:
    inner: Inner | None = None


def test_optional_nested_config_round_trips():
    for cfg in (WithOptional(Inner(2, (3,))), WithOptional(None)):
        assert config_from_dict(WithOptional, config_to_dict(cfg)) == cfg
