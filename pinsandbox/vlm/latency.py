"""Time to first token (prefill + first greedy token) for a Navigator request, original vs swapped.

Both routes use the same language model weights (the swapped model is made from a copy of the original).
- original: the request's candidate images (RGB arrays, already decoded) are resized, normalised and
  patchified, the vision tower encodes them, and the LM prefills text + (side/32)² tokens per pin;
- swapped: the candidates' precomputed vectors are looked up in the pin-vector table, the projector maps
  them, and the LM prefills text + tokens_per_pin tokens per pin.

Runs alternate between the routes so both see the same background load. On a shared CPU set
OMP_WAIT_POLICY=PASSIVE before torch is imported (the benchmark and notebook 02 do): OpenMP threads that spin
while they wait fight every other process for the cores, which slows both routes, small prefills most.
"""

from __future__ import annotations

import copy
import os
import statistics
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from pinsandbox.vlm.prompts import build_prompts, images_to_pixels, load_tokenizer

REQUEST = "a mid-century modern walnut sideboard under $400 for a small living room, warm tones please"


@dataclass
class TTFTConfig:
    preset: str = "proportional-2b"
    n_pins: int = 8
    image_side: int = 448
    tokens_per_pin: int = 4
    pin_dim: int = 256
    repeats: int = 5
    warmup: int = 1
    threads: int = 2
    seed: int = 0


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _interleaved_medians(fn_a, fn_b, repeats: int, warmup: int, b_per_a: int = 3):
    """Alternate the two routes so both see the same background load (the CPU may be shared); medians."""
    for _ in range(warmup):
        fn_a(), fn_b()
    times_a, times_b = [], []
    for _ in range(repeats):
        times_a.append(_timed(fn_a))
        times_b += [_timed(fn_b) for _ in range(b_per_a)]  # the short route gets more samples for the same cost
    return statistics.median(times_a), times_a, statistics.median(times_b), times_b


def _flops(fn) -> int:
    """FLOPs torch counts for one run (matmuls and attention: what dominates a prefill)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def measure_ttft(cfg: TTFTConfig | None = None) -> dict:
    from pinsandbox.vlm.presets import PRESETS, load_model
    from pinsandbox.vlm.swap import swap_vision_layer

    cfg = cfg or TTFTConfig()
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    original = load_model(cfg.preset, seed=cfg.seed)  # a preset (built, seeded) or a checkpoint directory
    swapped = swap_vision_layer(copy.deepcopy(original), cfg.pin_dim, cfg.tokens_per_pin, seed=cfg.seed)
    tok = load_tokenizer(None if cfg.preset in PRESETS else cfg.preset)
    vcfg = original.config.vision_config
    visual_tokens = (cfg.image_side // (vcfg.patch_size * vcfg.spatial_merge_size)) ** 2
    images = [rng.integers(0, 256, (cfg.image_side, cfg.image_side, 3), dtype=np.uint8) for _ in range(cfg.n_pins)]
    table = rng.standard_normal((1000, cfg.pin_dim)).astype(np.float32)  # a pin-vector table to look up from
    table /= np.linalg.norm(table, axis=1, keepdims=True)
    rows = rng.choice(len(table), cfg.n_pins, replace=False)
    p_orig = build_prompts(tok, original.config, [REQUEST], cfg.n_pins, visual_tokens)
    p_swap = build_prompts(tok, swapped.config, [REQUEST], cfg.n_pins, cfg.tokens_per_pin)

    @torch.inference_mode()
    def run_original():
        pixels, grid = images_to_pixels(images, cfg.image_side)
        original.model.rope_deltas = None
        out = original(input_ids=p_orig.input_ids, attention_mask=p_orig.attention_mask, pixel_values=pixels,
                       image_grid_thw=grid, mm_token_type_ids=p_orig.mm_token_type_ids, logits_to_keep=1,
                       use_cache=True)
        return out.logits[:, -1].argmax(-1)

    @torch.inference_mode()
    def run_swapped():
        vectors = torch.from_numpy(table[rows])
        swapped.model.rope_deltas = None
        out = swapped(input_ids=p_swap.input_ids, attention_mask=p_swap.attention_mask, pin_vectors=vectors,
                      logits_to_keep=1, use_cache=True)
        return out.logits[:, -1].argmax(-1)

    t_orig, all_orig, t_swap, all_swap = _interleaved_medians(run_original, run_swapped, cfg.repeats, cfg.warmup)
    # the spread: one ratio per repeat (its original run against the median of the swapped runs beside it)
    per_repeat = [a / statistics.median(all_swap[3 * i: 3 * i + 3]) for i, a in enumerate(all_orig)]
    flops_orig, flops_swap = _flops(run_original), _flops(run_swapped)
    return {
        "config": asdict(cfg),
        "seq_len_original": int(p_orig.input_ids.shape[1]),
        "seq_len_swapped": int(p_swap.input_ids.shape[1]),
        "ttft_original_s": t_orig,
        "ttft_swapped_s": t_swap,
        "ttft_ratio": t_orig / t_swap,
        "ttft_ratio_per_repeat": per_repeat,
        "ttft_ratio_spread": [min(per_repeat), max(per_repeat)],
        "flops_original": flops_orig,
        "flops_swapped": flops_swap,
        "flops_ratio": flops_orig / flops_swap,
        "runs_original_s": all_orig,
        "runs_swapped_s": all_swap,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default: active)"),
    }
