"""Qwen3-VL model shapes, built from configs on the real `transformers` classes — nothing is downloaded.

- `tiny`            a few hundred thousand parameters, for tests.
- `proportional-2b` Qwen3-VL-2B's proportions (vision share of the parameters, patch 16, spatial merge 2, so
                    one visual token per 32×32 pixels) shrunk to CPU size, for latency measurements.
- `2b`, `4b`, `8b`  the published shapes (from the checkpoints' config.json), meant for the meta device:
                    the cost model counts their FLOPs and bytes without allocating a single weight.

Pretrained presets (`smollm2-135m`, `smollm2-135m-<N>l`: SmolLM2's weights in a Qwen2.5-VL) live in
pretrained.py; `load_model` takes their names too.

A local checkpoint directory (`config.json` + safetensors, e.g. a downloaded Qwen/Qwen3-VL-2B-Instruct) goes
through `load_model` too, with `from_pretrained`.

The known traps, checked in `check_config`:
- `rope_parameters.mrope_section` (temporal, height, width frequency split) must sum to head_dim / 2;
- `vision_config.out_hidden_size` must equal `text_config.hidden_size` (the merger writes LM embeddings);
- `deepstack_visual_indexes` must be below the vision depth (they name vision blocks whose features are
  added to the first LM layers).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
from pathlib import Path

from pinsandbox.errors import InvalidInput, NotFound

# Token ids of the CPU presets. Their vocabulary is the all-MiniLM-L6-v2 WordPiece vocabulary (30522 ids,
# the only tokenizer on this machine) followed by Qwen's four vision special tokens.
MINILM_VOCAB = 30522
SMALL_SPECIAL = {"image_token_id": MINILM_VOCAB, "video_token_id": MINILM_VOCAB + 1,
                 "vision_start_token_id": MINILM_VOCAB + 2, "vision_end_token_id": MINILM_VOCAB + 3}
SMALL_VOCAB = MINILM_VOCAB + 4


def _text(hidden, inter, layers, heads, kv, head_dim, vocab, mrope, theta=5_000_000.0, tie=True):
    return dict(hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers, num_attention_heads=heads,
                num_key_value_heads=kv, head_dim=head_dim, vocab_size=vocab, max_position_embeddings=262144,
                rope_parameters={"rope_type": "default", "rope_theta": theta, "mrope_section": mrope,
                                 "mrope_interleaved": True},
                tie_word_embeddings=tie, rms_norm_eps=1e-6)


def _vision(hidden, inter, depth, heads, out, deepstack, pos=2304):
    return dict(hidden_size=hidden, intermediate_size=inter, depth=depth, num_heads=heads, out_hidden_size=out,
                deepstack_visual_indexes=list(deepstack), patch_size=16, spatial_merge_size=2,
                temporal_patch_size=2, num_position_embeddings=pos, hidden_act="gelu_pytorch_tanh")


# Published shapes (Qwen/Qwen3-VL-{2B,4B,8B}-Instruct config.json).
PRESETS: dict[str, dict] = {
    "2b": dict(text=_text(2048, 6144, 28, 16, 8, 128, 151936, [24, 20, 20]),
               vision=_vision(1024, 4096, 24, 16, 2048, [5, 11, 17]), tie=True,
               special=dict(image_token_id=151655, video_token_id=151656,
                            vision_start_token_id=151652, vision_end_token_id=151653)),
    "4b": dict(text=_text(2560, 9728, 36, 32, 8, 128, 151936, [24, 20, 20]),
               vision=_vision(1024, 4096, 24, 16, 2560, [5, 11, 17]), tie=True,
               special=dict(image_token_id=151655, video_token_id=151656,
                            vision_start_token_id=151652, vision_end_token_id=151653)),
    "8b": dict(text=_text(4096, 12288, 36, 32, 8, 128, 151936, [24, 20, 20], tie=False),
               vision=_vision(1152, 4304, 27, 16, 4096, [8, 16, 24]), tie=False,
               special=dict(image_token_id=151655, video_token_id=151656,
                            vision_start_token_id=151652, vision_end_token_id=151653)),
    # 2B divided by 8 in width and ~3.5 in depth on both sides, so the vision tower keeps its share of the
    # compute per image; patch 16 and merge 2 are unchanged (one visual token per 32×32 pixels).
    "proportional-2b": dict(text=_text(256, 768, 8, 4, 2, 64, SMALL_VOCAB, [12, 10, 10]),
                            vision=_vision(128, 512, 7, 2, 256, [1, 3, 5]), tie=True, special=SMALL_SPECIAL),
    "tiny": dict(text=_text(64, 128, 2, 2, 1, 32, SMALL_VOCAB, [6, 5, 5]),
                 vision=_vision(32, 64, 2, 2, 64, [0], pos=64), tie=True, special=SMALL_SPECIAL),
}
REAL_SHAPES = ("2b", "4b", "8b")
# LoRA learning rates: 3e-3 was tuned on the random-init presets; on pretrained weights (the smollm2 presets, a
# checkpoint) it made the swapped arm collapse on 2 of 3 seeds, and a third of it trained every seed tried.
RANDOM_INIT_LR, PRETRAINED_LR = 3e-3, 1e-3
PUBLISHED_PARAMS_B = {"2b": 2.1, "4b": 4.4, "8b": 8.8}  # rounded published sizes, incl. vision


def default_lr(preset: str) -> float:
    """The fine-tuning learning rate for a preset: RANDOM_INIT_LR on PRESETS, PRETRAINED_LR on pretrained weights."""
    return RANDOM_INIT_LR if preset in PRESETS else PRETRAINED_LR


def build_config(preset: str):
    """A `Qwen3VLConfig` for one of PRESETS."""
    from transformers import Qwen3VLConfig

    if preset not in PRESETS:
        raise InvalidInput(f"unknown Qwen3-VL preset {preset!r}: use one of {', '.join(PRESETS)} or a checkpoint directory")
    p = copy.deepcopy(PRESETS[preset])  # configs are mutable; never hand out the table's own dicts
    config = Qwen3VLConfig(text_config=p["text"], vision_config=p["vision"],
                           tie_word_embeddings=p["tie"], **p["special"])
    config._attn_implementation = "sdpa"
    check_config(config)
    return config


def check_config(config) -> None:
    """Refuse the inconsistent Qwen3-VL configs that otherwise fail deep inside a forward pass."""
    text, vision = config.text_config, config.vision_config
    section = (text.rope_parameters or {}).get("mrope_section", [24, 20, 20])
    if sum(section) != text.head_dim // 2:
        raise InvalidInput(f"mrope_section {section} sums to {sum(section)} but must sum to head_dim/2 = "
                           f"{text.head_dim // 2}: fix rope_parameters.mrope_section in the text config")
    if getattr(vision, "out_hidden_size", text.hidden_size) != text.hidden_size:
        raise InvalidInput(f"vision out_hidden_size {vision.out_hidden_size} must equal the text hidden_size "
                           f"{text.hidden_size}: the merger writes language-model embeddings")
    bad = [i for i in vision.deepstack_visual_indexes if not 0 <= i < vision.depth]
    if bad:
        raise InvalidInput(f"deepstack_visual_indexes {bad} are not below the vision depth {vision.depth}")


def build_model(preset: str, *, seed: int = 0, device: str = "cpu"):
    """Instantiate `Qwen3VLForConditionalGeneration` for a preset, random init (seeded), or on `device='meta'`."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    config = build_config(preset)
    torch.manual_seed(seed)
    ctx = torch.device("meta") if device == "meta" else contextlib.nullcontext()
    with ctx:
        model = Qwen3VLForConditionalGeneration(config)
    return model.eval()


