"""The loop (#18): the cheap refresh as one entry point, the champion/challenger gate, promotion, rollback, the
append-only promotion log, the metric history and its regression alarm."""

import json

import numpy as np
import pytest

import pinsandbox
import pinsandbox.cli
from pinsandbox.catalog import advance_catalog, load_catalog
from pinsandbox.errors import InvalidInput
from pinsandbox.loop import (
    RetrainConfig,
    append_history,
    metric_history,
    noise_thresholds,
    promote,
    promotion_log,
    regression_alarm,
    rollback,
    run_retrain,
)
from pinsandbox.stages import check_metric_key

FAST = dict(n_boot=300, latency_pinners=30)


@pytest.fixture
def world(sandboxes_root):
    """A small Pinworld with enough pinners for the gate to tell a better model (conftest's tiny world has 80,
    too few), a tiny encoder and a champion taste graph, built through the stages' entry points (~8 s)."""
    import torch

    from pinsandbox.catalog import CatalogConfig, run_catalog
    from pinsandbox.embeddings import EmbeddingsConfig, TrainConfig, run_embeddings
    from pinsandbox.tastegraph import GNNConfig, TasteGraphConfig, TasteGraphStageConfig, run_tastegraph

    torch.set_num_threads(2)
    sb = pinsandbox.create("world")
    run_catalog(sb, CatalogConfig(n_pins=300, n_pinners=600, seed=0, render_images=False, n_navigator_requests=40),
                progress=False)
    run_embeddings(sb, EmbeddingsConfig(dim=32, train=TrainConfig(steps=15, batch_size=64, n_negatives=32)),
                   progress=False)
    run_tastegraph(sb, TasteGraphStageConfig(ablations=False, drift_weeks=0,
                                             model=TasteGraphConfig(gnn=GNNConfig(dim=16, epochs=2))), progress=False)
    return sb


def test_retrain_refreshes_gates_promotes_and_rolls_back(world, capsys):
    champion0 = world.artifacts.current_id("tastegraph", "taste-graph")
    vectors0 = world.artifacts.current_id("embeddings", "proprietary")
    advance_catalog(world, 14, progress=False)
    catalog = load_catalog(world)

    result = run_retrain(world, RetrainConfig(**FAST), progress=False)
    for key in result.metrics:
        check_metric_key(key)
    v = result.verdict
    assert v["guards"]["ab_saves"]["ok"] and v["guards"]["cost_ms"]["ok"], v["guards"]
    # new pins got vectors from the frozen encoder; the challenger knows them, the champion does not
    assert result.metrics["retrain.new_pins_embedded"] > 0
    vec = np.load(world.artifacts.read("embeddings", "proprietary-challenger").file("vectors.npy"))
    assert vec.shape[0] == len(catalog.pins)
    # trained on the newer data, the challenger beats the champion frozen a window earlier, and the gate says so
    assert v["ndcg"]["challenger"] > v["ndcg"]["champion"] and v["interval"][0] >= 0 and v["passed"], v
    assert result.promoted is not None
    champion1 = world.artifacts.current_id("tastegraph", "taste-graph")
    assert champion1 != champion0 and world.artifacts.current_id("embeddings", "proprietary") != vectors0
    served = pinsandbox.tastegraph.TasteGraph.load(world)  # what serving loads now is the challenger's model
    assert len(served.pins) == len(catalog.pins)
    log = promotion_log(world)
    assert [e["action"] for e in log] == ["promote"] and log[0]["champion_before"]["tastegraph"] == champion0
    with pytest.raises(InvalidInput, match="already promoted"):
        promote(world)

    # rollback: the previous champion's files come back, as a new version; the log only grows
    before = world.artifacts.read("tastegraph", "taste-graph")
    assert pinsandbox.cli.main(["promote", "--sandbox", "world", "--rollback"]) == 0
    back = world.artifacts.read("tastegraph", "taste-graph")
    original = json.loads((world.artifacts.root / "loop").joinpath(
        log[0]["archived"]["tastegraph"].split("/", 1)[1], "manifest.json").read_text())
    assert back.id != before.id and back.manifest["files"] == original["files"]
    assert len(pinsandbox.tastegraph.TasteGraph.load(world).pins) < len(catalog.pins)
    assert [e["action"] for e in promotion_log(world)] == ["promote", "rollback"]
    assert pinsandbox.cli.main(["promote", "--sandbox", "world", "--rollback"]) == 2
    assert "no promotion to roll back" in capsys.readouterr().err

    # a challenger trained on shuffled engagement is refused, logged, and cannot be promoted without --force
    bad = run_retrain(world, RetrainConfig(**FAST, vectors=False, degrade="shuffle"), progress=False)
    assert not bad.verdict["passed"] and bad.promoted is None and bad.verdict["interval"][0] < 0
    # the A/B simulation agrees: the simulated pinners save fewer of its pins than of the champion's
    ab = bad.verdict["guards"]["ab_saves"]
    assert ab["pinners"] > 100 and not ab["ok"] and ab["difference_interval"][1] < 0, ab
    assert any(r.startswith("guard ab_saves") for r in bad.verdict["reasons"])
    assert world.artifacts.current_id("tastegraph", "taste-graph") == back.id
    assert promotion_log(world)[-1]["action"] == "refused"
    assert pinsandbox.cli.main(["promote", "--sandbox", "world"]) == 2
    assert "the gate refused this challenger" in capsys.readouterr().err


