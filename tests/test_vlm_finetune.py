"""Navigator fine-tuning: both routes train under the same budget, reproducibly; the adapter round-trips;
and the two notebooks run end to end (papermill, smoke sizes) on a small Pinworld sandbox."""

import os
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

    art_id = ex.publish_adapter(world, a, tmp_path / "base", params={}, inputs=[], metrics={})
    art = world.artifacts.read("vlm", "navigator-lora")
    assert art_id == art.id
    assert {"adapter/adapter_config.json", "adapter/adapter_model.safetensors"} <= set(art.manifest["files"])
    loaded = ex.load_navigator(world)
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


@pytest.mark.parametrize("notebook", ["02_vision_layer_swap", "03_finetune_lora"])
def test_notebook_runs_at_smoke_size(world, tmp_path, monkeypatch, notebook):
    import papermill as pm
    import yaml

    params = yaml.safe_load((ROOT / "notebooks" / "smoke" / f"{notebook}.yaml").read_text())
    env_path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{env_path}" if env_path else str(ROOT))  # the kernel imports this tree
    out = tmp_path / f"{notebook}.out.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / f"{notebook}.ipynb"), str(out), parameters=params,
                        kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    assert out.exists()
    stage = "swapped" if notebook.startswith("02") else "navigator-lora"
    assert world.artifacts.exists("vlm", stage)


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
