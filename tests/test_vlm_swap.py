"""The vision-layer swap: presets, parameters gone, positions, save/load, and clear errors on bad input."""

import json

import numpy as np
import pytest
import torch

from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.vlm.navigator import PinLookup
from pinsandbox.vlm.presets import build_config, build_model, load_model, param_breakdown
from pinsandbox.vlm.prompts import build_prompts, load_tokenizer
from pinsandbox.vlm.swap import PinQwen3VLForConditionalGeneration, has_vision_parameters, swap_vision_layer


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer()


def _swapped(pin_dim=16, tokens=4, seed=0):
    table = np.random.default_rng(seed).standard_normal((50, pin_dim)).astype(np.float32) + 3.0
    return swap_vision_layer(build_model("tiny", seed=seed), pin_dim, tokens, seed=seed, fit_on=table)


def _request(tok, model, n_pins=3):
    return build_prompts(tok, model.config, ["a boho rug under $90"], n_pins, model.config.tokens_per_pin)


def test_real_shapes_match_published_sizes():
    for preset, billions in {"2b": 2.13, "4b": 4.44, "8b": 8.77}.items():
        total = param_breakdown(build_model(preset, device="meta"))["total"]
        assert abs(total / 1e9 - billions) < 0.01, (preset, total)


def test_proportional_preset_keeps_2b_vision_share_and_pixels_per_token():
    share = {}
    for preset in ("2b", "proportional-2b"):
        p = param_breakdown(build_model(preset, device="meta"))
        share[preset] = p["vision"] / p["total"]
        v = build_config(preset).vision_config
        assert v.patch_size * v.spatial_merge_size == 32  # one visual token per 32×32 pixels
    assert abs(share["2b"] - share["proportional-2b"]) < 0.02


def test_swap_removes_every_vision_parameter():
    original = build_model("tiny")
    lm_params = param_breakdown(original)["lm_layers"]
    swapped = swap_vision_layer(original, 16, 4)
    assert not has_vision_parameters(swapped)
    assert not hasattr(swapped.model, "visual") and not hasattr(original.model, "visual")
    assert param_breakdown(swapped)["vision"] == 0
    assert param_breakdown(swapped)["lm_layers"] == lm_params
    assert param_breakdown(swapped)["projector"] > 0


def test_pins_use_3d_mrope_positions_like_an_image_grid(tok):
    model = _swapped(tokens=4)
    batch = _request(tok, model, n_pins=2)
    ids = batch.input_ids
    pos, _ = model.model.get_rope_index(ids, (ids == model.config.image_token_id).int(),
                                        image_grid_thw=model.model.pin_grid_thw(2))
    slots = batch.slot_index[0, 0]
    # a 2×2 grid of merged tokens: same temporal index, height/width step through the grid
    assert pos[0, 0, slots].unique().numel() == 1
    assert pos[1, 0, slots].tolist() == [pos[1, 0, slots[0]].item()] * 2 + [pos[1, 0, slots[0]].item() + 1] * 2
    assert pos[2, 0, slots].tolist()[:2] == [pos[2, 0, slots[0]].item(), pos[2, 0, slots[0]].item() + 1]
    # text after the pins continues past the pins' spatial extent (rope delta < 0: fewer positions than tokens)
    assert pos[0, 0, -1] < ids.shape[1] - 1


def test_save_and_load_give_identical_outputs(tmp_path, tok):
    model = _swapped()
    batch = _request(tok, model)
    vectors = torch.randn(3, 16)
    with torch.inference_mode():
        before = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, pin_vectors=vectors).logits
    model.save_pretrained(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model_type"] == "pin_qwen3_vl" and config["pin_dim"] == 16
    loaded = load_model(tmp_path / "m")
    assert torch.equal(loaded.model.pin_projector.pin_mean, model.model.pin_projector.pin_mean)  # fitted buffers saved
    assert isinstance(loaded, PinQwen3VLForConditionalGeneration) and not has_vision_parameters(loaded)
    with torch.inference_mode():
        after = loaded(input_ids=batch.input_ids, attention_mask=batch.attention_mask, pin_vectors=vectors).logits
    assert torch.equal(before, after)


def test_swapped_model_generates_from_vectors_only(tok):
    model = _swapped()
    batch = _request(tok, model, n_pins=2)
    out = model.generate(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                         pin_vectors=torch.randn(2, 16), max_new_tokens=3, do_sample=False)
    assert out.shape[1] == batch.input_ids.shape[1] + 3


def test_swap_is_reproducible_from_seed(tok):
    a, b = _swapped(seed=3), _swapped(seed=3)
    batch = _request(tok, a)
    v = torch.randn(3, 16)
    with torch.inference_mode():
        assert torch.equal(a(input_ids=batch.input_ids, pin_vectors=v).logits,
                           b(input_ids=batch.input_ids, pin_vectors=v).logits)


def test_wrong_pin_dimension_is_a_clear_error(tok):
    model = _swapped(pin_dim=16)
    batch = _request(tok, model)
    with pytest.raises(InvalidInput, match="16-d"):
        model(input_ids=batch.input_ids, pin_vectors=torch.randn(3, 32))


def test_nan_vectors_are_a_clear_error(tok):
    model = _swapped()
    batch = _request(tok, model)
    v = torch.randn(3, 16)
    v[1, 4] = float("nan")
    with pytest.raises(InvalidInput, match="NaN"):
        model(input_ids=batch.input_ids, pin_vectors=v)


def test_pin_count_must_match_placeholders(tok):
    model = _swapped()
    batch = _request(tok, model, n_pins=3)
    with pytest.raises(InvalidInput, match="placeholders"):
        model(input_ids=batch.input_ids, pin_vectors=torch.randn(2, 16))


def test_unknown_pin_ids_are_a_clear_error():
    lookup = PinLookup(["p1", "p2"], np.eye(2, dtype=np.float32))
    assert lookup.rows(["p2"]).tolist() == [[0.0, 1.0]]
    with pytest.raises(NotFound, match="no vector"):
        lookup.rows(["p1", "nope"])


def test_checkpoint_that_is_not_qwen3vl_is_refused(tmp_path):
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(InvalidInput, match="not Qwen3-VL"):
        load_model(tmp_path / "bert")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match="no config.json"):
        load_model(tmp_path / "empty")
    with pytest.raises(NotFound):
        load_model(tmp_path / "missing")