def test_retrain_refuses_without_a_champion_or_a_window(sandbox, capsys):
    from pinsandbox.catalog import CatalogConfig, run_catalog

    run_catalog(sandbox, CatalogConfig(n_pins=100, n_pinners=30, render_images=False, n_navigator_requests=20),
                progress=False)
    assert pinsandbox.cli.main(["retrain", "--sandbox", "alice", "--in-process"]) == 2
    assert "no champion taste graph" in capsys.readouterr().err
    with pytest.raises(InvalidInput, match="degrade"):
        RetrainConfig(degrade="worse").validate()
    assert pinsandbox.cli.main(["promote", "--sandbox", "alice"]) == 2
    assert "run `pinsandbox retrain --sandbox alice` first" in capsys.readouterr().err


def _entry(run_id, metrics, params=None, commit="c1", state="ok"):
    return {"run_id": run_id, "notebook": "07_retrain", "state": state, "params": params or {"seed": 0},
            "git_commit": commit, "started": run_id, "ended": run_id, "duration_s": 1.0, "metrics": metrics}


def test_history_and_alarm_quiet_on_reruns_and_firing_on_an_injected_regression(sandbox, capsys):
    rng = np.random.default_rng(0)
    # five reruns of the same code and params: a seeded figure (identical) and a timing (noisy)
    for i in range(5):
        append_history(sandbox, _entry(f"r{i}", {"retrain.ndcg@10.challenger": 0.31,
                                                  "retrain.homefeed_p99_ms.challenger": 5 + rng.normal(0, 0.5)}))
    noise = noise_thresholds(metric_history(sandbox)).set_index("metric")
    assert noise.loc["retrain.ndcg@10.challenger", "threshold"] == 0
    assert 0.5 < noise.loc["retrain.homefeed_p99_ms.challenger", "threshold"] < 6  # 4 × the measured sd
    quiet = regression_alarm(sandbox)
    assert quiet["baseline"] == "r3" and not quiet["alarms"] and len(quiet["quiet"]) == 3  # with run.duration_s

    # an injected regression: NDCG down, latency up far beyond the noise
    append_history(sandbox, _entry("r5", {"retrain.ndcg@10.challenger": 0.29,
                                          "retrain.homefeed_p99_ms.challenger": 25.0}, commit="c2"))
    fired = regression_alarm(sandbox)
    assert {a["metric"] for a in fired["alarms"]} == {"retrain.ndcg@10.challenger", "retrain.homefeed_p99_ms.challenger"}
    assert pinsandbox.cli.main(["history", "--sandbox", "alice", "--alarm"]) == 1
    assert "REGRESSION retrain.ndcg@10.challenger" in capsys.readouterr().out
    # an improvement is not a regression
    append_history(sandbox, _entry("r6", {"retrain.ndcg@10.challenger": 0.35,
                                          "retrain.homefeed_p99_ms.challenger": 4.0}, commit="c2"))
    assert not regression_alarm(sandbox)["alarms"]
    assert pinsandbox.cli.main(["history", "--sandbox", "alice", "--metric", "retrain.ndcg@10.challenger"]) == 0
    assert capsys.readouterr().out.count("07_retrain") == 7


