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
def test_notebook_runs_at_smoke_size(world, tmp_path, notebook):
    import papermill as pm
    import yaml

    params = yaml.safe_load((ROOT / "notebooks" / "smoke" / f"{notebook}.yaml").read_text())
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env_path}" if env_path else str(ROOT)
    out = tmp_path / f"{notebook}.out.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / f"{notebook}.ipynb"), str(out), parameters=params,
                        kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    assert out.exists()
    stage = "swapped" if notebook.startswith("02") else "navigator-lora"
    assert world.artifacts.exists("vlm", stage)
