"""The stage entry point `run_tastegraph` (on the shared tiny Pinworld), `pinsandbox tastegraph`, and
`pinsandbox recommend` / `pinsandbox.tastegraph.recommend` on an imported, text-only catalog."""

from dataclasses import replace

import pandas as pd
import pytest

import pinsandbox.cli
from pinsandbox.errors import InvalidInput
from pinsandbox.tastegraph.api import recommend
from pinsandbox.tastegraph.lightgcn import GNNConfig
from pinsandbox.tastegraph.model import TasteGraphConfig
from pinsandbox.tastegraph.synthetic import make_world


@pytest.fixture
def imported(sandbox):
    from pinsandbox.catalog import import_catalog

    w = make_world(n_pins=120, n_pinners=25, n_events=1500, n_styles=4, seed=3)
    pins = pd.DataFrame({"pin_id": w.pin_ids, "title": [f"pin {i}" for i in range(len(w.pin_ids))], "description": ""})
    events = w.events.copy()
    events["ts"] = events["ts"].map(lambda t: t.isoformat())
    import_catalog(sandbox, pins=pins, events=events, progress=False)  # text only: no images, no vectors
    return sandbox


@pytest.fixture
def cli(monkeypatch):
    return pinsandbox.cli.main


def test_python_api_gives_top_k_per_pinner_on_a_text_only_catalog(imported):
    table = recommend(imported, k=5, config=TasteGraphConfig(gnn=GNNConfig(dim=8, epochs=2)))
    assert list(table.columns) == ["pinner_id", "rank", "pin_id"]
    assert (table.groupby("pinner_id").size() == 5).all()
    assert table["pinner_id"].nunique() == 25
    assert (table.groupby("pinner_id")["rank"].apply(list) == [[1, 2, 3, 4, 5]] * 25).all()


def test_cli_writes_csv_and_refuses_bad_arguments(imported, cli, tmp_path, capsys):
    out = tmp_path / "recs.csv"
    assert cli(["recommend", "--sandbox", "alice", "--before", "2026-02-15T00:00Z", "--k", "3", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["pinner_id", "rank", "pin_id"] and table["rank"].max() == 3
    assert "wrote" in capsys.readouterr().out

    assert cli(["recommend", "--sandbox", "alice", "--k", "3", "--out", str(tmp_path / "recs.txt")]) == 2
    assert "use a .csv or .parquet" in capsys.readouterr().err
    assert cli(["recommend", "--sandbox", "alice", "--before", "1990-01-01", "--k", "3", "--out", str(out)]) == 2
    assert "no events before" in capsys.readouterr().err
    assert cli(["recommend", "--sandbox", "alice", "--before", "yesterday-ish", "--k", "3", "--out", str(out)]) == 2
    assert "is not a time" in capsys.readouterr().err
    assert cli(["recommend", "--sandbox", "nobody", "--k", "3", "--out", str(out)]) == 2
    assert "no sandbox 'nobody'" in capsys.readouterr().err


def test_k_must_be_positive(imported):
    with pytest.raises(InvalidInput, match="k must be at least 1"):
        recommend(imported, k=0)


# -- the stage entry point ----------------------------------------------------------------------------
HEADLINE = ("tastegraph.ndcg@10.tastegraph", "tastegraph.ndcg@10.ease", "tastegraph.ndcg@10.best_baseline",
            "tastegraph.ndcg@10.batch", "tastegraph.ndcg@10.realtime", "tastegraph.drift_new_style_share",
            "tastegraph.drift_old_style_share")


def test_snapshot_carries_its_config_and_a_refit_with_it_scores_the_same(world):
    from pinsandbox.tastegraph import TasteGraph, TasteGraphStageConfig, run_tastegraph

    config = TasteGraphStageConfig(k=10, first_n=2, model=TasteGraphConfig(gnn=GNNConfig(dim=8, epochs=2, seed=0)))
    first = run_tastegraph(world, config, progress=False)
    art = world.artifacts.read("tastegraph", "taste-graph")
    assert first.artifacts == {"taste-graph": art.id} and art.manifest["inputs"][0] == first.split.catalog.artifact_id
    saved = art.config()
    assert saved == config.model and isinstance(saved.gnn, GNNConfig)  # the nested, optional config comes back typed
    assert TasteGraph.load(world).config == saved  # the loader reads it from the artifact too

    again = run_tastegraph(world, replace(config, model=saved), progress=False)
    timing = "tastegraph.fit_s."
    assert {k: v for k, v in first.metrics.items() if not k.startswith(timing)} == {
        k: v for k, v in again.metrics.items() if not k.startswith(timing)}
    for key in HEADLINE:
        assert 0 <= first.metrics[key] <= 1, key
    assert list(first.table.index[:4]) == ["popularity", "itemknn", "ease", "tastegraph"]
    assert first.metrics["tastegraph.ndcg@10.tastegraph"] > first.metrics["tastegraph.ndcg@10.popularity"]
    assert first.metrics["tastegraph.realtime_events_fed"] > 0 and first.drift is not None
    # the drifted pinners' feed, week by week, the taste graph following their events online; week 0 is the cutoff
    weeks = first.drift_weeks
    assert list(weeks.index) == [0, 1, 2] and weeks.loc[0, "new_style_share"] == first.metrics["tastegraph.drift_new_style_share"]
    assert first.metrics["tastegraph.drift_new_style_share_week1"] == weeks.loc[1, "new_style_share"]


def test_stage_refuses_bad_input_before_training_and_publishes_nothing(world):
    from pinsandbox.tastegraph import TasteGraphStageConfig, run_tastegraph

    before = world.artifacts.current_id("tastegraph", "taste-graph")
    with pytest.raises(InvalidInput, match="no pinner has more than 100000 engagements"):
        run_tastegraph(world, TasteGraphStageConfig(first_n=100_000), progress=False)
    with pytest.raises(InvalidInput, match="k must be at least 1"):
        run_tastegraph(world, TasteGraphStageConfig(k=0), progress=False)
    with pytest.raises(InvalidInput, match="vectors 'clip' is unknown"):
        run_tastegraph(world, TasteGraphStageConfig(vectors="clip"), progress=False)
    assert world.artifacts.current_id("tastegraph", "taste-graph") == before


def test_tastegraph_cli_runs_the_stage_on_a_text_only_catalog(imported, cli, capsys):
    import json

    assert cli(["tastegraph", "--sandbox", "alice", "--before", "2026-02-15T00:00Z", "--first-n", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["artifacts"]["taste-graph"].startswith("tastegraph/taste-graph@")
    assert 0 <= out["metrics"]["tastegraph.ndcg@10.tastegraph"] <= 1
    assert "tastegraph.drift_new_style_share" not in out["metrics"]  # no ground truth for an imported catalog
    assert cli(["tastegraph", "--sandbox", "alice", "--k", "0"]) == 2
    assert "k must be at least 1" in capsys.readouterr().err
