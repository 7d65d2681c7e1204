"""FLOPs and memory per request, counted from the model's own modules (on the meta device: no weights).

For each Linear / Conv3d we multiply its weight shape by the number of tokens that pass through it in one
request, and add attention's two batched matmuls (QKᵀ and AV) per layer. Only matmul FLOPs are counted
(norms, activations and rotary add well under 1%); `tests/test_vlm_cost.py` checks the count against
`torch.utils.flop_counter.FlopCounterMode` on a real forward pass of the tiny preset (torch has no FLOP
formula for the CPU SDPA kernel, so the check compares everything but attention, which is reported apart).

One request = time to first token: the prefill of `text_tokens` of text plus every pin's visual tokens,
and the LM head on the last position only.
- original: the ViT runs on (side/16)² patches per pin, the merger fuses 2×2 patches, so (side/32)² tokens per
  pin enter the language model (DeepStack mergers run on the same merged tokens).
- swapped: the projector runs once per pin and `tokens_per_pin` tokens per pin enter the language model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from pinsandbox.errors import InvalidInput

BYTES_PER_PARAM = 2  # bf16 weights, as the checkpoints ship


@dataclass
class RequestCost:
    route: str
    n_pins: int
    image_side: int | None
    visual_tokens: int  # tokens per request that the LM sees for the pins
    seq_len: int
    flops_vision: float
    flops_projector: float
    flops_lm: float
    flops_total: float
    flops_attention: float  # the QKᵀ/AV part of the total (vision + LM)
    params: int  # weights that must be resident to serve the request
    weight_bytes: int
    kv_cache_bytes: int

    def as_dict(self) -> dict:
        return asdict(self)


def _attention_flops(seq: int, width: int) -> float:
    return 2 * 2 * seq * seq * width  # QKᵀ and AV, full square (what SDPA computes for a causal prefill too)


def _linear_flops(module: nn.Module, tokens: int) -> float:
    total = 0.0
    for m in module.modules():
        if isinstance(m, nn.Linear):
            total += 2 * m.in_features * m.out_features * tokens
    return total


def lm_attention_flops(model, seq_len: int) -> float:
    cfg = model.config.text_config
    return cfg.num_hidden_layers * _attention_flops(seq_len, cfg.num_attention_heads * cfg.head_dim)


def vision_attention_flops(model, n_pins: int, side: int) -> float:
    vcfg = model.config.vision_config
    return n_pins * vcfg.depth * _attention_flops((side // vcfg.patch_size) ** 2, vcfg.hidden_size)


def lm_flops(model, seq_len: int, head_tokens: int = 1) -> float:
    flops = _linear_flops(model.model.language_model.layers, seq_len)
    flops += lm_attention_flops(model, seq_len)
    flops += 2 * model.lm_head.in_features * model.lm_head.out_features * head_tokens
    return flops


def vision_flops(model, n_pins: int, side: int) -> float:
    vis = model.model.visual
    vcfg = model.config.vision_config
    if side % (vcfg.patch_size * vcfg.spatial_merge_size):
        raise InvalidInput(f"image side {side} must be a multiple of {vcfg.patch_size * vcfg.spatial_merge_size}")
    patches = (side // vcfg.patch_size) ** 2
    merged = patches // vcfg.spatial_merge_size**2
    per_image = 2 * vis.patch_embed.proj.weight.numel() * patches  # Conv3d == one Linear per patch
    per_image += _linear_flops(vis.blocks, patches) + vision_attention_flops(model, 1, side)
    per_image += _linear_flops(vis.merger, merged) + _linear_flops(vis.deepstack_merger_list, merged)
    return n_pins * per_image


def _kv_bytes(model, seq_len: int) -> int:
    cfg = model.config.text_config
    return 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * cfg.head_dim * seq_len * BYTES_PER_PARAM


def original_cost(model, n_pins: int, side: int, text_tokens: int = 64) -> RequestCost:
    vcfg = model.config.vision_config
    tokens_per_pin = (side // (vcfg.patch_size * vcfg.spatial_merge_size)) ** 2
    seq = text_tokens + n_pins * (tokens_per_pin + 2)  # + <vision_start>, <vision_end>
    fv, fl = vision_flops(model, n_pins, side), lm_flops(model, seq)
    params = sum(p.numel() for p in model.parameters())
    attn = vision_attention_flops(model, n_pins, side) + lm_attention_flops(model, seq)
    return RequestCost("original", n_pins, side, n_pins * tokens_per_pin, seq, fv, 0.0, fl, fv + fl, attn, params,
                       params * BYTES_PER_PARAM, _kv_bytes(model, seq))


def swapped_cost(model, n_pins: int, text_tokens: int = 64) -> RequestCost:
    cfg = model.config
    seq = text_tokens + n_pins * (cfg.tokens_per_pin + 2)
    fp = _linear_flops(model.model.pin_projector, n_pins)
    fl = lm_flops(model, seq)
    params = sum(p.numel() for p in model.parameters())
    return RequestCost("swapped", n_pins, None, n_pins * cfg.tokens_per_pin, seq, 0.0, fp, fl, fp + fl,
                       lm_attention_flops(model, seq), params,
                       params * BYTES_PER_PARAM, _kv_bytes(model, seq))


def cost_table(presets=("2b", "4b", "8b"), sides=(448, 1024), pins=(1, 8), *, pin_dim: int = 256,
               tokens_per_pin: int = 4, text_tokens: int = 64) -> dict:
    """Original vs swapped per request for each real shape, image side and pin count, with param counts."""
    from pinsandbox.vlm.presets import build_model, param_breakdown
    from pinsandbox.vlm.swap import swap_vision_layer

    out = {}
    for preset in presets:
        original = build_model(preset, device="meta")
        breakdown_original = param_breakdown(original)
        rows = {side: {n: original_cost(original, n, side, text_tokens) for n in pins} for side in sides}
        swapped = swap_vision_layer(original, pin_dim, tokens_per_pin)
        breakdown_swapped = param_breakdown(swapped)
        entry = {"params_original": breakdown_original, "params_swapped": breakdown_swapped, "requests": []}
        for side in sides:
            for n in pins:
                o, s = rows[side][n], swapped_cost(swapped, n, text_tokens)
                entry["requests"].append({
                    "image_side": side, "n_pins": n,
                    "original": o.as_dict(), "swapped": s.as_dict(),
                    "flops_ratio": o.flops_total / s.flops_total,
                    "weight_bytes_ratio": o.weight_bytes / s.weight_bytes,
                    "kv_cache_ratio": o.kv_cache_bytes / s.kv_cache_bytes,
                    "cost_reduction": 1 - s.flops_total / o.flops_total,
                })
        out[preset] = entry
    return out