@pytest.mark.slow  # two notebook kernels (~35 s): the fast tier keeps the in-process retrain tests above
def test_retrain_is_an_ordinary_recorded_run_and_joins_the_history(world):
    """Notebook 07 under papermill (the smoke sizes), then `pinsandbox retrain`, itself a recorded run of it."""
    from pinsandbox.runs.presets import preset_params

    params = preset_params("07_retrain", "smoke")
    assert params["advance_days"] == 7
    record = pinsandbox.run("07_retrain", world, {**params, "advance_days": 14})
    assert record.state == "ok", record.status
    m = record.metrics
    assert m["retrain.promoted"] == 1 and m["retrain.ndcg@10.challenger"] > m["retrain.ndcg@10.champion"]
    assert record.outputs and any(a.startswith("loop/verdict@") for a in record.outputs)
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {})
               for c in json.loads((record.path / "notebook.ipynb").read_text())["cells"] for o in c.get("outputs", []))
    assert promotion_log(world)[-1]["run_id"] == record.id  # the log says which run promoted

    # the CLI: another recorded run (no new days: the challenger is a refit on the same data)
    assert pinsandbox.cli.main(["retrain", "--sandbox", "world", "--no-promote"]) == 0
    hist = metric_history(world)
    runs = hist.drop_duplicates("run_id")
    assert list(runs["notebook"]) == ["07_retrain", "07_retrain"] and (runs["state"] == "ok").all()
    assert regression_alarm(world)["baseline"] == record.id


def test_the_loop_notebooks_stay_out_of_run_all_and_the_report():
    """07 and 08 run on their own, after the stages: 07 retrains what they made, 08 reads every run's record (a
    history shown mid-run-all would judge a half-built pipeline)."""
    from pinsandbox import settings
    from pinsandbox.runs.pipeline import stage_notebooks
    from pinsandbox.stages import LOOP_NOTEBOOKS, NOTEBOOKS, STAGES

    assert all((settings.NOTEBOOKS_DIR / f"{stem}.ipynb").exists() for stem in LOOP_NOTEBOOKS.values())
    assert [p.stem for p in stage_notebooks()] == [NOTEBOOKS[s] for s in STAGES]  # make demo does not grow
    assert not set(LOOP_NOTEBOOKS) & set(STAGES)
    assert check_metric_key("retrain.ndcg@10.challenger") and check_metric_key("history.regressions.07_retrain")


@pytest.mark.slow
def test_refresh_on_ray_writes_the_vectors_the_local_engine_writes(world):
    """The refresh's precompute runs through stage 01's engines: Ray gives the local engine's vectors, the new
    week's pins included, and a bad engine name is refused before any work."""
    import ray

    from pinsandbox.catalog import advance_catalog, load_catalog
    from pinsandbox.errors import InvalidInput
    from pinsandbox.loop import RetrainConfig
    from pinsandbox.loop.challenger import refresh_vectors

    with pytest.raises(InvalidInput, match="unknown engine 'spark'"):
        RetrainConfig(engine="spark").validate()
    advance_catalog(world, 7, progress=False)
    catalog = load_catalog(world)
    local, new_local = refresh_vectors(world, catalog, "local", progress=False)
    try:
        on_ray, new_ray = refresh_vectors(world, catalog, "ray", progress=False)
    finally:
        ray.shutdown()
    assert new_local == new_ray > 0 and list(local.pin_ids) == list(on_ray.pin_ids)
    assert np.allclose(local.vectors, on_ray.vectors, atol=1e-5)
    assert world.artifacts.read("embeddings", "proprietary-challenger").config().engine == "ray"
    assert not list(world.path("tmp/embeddings-precompute").glob("*"))  # work folders gone once published


def test_promotions_prune_archives_no_rollback_can_reach(world, monkeypatch):
    from pinsandbox.loop import promotion

    monkeypatch.setattr(promotion, "ARCHIVES_KEPT", 1)
    config = RetrainConfig(**FAST, vectors=False, promote=False)
    for _ in range(2):
        advance_catalog(world, 7, progress=False)
        run_retrain(world, config, progress=False)
        promote(world, force=True)  # forced: this test is about the archives, not the gate
    archives = sorted(p.name for p in (world.artifacts.root / "loop").iterdir() if p.is_symlink() and "champion-" in p.name)
    assert archives == ["champion-0002-tastegraph"]  # promotion 1's archive is beyond reach: deleted, link and files
    assert not list((world.artifacts.root / "loop").glob("champion-0001-*"))
    assert [e["action"] for e in promotion_log(world)] == ["promote", "promote"]  # the log still names it
    rollback(world)  # undoes promotion 2, from its archive
    with pytest.raises(InvalidInput, match="no longer archived"):
        rollback(world)
