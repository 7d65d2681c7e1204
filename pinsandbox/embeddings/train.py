"""Training the pin encoder: CLIP image↔text alignment + engagement alignment, seeded and reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from pinsandbox.embeddings.encoder import EncoderConfig, PinEncoder
from pinsandbox.embeddings.config import TrainConfig
from pinsandbox.embeddings.features import PinFeatures
from pinsandbox.errors import InvalidInput


def info_nce(anchor: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor | None, temperature: float) -> torch.Tensor:
    """InfoNCE with in-batch negatives (row i's positive is column i) plus shared sampled negatives."""
    logits = anchor @ positive.T
    if negatives is not None and len(negatives):
        logits = torch.cat([logits, anchor @ negatives.T], 1)
    target = torch.arange(len(anchor))
    return F.cross_entropy(logits / temperature, target)


def clip_loss(image_z: torch.Tensor, text_z: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    logits = logit_scale.clamp(max=4.6052).exp() * image_z @ text_z.T  # scale capped at 100 as in CLIP
    target = torch.arange(len(image_z))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def pair_indices(features: PinFeatures, pairs: pd.DataFrame) -> np.ndarray:
    row = pd.Series(np.arange(len(features)), index=features.pin_ids)
    a, b = pairs["a"].map(row), pairs["b"].map(row)
    keep = a.notna() & b.notna()
    return np.stack([a[keep].to_numpy(np.int64), b[keep].to_numpy(np.int64)], 1)


def train_encoder(features: PinFeatures, pairs: pd.DataFrame, config: TrainConfig = TrainConfig(),
                  encoder_config: EncoderConfig | None = None, progress: bool = True):
    """Fit a PinEncoder. Returns (encoder in eval mode, loss history DataFrame with step/loss/clip/engagement)."""
    from tqdm.auto import tqdm

    if not np.isfinite(features.text).all():
        raise InvalidInput("text features contain NaN or inf; recompute them (is the MiniLM package intact?)")
    idx = pair_indices(features, pairs)
    if config.engagement_weight > 0 and len(idx) == 0:
        raise InvalidInput("no positive pairs refer to pins in the features: engagement alignment has nothing to learn")
    encoder_config = encoder_config or EncoderConfig()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    model = PinEncoder(encoder_config)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=max(config.steps, 1), pct_start=0.1)
    text, pixels = torch.from_numpy(features.text), torch.from_numpy(features.pixels)
    has_image, meta = torch.from_numpy(features.has_image), torch.from_numpy(features.meta)
    with_images = encoder_config.use_images and bool(features.has_image.any())
    history = []
    model.train()
    bar = tqdm(range(config.steps), desc="train encoder", unit="step", disable=not progress)
    for step in bar:
        if len(idx):
            batch = idx[rng.choice(len(idx), size=min(config.batch_size, len(idx)), replace=False)]
        else:  # CLIP only: random pins
            batch = rng.choice(len(features), size=(min(config.batch_size, len(features)), 1), replace=False)
        neg = rng.choice(len(features), size=min(config.n_negatives, len(features)), replace=False)
        rows = np.concatenate([batch.reshape(-1), neg])
        out = model(text[rows], pixels[rows], has_image[rows], meta[rows])
        n = len(batch)
        losses = {}
        if config.engagement_weight > 0 and batch.shape[1] == 2:
            z = out["pin"]
            anchor, pos, negz = z[0:2 * n:2], z[1:2 * n:2], z[2 * n:]
            losses["engagement"] = (info_nce(anchor, pos, negz, config.temperature)
                                    + info_nce(pos, anchor, negz, config.temperature)) / 2
        if with_images and config.clip_weight > 0:
            mask = has_image[rows]
            if mask.sum() > 1:
                losses["clip"] = clip_loss(out["image_z"][mask], out["text_z"][mask], model.logit_scale)
        loss = (config.engagement_weight * losses.get("engagement", torch.tensor(0.0))
                + config.clip_weight * losses.get("clip", torch.tensor(0.0)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        history.append({"step": step, "loss": loss.item(), **{k: v.item() for k, v in losses.items()}})
        if step % 10 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    return model.eval(), pd.DataFrame(history)
