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
