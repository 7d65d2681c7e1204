"""The swap stage's one entry point: `run_swap(sandbox, SwapConfig(...)) -> SwapResult`.

Reads the sandbox's pin vectors, builds (or loads) Qwen3-VL, removes its vision tower, publishes the swapped
model as `vlm/swapped` (with its `SwapConfig`), reloads it and checks that the outputs are identical, measures
time to first token (original vs swapped, same language model) and counts FLOPs and memory per request for
the real 2B/4B/8B shapes. Notebook 02, the CLI (`pinsandbox vlm run-swap`) and the tests call it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pinsandbox.errors import InvalidInput
from pinsandbox.stages import StageResult
from pinsandbox.vlm.configs import SwapConfig

SWAPPED_STAGE, SWAPPED_NAME = "vlm", "swapped"
COST_SIDE, COST_PINS = 448, 8  # the headline cost row: the first cost preset at 448², 8 pins
RELOAD_REQUEST = "a japandi lamp under $120"


@dataclass(kw_only=True)
class SwapResult(StageResult):
    params: object  # DataFrame: parameters by part (rows) for the original and swapped model, and fp32 MB
    params_original: dict  # param_breakdown of the original model
    params_swapped: dict
    ttft: dict  # measure_ttft output (medians, every run, sequence lengths)
    cost: dict  # cost_table output (per real shape: parameter breakdowns and per-request rows)
    cost_table: object  # DataFrame: one row per shape × image side × pins (TFLOPs, weights GB, KV MB)
    reload_max_abs_diff: float
    vectors_id: str = ""
    pin_dim: int = 0
    model_files: list[str] = field(default_factory=list)


def _is_int(value, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def check_model_source(preset, problems: list[str], what: str = "preset") -> None:
    """A CPU preset, a pretrained preset or a local Qwen3-VL (not yet swapped) checkpoint directory; problems are
    appended."""
    from pinsandbox.errors import InvalidInput, NotFound
    from pinsandbox.vlm import pretrained
    from pinsandbox.vlm.presets import PRESETS, REAL_SHAPES, is_qwen3vl_checkpoint

    cpu = [p for p in PRESETS if p not in REAL_SHAPES]
    if pretrained.is_pretrained_source(preset):
        try:
            pretrained.resolve(preset)  # the weights are there (the GGUF itself is read when the model is built)
        except (InvalidInput, NotFound) as e:
            problems.append(f"{what}: {e}")
    elif isinstance(preset, str) and preset in REAL_SHAPES:
        problems.append(f"{what} {preset!r} is a shape without weights (for the cost table only): use one of "
                        f"{', '.join(cpu)} or a Qwen3-VL checkpoint directory")
    elif isinstance(preset, str) and preset in PRESETS:
        return
    elif not isinstance(preset, (str, os.PathLike)) or not Path(preset).is_dir():
        problems.append(f"{what} {preset!r} is neither a CPU preset ({', '.join(cpu)}) nor a checkpoint directory")
    elif not is_qwen3vl_checkpoint(Path(preset)):
        problems.append(f"{what} {preset!r} is not a Qwen3-VL checkpoint (its config.json has no model_type "
                        "'qwen3_vl'): point at a checkpoint such as Qwen/Qwen3-VL-2B-Instruct")
    else:
        import json

        if json.loads((Path(preset) / "config.json").read_text()).get("model_type") != "qwen3_vl":
            problems.append(f"{what} {preset!r} is already swapped (model_type 'pin_qwen3_vl'): pass the original "
                            "Qwen3-VL checkpoint, with its vision tower")


def validate_swap_config(config: SwapConfig) -> None:
    """Every problem with `config` in one InvalidInput, before anything is built."""
    from pinsandbox.embeddings import KINDS
    from pinsandbox.vlm.presets import REAL_SHAPES

    if not isinstance(config, SwapConfig):
        raise InvalidInput(f"run_swap takes a SwapConfig, got {type(config).__name__}")
    problems: list[str] = []
    check_model_source(config.preset, problems)
    if config.pin_kind not in KINDS:
        problems.append(f"pin_kind {config.pin_kind!r} is unknown: use one of {', '.join(KINDS)}")
    for name in ("tokens_per_pin", "n_pins", "ttft_repeats", "threads"):
        if not _is_int(getattr(config, name), 1):
            problems.append(f"{name} must be an integer >= 1, got {getattr(config, name)!r}")
    if not _is_int(config.image_side, 32) or config.image_side % 32:
        problems.append(f"image_side must be a positive multiple of 32 (patch 16 × merge 2), got {config.image_side!r}")
    if not _is_int(config.seed, 0):
        problems.append(f"seed must be a non-negative integer, got {config.seed!r}")
    presets = config.cost_presets
    if isinstance(presets, str) or not presets:
        problems.append(f"cost_presets must be a non-empty list of real shapes ({', '.join(REAL_SHAPES)}), "
                        f"got {presets!r}")
    else:
        bad = [p for p in presets if p not in REAL_SHAPES]
        if bad:
            problems.append(f"cost_presets {bad} are unknown: use any of {', '.join(REAL_SHAPES)}")
    if problems:
        raise InvalidInput("invalid swap config: " + "; ".join(problems))


def params_frame(before: dict, after: dict):
    import pandas as pd

    table = pd.DataFrame({"original": before, "swapped": after})
    table["original MB (fp32)"] = table["original"] * 4 / 1e6
    table["swapped MB (fp32)"] = table["swapped"] * 4 / 1e6
    return table


def cost_frame(cost: dict):
    """The cost table as one row per real shape × image side × pins."""
    import pandas as pd

    rows = []
    for shape, entry in cost.items():
        for r in entry["requests"]:
            rows.append({"model": shape, "image_side": r["image_side"], "pins": r["n_pins"],
                         "TFLOPs original": r["original"]["flops_total"] / 1e12,
                         "TFLOPs swapped": r["swapped"]["flops_total"] / 1e12, "FLOPs ratio": r["flops_ratio"],
                         "weights GB original": r["original"]["weight_bytes"] / 1e9,
                         "weights GB swapped": r["swapped"]["weight_bytes"] / 1e9,
                         "KV MB original": r["original"]["kv_cache_bytes"] / 1e6,
                         "KV MB swapped": r["swapped"]["kv_cache_bytes"] / 1e6})
    return pd.DataFrame(rows)


def run_swap(sandbox=None, config: SwapConfig | None = None, progress: bool = True) -> SwapResult:
    """The vision-layer swap stage: swap, publish `vlm/swapped`, check the reload, TTFT and the cost table."""
    config = config or SwapConfig()
    validate_swap_config(config)
    from pinsandbox.embeddings import load_vectors
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    vectors = load_vectors(config.pin_kind, sb)  # NotFound (run the embeddings stage) before any model is built

    import copy

    import torch
    from tqdm.auto import tqdm

    from pinsandbox.vlm.cost import cost_table
    from pinsandbox.vlm.latency import TTFTConfig, measure_ttft
    from pinsandbox.vlm.presets import PRESETS, load_model, param_breakdown
    from pinsandbox.vlm.prompts import build_prompts, load_tokenizer
    from pinsandbox.vlm.swap import has_vision_parameters, swap_vision_layer

    steps = tqdm(total=4, desc="swap", disable=not progress)
    steps.set_postfix_str("swap")
    original = load_model(config.preset, seed=config.seed)
    before = param_breakdown(original)
    swapped = swap_vision_layer(copy.deepcopy(original), vectors.dim, config.tokens_per_pin, seed=config.seed,
                                fit_on=vectors.vectors)
    after = param_breakdown(swapped)
    assert not has_vision_parameters(swapped)
    steps.update()

    steps.set_postfix_str("save and reload")
    with sb.artifacts.write(SWAPPED_STAGE, SWAPPED_NAME, config=config, params={"pin_dim": vectors.dim},
                            inputs=[vectors.artifact_id]) as w:
        swapped.save_pretrained(w.path / "model")
    art = sb.artifacts.read(SWAPPED_STAGE, SWAPPED_NAME)
    reloaded = load_model(art.path / "model")
    tok = load_tokenizer(None if config.preset in PRESETS else config.preset)
    request = build_prompts(tok, swapped.config, [RELOAD_REQUEST], 3, config.tokens_per_pin)
    pins = torch.from_numpy(vectors.vectors[:3])
    with torch.inference_mode():
        a = swapped(input_ids=request.input_ids, attention_mask=request.attention_mask, pin_vectors=pins).logits
        b = reloaded(input_ids=request.input_ids, attention_mask=request.attention_mask, pin_vectors=pins).logits
    reload_diff = float((a - b).abs().max())
    del original, swapped, reloaded
    steps.update()

    steps.set_postfix_str("time to first token")
    ttft = measure_ttft(TTFTConfig(preset=config.preset, n_pins=config.n_pins, image_side=config.image_side,
                                   tokens_per_pin=config.tokens_per_pin, pin_dim=vectors.dim,
                                   repeats=config.ttft_repeats, threads=config.threads, seed=config.seed))
    steps.update()

    steps.set_postfix_str("cost table")
    cost = cost_table(presets=tuple(config.cost_presets), pin_dim=vectors.dim, tokens_per_pin=config.tokens_per_pin)
    cost_df = cost_frame(cost)
    steps.update()
    steps.close()

    head = cost_df[(cost_df["model"] == config.cost_presets[0]) & (cost_df.image_side == COST_SIDE)
                   & (cost_df.pins == COST_PINS)].iloc[0]
    metrics = {
        "swap.params_original": before["total"],
        "swap.params_swapped": after["total"],
        "swap.vision_params_removed": before["vision"],
        "swap.vision_share_of_params": before["vision"] / before["total"],
        "swap.reload_max_abs_diff": reload_diff,
        "swap.ttft_original_s": ttft["ttft_original_s"],
        "swap.ttft_swapped_s": ttft["ttft_swapped_s"],
        "swap.ttft_ratio": ttft["ttft_ratio"],
        "swap.flops_ratio": float(head["FLOPs ratio"]),
        "swap.compute_reduction": float(1 - 1 / head["FLOPs ratio"]),
        **{f"swap.shape_params.{shape}": entry["params_original"]["total"] for shape, entry in cost.items()},
    }
    return SwapResult(stage="swap", config=config, artifacts={"swapped": art.id}, metrics=metrics,
                      params=params_frame(before, after), params_original=before, params_swapped=after,
                      ttft=ttft, cost=cost, cost_table=cost_df, reload_max_abs_diff=reload_diff,
                      vectors_id=vectors.artifact_id, pin_dim=vectors.dim,
                      model_files=sorted(p.name for p in (art.path / "model").iterdir()))