def test_original_checkpoint_loads_through_the_same_path(tmp_path):
    model = build_model("tiny")
    model.save_pretrained(tmp_path / "orig")
    loaded = load_model(tmp_path / "orig")
    assert type(loaded).__name__ == "Qwen3VLForConditionalGeneration" and loaded.model.visual is not None


def test_inconsistent_configs_are_refused():
    from pinsandbox.vlm.presets import check_config

    config = build_config("tiny")
    config.text_config.rope_parameters["mrope_section"] = [8, 8, 8]
    with pytest.raises(InvalidInput, match="mrope_section"):
        check_config(config)
    config = build_config("tiny")
    config.vision_config.deepstack_visual_indexes = [5]
    with pytest.raises(InvalidInput, match="deepstack"):
        check_config(config)
    with pytest.raises(InvalidInput):
        swap_vision_layer(build_model("tiny"), 0, 4)


def test_cli_swaps_and_refuses_bad_sources(tmp_path, monkeypatch, capsys):
    import pinsandbox.cli as cli

    assert cli.main(["vlm", "swap", "tiny", "--pin-dim", "8", "--out", str(tmp_path / "s")]) == 0
    assert not has_vision_parameters(load_model(tmp_path / "s"))
    assert cli.main(["vlm", "swap", "2b", "--pin-dim", "8", "--out", str(tmp_path / "x")]) == 2
    assert cli.main(["vlm", "swap", str(tmp_path / "nope"), "--pin-dim", "8", "--out", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert "checkpoint directory" in err and err.count("pinsandbox: error:") == 2


def _world_with_vectors(sandbox, dim=16):
    import pandas as pd

    ids = [f"p{i}" for i in range(30)]
    v = np.random.default_rng(0).standard_normal((len(ids), dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    with sandbox.artifacts.write("embeddings", "proprietary") as w:
        np.save(w.path / "vectors.npy", v)
        pd.DataFrame({"pin_id": ids}).to_parquet(w.path / "pin_ids.parquet", index=False)
    return sandbox


def test_run_swap_publishes_its_config_and_a_rerun_gives_the_same_numbers(sandbox):
    from pinsandbox.vlm import SwapConfig, run_swap

    _world_with_vectors(sandbox)
    config = SwapConfig(preset="tiny", tokens_per_pin=2, n_pins=2, image_side=64, ttft_repeats=1, threads=1,
                        cost_presets=["2b"])
    result = run_swap(sandbox, config, progress=False)
    art = sandbox.artifacts.read("vlm", "swapped")
    assert result.artifacts == {"swapped": art.id} and art.config() == config
    assert art.params["pin_dim"] == 16 and "model/config.json" in art.manifest["files"]
    assert not has_vision_parameters(load_model(art.path / "model"))
    m = result.metrics
    assert m["swap.reload_max_abs_diff"] == 0.0
    assert m["swap.params_swapped"] < m["swap.params_original"]
    assert m["swap.vision_params_removed"] == result.params_original["vision"] > 0
    assert m["swap.flops_ratio"] >= 20 and 0.9 < m["swap.compute_reduction"] < 1  # real 2B, 448², 8 pins
    assert m["swap.ttft_original_s"] > 0 and m["swap.ttft_swapped_s"] > 0
    assert list(result.cost_table["model"].unique()) == ["2b"] and len(result.cost_table) == 4
    assert result.ttft["seq_len_swapped"] < result.ttft["seq_len_original"]

    again = run_swap(sandbox, art.config(), progress=False)
    deterministic = lambda ms: {k: v for k, v in ms.items() if not k.startswith("swap.ttft")}  # noqa: E731
    assert deterministic(again.metrics) == deterministic(m)


def test_run_swap_refuses_a_bad_config_before_any_work(sandbox):
    from pinsandbox.errors import NotFound
    from pinsandbox.vlm import SwapConfig, run_swap

    bad = SwapConfig(preset="nope", pin_kind="pixels", tokens_per_pin=0, image_side=100, cost_presets=("3b",))
    with pytest.raises(InvalidInput) as e:
        run_swap(sandbox, bad, progress=False)
    for part in ("'nope'", "pin_kind", "tokens_per_pin", "image_side", "cost_presets"):
        assert part in str(e.value), str(e.value)
    with pytest.raises(InvalidInput, match="shape without weights"):
        run_swap(sandbox, SwapConfig(preset="2b"), progress=False)
    with pytest.raises(NotFound, match="embeddings"):  # no pin vectors yet: run the embeddings stage
        run_swap(sandbox, SwapConfig(preset="tiny"), progress=False)
    assert not sandbox.artifacts.exists("vlm", "swapped")


def test_importing_the_vlm_package_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, pinsandbox.vlm as v; v.SwapConfig, v.NavigatorConfig, v.run_swap, v.run_finetune, "
            "v.load_navigator; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
