"""Navigator fine-tuning: both routes train under the same budget, reproducibly; the adapter round-trips;
and the two notebooks run end to end (papermill, smoke sizes) on a small Pinworld sandbox."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pinsandbox.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[1]


def publish_stand_in_vectors(sb, dim=32, seed=0):
    """Pin vectors in the embeddings stage's published format (vectors.npy + pin_ids.parquet), made here so the
    tests do not train an encoder: 'proprietary' knows each pin's true style and category (noisily), the
    'off-the-shelf' ones are random. Only the tests use these."""
    from pinsandbox.catalog import load_catalog, load_ground_truth

    pins = load_catalog(sb).pins.merge(load_ground_truth(sb).pin_styles[["pin_id", "style"]], on="pin_id")
    rng = np.random.default_rng(seed)
    codes = [pd.factorize(pins["style"])[0], pd.factorize(pins["category"])[0] + dim // 2]
    for kind, informative in (("proprietary", True), ("off-the-shelf", False)):
        v = rng.standard_normal((len(pins), dim)).astype(np.float32) * (0.3 if informative else 1.0)
        if informative:
            for c in codes:
                v[np.arange(len(pins)), c] += 1.0
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        with sb.artifacts.write("embeddings", kind) as w:
            np.save(w.path / "vectors.npy", v)
            pd.DataFrame({"pin_id": pins["pin_id"].astype(str)}).to_parquet(w.path / "pin_ids.parquet", index=False)


@pytest.fixture
def world(sandbox):
    from pinsandbox.catalog import generate_pinworld

    generate_pinworld(sandbox, n_pins=200, n_pinners=40, seed=0, progress=False, image_size=64,
                      n_navigator_requests=40)
    publish_stand_in_vectors(sandbox)
    return sandbox


def _cfg(**kw):
    from pinsandbox.vlm.finetune import FinetuneConfig

    return FinetuneConfig(**{"steps": 3, "batch_size": 2, "image_side": 64, **kw})


def test_task_has_answers_and_hard_negatives(world):
    from pinsandbox.vlm.navigator import load_task

    task = load_task(world, n_candidates=10, seed=0)
    assert task.train and task.test
    for ex in task.train + task.test:
        assert len(ex.candidates) == 10 and len(set(ex.candidates)) == 10
        assert 1 <= ex.labels.sum() <= 4
    with pytest.raises(InvalidInput):
        load_task(world, n_candidates=4)


def test_both_routes_train_same_budget_reproducibly_and_adapter_round_trips(world, tmp_path):
    from pinsandbox.catalog import load_catalog
    from pinsandbox.embeddings import load_vectors
    from pinsandbox.vlm import experiment as ex
    from pinsandbox.vlm.navigator import load_task

    task = load_task(world, n_candidates=8, max_test=4, seed=0)
    vectors = load_vectors("proprietary", world)
    cfg = _cfg()
    a = ex.run_swapped_arm("a", task, vectors, "tiny", cfg, save_base_to=tmp_path / "base", progress=False)
    b = ex.run_swapped_arm("b", task, vectors, "tiny", cfg, progress=False)
    assert a.result.losses == b.result.losses and a.recall == b.recall  # same seed, same numbers
    assert all(np.isfinite(a.result.losses)) and a.result.steps == 3

    # only LoRA (on the 7 LM projections), the projector and the head are trainable
    trainable = [n for n, p in a.result.model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n and "q_proj" in n for n in trainable) and any("down_proj" in n for n in trainable)
    assert any("pin_projector" in n for n in trainable) and any("score_head" in n for n in trainable)
    assert not any("embed_tokens" in n for n in trainable)

    orig = ex.run_original_arm(task, load_catalog(world), "tiny", cfg, progress=False)
    assert orig.result.steps == a.result.steps and orig.result.wall_s > 0
    assert any("merger" in n for n, p in orig.result.model.named_parameters() if p.requires_grad)

    from pinsandbox.vlm import NavigatorConfig
    from pinsandbox.vlm.adapter import load_navigator_model, publish_adapter

    config = NavigatorConfig(preset="tiny", n_candidates=8, max_test=4, finetune=cfg)
    art_id = publish_adapter(world, a, tmp_path / "base", config=config, inputs=[], metrics={})
    art = world.artifacts.read("vlm", "navigator-lora")
    assert art_id == art.id and art.config() == config
    assert {"adapter/adapter_config.json", "adapter/adapter_model.safetensors"} <= set(art.manifest["files"])
    loaded = load_navigator_model(art)
    with torch.inference_mode():
        assert torch.equal(a.route.scores(a.result.model, task.test[:2], cfg), a.route.scores(loaded, task.test[:2], cfg))


def test_training_moves_the_loss_down(world):
    from pinsandbox.embeddings import load_vectors
    from pinsandbox.vlm import experiment as ex
    from pinsandbox.vlm.navigator import load_task

    task = load_task(world, n_candidates=8, max_test=4, seed=0)
    arm = ex.run_swapped_arm("p", task, load_vectors("proprietary", world), "tiny",
                             _cfg(steps=40, batch_size=4, lr=1e-2), progress=False)
    losses = arm.result.losses
    assert np.mean(losses[-10:]) < np.mean(losses[:10])


def test_more_navigator_requests_leave_every_other_table_byte_identical():
    """The Navigator gold set is drawn last from the catalog's rng, so enlarging it (for a tighter recall estimate)
    must not move the pins, events, boards or other gold sets the later stages are tuned on."""
    import hashlib
    import io

    from pinsandbox.catalog.pinworld import PinworldConfig, build_pinworld, write_table

    def tables(n):
        t = build_pinworld(PinworldConfig(n_pins=200, n_pinners=40, seed=0, render_images=False,
                                          n_navigator_requests=n))
        digests = {}
        for name in ("pins", "events", "boards", "pin_styles", "pinner_interests", "gold_homefeed",
                     "gold_item_pairs", "gold_navigator"):
            buf = io.BytesIO()
            write_table(getattr(t, name), buf)
            digests[name] = hashlib.sha256(buf.getvalue()).hexdigest()
        return digests, t.gold_navigator.to_pandas()

    small, nav_small = tables(40)
    large, nav_large = tables(160)
    assert {k: v for k, v in small.items() if k != "gold_navigator"} == \
        {k: v for k, v in large.items() if k != "gold_navigator"}
    assert len(nav_large) == 160 and (nav_large["split"] == "test").sum() == 40
    # the requests themselves are drawn in the same order: the same cells and answers, whatever the split
    cols = ["request_id", "style", "category", "max_price"]
    pd.testing.assert_frame_equal(nav_small[cols], nav_large[cols].iloc[:40])


def test_query_pooling_starts_as_the_mean_and_never_reads_outside_the_request():
    from pinsandbox.vlm.scoring import NavigatorHead

    head = NavigatorHead(16)
    hidden = torch.randn(2, 6, 16)
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]])
    mean = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
    torch.testing.assert_close(head.pool_query(hidden, mask), mean)  # zero-initialised: exactly the mean

    torch.nn.init.normal_(head.pool.weight)  # once trained, the weights differ per token...
    pooled = head.pool_query(hidden, mask)
    assert not torch.allclose(pooled, mean)
    hidden[:, 5] += 100.0  # ...but a token outside the request still counts for nothing
    torch.testing.assert_close(head.pool_query(hidden, mask), pooled)


def test_bootstrap_interval_is_seeded_and_tightens_with_more_requests():
    from pinsandbox.metrics import bootstrap_ci

    rng = np.random.default_rng(0)
    few, many = rng.random(50), rng.random(800)
    lo, hi = bootstrap_ci(few, seed=3)
    assert (lo, hi) == bootstrap_ci(few, seed=3)
    assert lo < few.mean() < hi
    lo2, hi2 = bootstrap_ci(many, seed=3)
    assert hi2 - lo2 < (hi - lo) * 0.5  # ~1/sqrt(16) of the width
    with pytest.raises(InvalidInput):
        bootstrap_ci([0.5])


def test_relative_gain_is_paired_over_the_same_requests():
    from types import SimpleNamespace

    from pinsandbox.vlm.experiment import relative_gain

    def arm(name, recalls):
        return SimpleNamespace(name=name, test={"rows": [{"request_id": f"r{i}", "recall@10": r}
                                                         for i, r in enumerate(recalls)]})

    a = arm("a", [1.0, 0.5, 0.75, 1.0])
    b = arm("b", [0.5, 0.5, 0.5, 0.5])
    out = relative_gain(a, b)
    assert out["gain"] == pytest.approx(0.8125 / 0.5 - 1) and out["requests"] == 4
    assert out["ci95"][0] <= out["gain"] <= out["ci95"][1]
    with pytest.raises(InvalidInput):
        relative_gain(a, arm("c", [0.5, 0.5]))


def test_vector_ceiling_tells_informative_vectors_from_random_ones(world):
    """The reference ranker reads what the vectors hold: stand-in vectors that encode style and category rank
    held-out requests nearly perfectly, random ones clearly worse (they only let it memorise which pins answered
    which cell in training); and it is seeded."""
    from pinsandbox.embeddings import load_vectors
    from pinsandbox.vlm import experiment as ex
    from pinsandbox.vlm.navigator import load_task

    task = load_task(world, n_candidates=16, seed=0)
    informative = ex.vector_ceiling(task, load_vectors("proprietary", world), steps=300, seed=0)
    random = ex.vector_ceiling(task, load_vectors("off-the-shelf", world), steps=300, seed=0)
    assert informative["recall@10_test"] >= 0.9 and informative["recall@10_train"] >= 0.9
    assert random["recall@10_test"] < informative["recall@10_test"] - 0.1, (informative, random)
    assert ex.vector_ceiling(task, load_vectors("proprietary", world), steps=300, seed=0) == informative


def test_ground_truth_vectors_encode_style_and_category_and_nothing_else(world):
    from pinsandbox.catalog import load_catalog, load_ground_truth
    from pinsandbox.vlm import experiment as ex

    v = ex.ground_truth_vectors(world, dim=32, seed=0)
    styles = load_ground_truth(world).pin_styles[["pin_id", "style"]]
    pins = load_catalog(world).pins.merge(styles, on="pin_id").set_index("pin_id")
    cell = (pins["style"] + "|" + pins["category"]).reindex(v.pin_ids).to_numpy()
    assert v.vectors.shape == (len(pins), 32) and np.allclose(np.linalg.norm(v.vectors, axis=1), 1, atol=1e-5)
    cos = v.vectors @ v.vectors.T
    same = cell[:, None] == cell[None, :]
    assert cos[same].min() > 0.98 and cos[~same].max() < 0.6  # same cell ≈ 1; one factor shared ≈ 0.5; none ≈ 0
    assert np.array_equal(ex.ground_truth_vectors(world, dim=32, seed=0).vectors, v.vectors)


def _tiny_navigator_config(**kw):
    from pinsandbox.vlm import FinetuneConfig, NavigatorConfig

    # non-default tokens_per_pin, n_candidates and max_text_tokens: they must survive the round trip
    ft = {"steps": 3, "batch_size": 2, "max_text_tokens": 8, **kw.pop("finetune", {})}
    return NavigatorConfig(**{"preset": "tiny", "tokens_per_pin": 2, "n_candidates": 12, "max_test": 4,
                              "ceiling_steps": 0, "finetune": FinetuneConfig(**ft), **kw})


def test_run_finetune_publishes_its_config_and_serving_scores_with_it(world):
    from pinsandbox.serving.ranker import SwappedVLMRanker, load_ranker
    from pinsandbox.vlm import FinetuneConfig, run_finetune
    from pinsandbox.vlm.navigator import NavigatorExample

    config = _tiny_navigator_config()
    first = run_finetune(world, config, progress=False)
    art = world.artifacts.read("vlm", "navigator-lora")
    assert first.artifacts == {"navigator-lora": art.id}
    saved = art.config()
    assert saved == config  # the whole NavigatorConfig, the nested FinetuneConfig included

    m = first.metrics
    assert m["finetune.adapter_reload_max_abs_diff"] == 0.0
    assert m["finetune.held_out_requests"] == 4 and m["finetune.train_steps"] == 3
    assert m["finetune.recall@10.chance"] == pytest.approx(10 / 12)
    for arm in ("swapped_proprietary", "original", "swapped_off-the-shelf"):
        assert 0.0 <= m[f"finetune.recall@10.{arm}"] <= 1.0
        lo, hi = m[f"finetune.recall@10_ci95.{arm}"]
        assert lo <= m[f"finetune.recall@10.{arm}"] <= hi
    assert not any(k.startswith("finetune.vector_ceiling") for k in m)  # ceiling_steps=0
    assert list(first.summary.index) == ["swapped + proprietary", "original + vision tower", "swapped + off-the-shelf"]

    # rerun from the saved config alone: the same numbers (wall-clock aside)
    again = run_finetune(world, saved, progress=False)
    timing = lambda ms: {k: v for k, v in ms.items() if ".train_wall_s." not in k}  # noqa: E731
    assert timing(again.metrics) == timing(m)

    # serving loads the published Navigator with the saved config, not a default one
    ranker = load_ranker(world)
    assert isinstance(ranker, SwappedVLMRanker) and ranker.config == config
    assert ranker.n_candidates == 12 and ranker.navigator.tokens_per_pin == 2
    pins = again.task.test[0].candidates
    text = "any mid-century modern walnut sideboards with brass handles for a small living room under $400 please"
    got = ranker.score(text, pins, np.zeros(len(pins)))
    arm = again.arms["swapped_proprietary"]
    example = NavigatorExample("r", text, pins, np.zeros(len(pins), dtype=bool))
    with torch.inference_mode():
        trained = arm.route.scores(arm.result.model, [example], config.finetune)[0].numpy()
        default = arm.route.scores(arm.result.model, [example], FinetuneConfig())[0].numpy()
    np.testing.assert_array_equal(got, trained)
    assert not np.array_equal(got, default)  # 8 text tokens, not the default 32: the saved config is in use


def test_run_finetune_with_ground_truth_arm_and_ceilings_records_them(world):
    from pinsandbox.vlm import run_finetune

    result = run_finetune(world, _tiny_navigator_config(ground_truth_arm=True, ceiling_steps=20,
                                                        finetune={"steps": 2}), progress=False)
    m = result.metrics
    assert {"finetune.recall@10.swapped_ground-truth", "finetune.vector_ceiling.proprietary",
            "finetune.vector_ceiling.off-the-shelf", "finetune.vector_ceiling.ground-truth",
            "finetune.vector_ceiling_gain_vs_original"} <= set(m)
    assert list(result.ceiling_table.index) == ["proprietary", "off-the-shelf", "ground truth"]
    picks = result.picks()
    assert set(picks) == {"swapped + proprietary", "original + vision tower"} and all(len(p) == 5 for p in picks.values())


def test_run_finetune_refuses_a_bad_config_before_any_work(world):
    from pinsandbox.vlm import run_finetune

    bad = _tiny_navigator_config(preset="8b", n_candidates=3, max_test=1, finetune={"steps": 0, "image_side": 50})
    with pytest.raises(InvalidInput) as e:
        run_finetune(world, bad, progress=False)
    msg = str(e.value)
    for part in ("'8b'", "n_candidates", "max_test", "finetune.steps", "finetune.image_side"):
        assert part in msg, msg
    assert not world.artifacts.exists("vlm", "navigator-lora")
    assert not list(world.path("tmp").glob("*"))  # nothing half-written


def test_an_adapter_without_a_config_is_not_scored_with_defaults(world):
    from pinsandbox.serving.ranker import RetrievalRanker, load_ranker

    with world.artifacts.write("vlm", "navigator-lora") as w:  # as published before configs travelled with it
        (w.path / "adapter").mkdir()
        (w.path / "adapter" / "adapter_config.json").write_text("{}")
    ranker = load_ranker(world)
    assert isinstance(ranker, RetrievalRanker) and "without a config" in ranker.reason
