"""The cost model counts what torch actually computes, and the swap cuts it at the real 2B shape."""

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from pinsandbox.vlm.cost import cost_table, original_cost, swapped_cost
from pinsandbox.vlm.presets import build_model
from pinsandbox.vlm.prompts import build_prompts, images_to_pixels, load_tokenizer
from pinsandbox.vlm.swap import swap_vision_layer


def _measured(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        with torch.inference_mode():
            fn()
    return counter.get_total_flops()


def test_analytic_flops_match_torch_flop_counter_on_a_real_forward():
    tok = load_tokenizer()
    original = build_model("tiny")
    swapped = swap_vision_layer(build_model("tiny"), 16, 4)
    n_pins, side = 2, 64
    p_orig = build_prompts(tok, original.config, ["x"], n_pins, (side // 32) ** 2, max_text_tokens=8)
    text = p_orig.input_ids.shape[1] - n_pins * ((side // 32) ** 2 + 2)
    pixels, grid = images_to_pixels([np.zeros((side, side, 3), np.uint8)] * n_pins, side)
    measured_orig = _measured(lambda: original(
        input_ids=p_orig.input_ids, pixel_values=pixels, image_grid_thw=grid,
        mm_token_type_ids=p_orig.mm_token_type_ids, logits_to_keep=1))
    cost = original_cost(original, n_pins, side, text_tokens=text)
    # torch's counter has no formula for the CPU SDPA kernel: compare all the rest exactly
    predicted_orig = cost.flops_total - cost.flops_attention
    p_swap = build_prompts(tok, swapped.config, ["x"], n_pins, 4, max_text_tokens=8)
    measured_swap = _measured(lambda: swapped(input_ids=p_swap.input_ids, pin_vectors=torch.randn(n_pins, 16),
                                              logits_to_keep=1))
    cost = swapped_cost(swapped, n_pins, text_tokens=text)
    predicted_swap = cost.flops_total - cost.flops_attention
    assert predicted_orig == measured_orig
    assert predicted_swap == measured_swap


def test_flops_ratio_at_real_2b_448_8_pins_is_over_20x():
    table = cost_table(presets=("2b",), sides=(448,), pins=(8,))
    row = table["2b"]["requests"][0]
    assert row["flops_ratio"] >= 20
    assert row["original"]["visual_tokens"] == 8 * 196 and row["swapped"]["visual_tokens"] == 8 * 4
    assert table["2b"]["params_swapped"]["vision"] == 0
    assert row["swapped"]["weight_bytes"] < row["original"]["weight_bytes"]
