"""The full retrain (#18): encoder and Navigator warm-started from the champion, gated with the Navigator-recall
and cost guards, promoted whole (four roles), rolled back whole, and followed by serving."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pinsandbox.catalog import advance_catalog
from pinsandbox.errors import InvalidInput
from pinsandbox.loop import CHAMPION, RetrainConfig, promote, rollback, run_retrain

FULL = dict(full=True, encoder_steps=3, navigator_steps=2, n_boot=300, latency_pinners=20, promote=False)


def _state(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_encoder_warm_start_continues_from_the_given_encoder(world):
    """It starts where the champion is (and leaves the champion itself untouched)."""
    from pinsandbox.embeddings import load_encoder
    from pinsandbox.embeddings.pipeline import prepare
    from pinsandbox.embeddings.train import train_encoder

    champion = load_encoder(world)
    before = _state(champion)
    config = champion.embeddings_config
    prepared = prepare(world, config, progress=False)
    cfg = type(config.train)(**{**vars(config.train), "steps": 2, "clip_steps": 0})
    warm, _ = train_encoder(prepared.features, prepared.pairs, cfg, progress=False, init=champion)
    other_seed = type(cfg)(**{**vars(cfg), "seed": 7})  # (seed 0 is the champion's own initialisation)
    fresh, _ = train_encoder(prepared.features, prepared.pairs, other_seed, champion.config, progress=False)
    after = _state(warm)
    assert all(torch.equal(before[k], v) for k, v in _state(champion).items())  # the champion itself is untouched
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed  # it trained
    # a warm start is near where it started; a fresh encoder with the same steps is nowhere near
    distance = lambda s: sum(float((s[k].float() - before[k].float()).norm()) for k in before)  # noqa: E731
    assert distance(after) < 0.3 * distance(_state(fresh))


def test_full_retrain_gates_promotes_all_four_roles_and_rolls_back(world):
    champion = {role: world.artifacts.current_id(*CHAMPION[role]) for role in CHAMPION}
    advance_catalog(world, 7, progress=False)
    result = run_retrain(world, RetrainConfig(**FULL), progress=False)
    v = result.verdict
    assert v["full"] and set(v["challenger"]) == set(CHAMPION)
    # both Navigators scored on the same held-out requests; the champion with its own vectors
    nav = v["guards"]["navigator_recall"]
    assert nav["requests"] == len(result.navigator.recall["champion"]) == len(result.navigator.recall["challenger"]) > 0
    assert nav["champion"] == pytest.approx(np.mean(result.navigator.recall["champion"]))
    assert {"recall", "p99_ms", "cost_ms", "navigator_recall", "ab_saves"} == set(v["guards"])
    for name in ("retrain.navigator_recall@10.challenger", "retrain.homefeed_cost_ms.challenger"):
        assert np.isfinite(result.metrics[name])
    # the new encoder embeds every pin, the new pins included, and its Navigator ranks with those vectors
    vectors = world.artifacts.read("embeddings", "proprietary-challenger")
    assert vectors.manifest["encoder"] == v["challenger"]["encoder"]
    assert world.artifacts.read("vlm", "navigator-challenger").manifest["inputs"] == [champion["navigator"],
                                                                                      v["challenger"]["vectors"]]

    entry = promote(world, force=True)  # forced: this test is about promoting four roles, not the gate
    assert set(entry["champion_after"]) == set(CHAMPION) and entry["champion_before"] == champion
    for role, (stage, name) in CHAMPION.items():
        now = world.artifacts.read(stage, name)
        published = world.artifacts.read(*v["challenger"][role].split("@", 1)[0].split("/", 1))
        assert now.manifest["files"] == published.manifest["files"], role
    from pinsandbox.vlm import load_navigator

    served = load_navigator(world)  # serving's Navigator: the challenger's adapter over the challenger's vectors
    assert served.vectors_id == entry["champion_after"]["vectors"]
    assert np.isfinite(served.score("a lamp", list(served.route.lookup.pin_ids[:8]))).all()

    back = rollback(world)
    for role, (stage, name) in CHAMPION.items():
        restored = world.artifacts.read(stage, name)
        original = world.artifacts.read("loop", entry["archived"][role].split("/", 1)[1].split("@", 1)[0])
        assert restored.manifest["files"] == original.manifest["files"] and back["champion_after"][role] == restored.id


@pytest.mark.slow  # a notebook kernel and a full retrain
def test_retrain_full_from_the_cli_runs_notebook_07_as_a_recorded_run(world, capsys):
    import pinsandbox
    import pinsandbox.cli

    advance_catalog(world, 7, progress=False)
    assert pinsandbox.cli.main(["retrain", "--sandbox", "world", "--full", "--encoder-steps", "3",
                                "--navigator-steps", "2", "--no-promote"]) in (0, None)
    out = capsys.readouterr().out
    assert "challenger passed (not promoted)" in out or "challenger refused" in out
    assert "navigator recall@10" in out and "(warm-started)" in out
    run = pinsandbox.list_runs(world)[-1]
    assert run.notebook == "07_retrain" and run.state == "ok" and run.params["full"] is True
    assert world.artifacts.exists("vlm", "navigator-challenger")


def test_full_retrain_needs_an_encoder_and_says_so(sandbox):
    from pinsandbox.catalog import CatalogConfig, run_catalog
    from pinsandbox.tastegraph import GNNConfig, TasteGraphConfig, TasteGraphStageConfig, run_tastegraph

    run_catalog(sandbox, CatalogConfig(n_pins=120, n_pinners=60, seed=0, render_images=False, n_navigator_requests=20),
                progress=False)
    run_tastegraph(sandbox, TasteGraphStageConfig(ablations=False, drift_weeks=0,
                                                  model=TasteGraphConfig(gnn=GNNConfig(dim=8, epochs=1))), progress=False)
    with pytest.raises(InvalidInput, match="no trained encoder to warm-start"):
        run_retrain(sandbox, RetrainConfig(**FULL), progress=False)
    assert not sandbox.artifacts.exists("tastegraph", "challenger")  # refused before any work
    with pytest.raises(InvalidInput, match="encoder_steps"):
        RetrainConfig(full=True, encoder_steps=0).validate()