def is_qwen3vl_checkpoint(path: Path) -> bool:
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text()).get("model_type") in ("qwen3_vl", "pin_qwen3_vl")
    except (json.JSONDecodeError, OSError):
        return False


def load_model(source: str | Path, *, seed: int = 0, device: str = "cpu", dtype=None):
    """A Qwen-VL from a preset name, a pretrained preset (pretrained.py: SmolLM2 in a Qwen2.5-VL, or a .gguf file)
    or a local checkpoint directory (same code path as the real 2B/4B/8B)."""
    from pinsandbox.vlm import pretrained

    if isinstance(source, str) and source in PRESETS:
        return build_model(source, seed=seed, device=device)
    if pretrained.is_pretrained_source(source):
        return pretrained.build_model(source, seed=seed)
    path = Path(source)
    if not path.is_dir():
        raise NotFound(f"{source!r} is neither a Qwen3-VL preset ({', '.join(PRESETS)}), a pretrained preset "
                       f"({pretrained.SMOLLM2}[-<N>l] or a .gguf file) nor a checkpoint directory")
    cfg = path / "config.json"
    if not cfg.is_file():
        raise InvalidInput(f"{path} is not a Qwen3-VL checkpoint: it has no config.json")
    model_type = json.loads(cfg.read_text()).get("model_type")
    from pinsandbox.vlm.swap import PIN_MODELS

    if model_type in PIN_MODELS:
        return PIN_MODELS[model_type].from_pretrained(path, dtype=dtype).eval()
    if model_type != "qwen3_vl":
        raise InvalidInput(f"{path} holds a {model_type!r} model, not Qwen3-VL (model_type 'qwen3_vl'): "
                           "point at a Qwen3-VL checkpoint such as Qwen/Qwen3-VL-2B-Instruct")
    from transformers import Qwen3VLForConditionalGeneration

    model = Qwen3VLForConditionalGeneration.from_pretrained(path, dtype=dtype)
    check_config(model.config)
    return model.eval()


def count_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def param_breakdown(model) -> dict:
    """Parameters by part: vision tower, language model (layers / embeddings / head), projector."""
    inner = model.model
    out = {}
    visual = getattr(inner, "visual", None)
    out["vision"] = count_params(visual) if visual is not None else 0
    lm = inner.language_model
    out["lm_embeddings"] = lm.embed_tokens.weight.numel()
    out["lm_layers"] = count_params(lm) - out["lm_embeddings"]
    head = model.lm_head.weight
    out["lm_head"] = 0 if head is lm.embed_tokens.weight else head.numel()  # tied: counted once
    proj = getattr(inner, "pin_projector", None)
    out["projector"] = count_params(proj) if proj is not None else 0
    out["total"] = sum(out.values())
    return out


def warm_start_text_embeddings(model) -> None:
    """Initialise the CPU presets' token embeddings from all-MiniLM-L6-v2's word-piece embeddings.

    No pretrained Qwen3-VL weights exist on this machine, so a preset's language model starts from random
    init; its 30522 text-token embeddings are the one part we can give real pretrained meaning, because the
    presets share MiniLM's vocabulary. The 384-d MiniLM table is reduced to the model width with PCA and
    scaled to Qwen's initializer std. Applied to the original and swapped models alike (call it before
    swapping), so it favours neither route. A real checkpoint (load_model(dir)) never needs this.
    """
    import torch

    emb = model.model.language_model.embed_tokens.weight
    if emb.shape[0] < MINILM_VOCAB:
        raise InvalidInput("warm_start_text_embeddings is for the CPU presets (MiniLM vocabulary) only")
    reduced = _minilm_table(emb.shape[1], model.config.text_config.initializer_range)
    with torch.no_grad():
        emb[:MINILM_VOCAB] = torch.tensor(reduced, dtype=emb.dtype)


@functools.lru_cache(maxsize=4)
def _minilm_table(width: int, std: float):
    """MiniLM's word-piece embeddings reduced to `width` dimensions by PCA, scaled to `std` (cached: the SVD is
    the slow part and every arm of an experiment needs the same table)."""
    import numpy as np
    from safetensors.numpy import load_file

    from pinsandbox.vlm.prompts import minilm_dir

    table = load_file(str(minilm_dir() / "model.safetensors"))
    words = table[next(k for k in table if k.endswith("word_embeddings.weight"))].astype(np.float64)
    words -= words.mean(0)
    _, _, vt = np.linalg.svd(words[::4], full_matrices=False)  # principal axes from a quarter of the rows
    reduced = words @ vt[: min(width, vt.shape[0])].T
    if reduced.shape[1] < width:  # model wider than 384: pad with zeros
        reduced = np.pad(reduced, ((0, 0), (0, width - reduced.shape[1])))
    reduced *= std / reduced.std()
    reduced.setflags(write=False)
    return reduced
