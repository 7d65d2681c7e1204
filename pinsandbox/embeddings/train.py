"""Training the pin encoder: CLIP image↔text alignment + engagement alignment, seeded and reproducible."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from pinsandbox.embeddings.config import TrainConfig
from pinsandbox.embeddings.encoder import FEATURE_NAMES, EncoderConfig, PinEncoder, feature_tensors
from pinsandbox.embeddings.features import PinFeatures
from pinsandbox.errors import InvalidInput


def info_nce(anchor: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor | None, temperature: float,
             hard: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE with in-batch negatives (row i's positive is column i), shared sampled negatives and, if given,
    one hard negative per anchor (row i of `hard`)."""
    logits = anchor @ positive.T
    if negatives is not None and len(negatives):
        logits = torch.cat([logits, anchor @ negatives.T], 1)
    if hard is not None:
        logits = torch.cat([logits, (anchor * hard).sum(1, keepdim=True)], 1)
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


def without_neighbourhood(inputs: list, hide: torch.Tensor) -> list:
    """The encoder's inputs with the neighbourhood of the rows in `hide` removed, as a freshly published pin has none."""
    out = list(inputs)
    for name in ("neighbours", "graph"):
        i = FEATURE_NAMES.index(name)
        out[i] = out[i].masked_fill(hide[:, None], 0)
    i = FEATURE_NAMES.index("warm")
    out[i] = out[i] & ~hide
    return out


def same_category_sampler(meta: np.ndarray, rng: np.random.Generator):
    """A function rows -> one other pin of each row's category (PinSage's hard negatives are pins close to the
    query yet not engaged with it; on a catalog, the same category is where style alone must tell pins apart)."""
    category = meta[:, 0]
    order = np.argsort(category, kind="stable")
    start = np.searchsorted(category[order], category)
    size = np.bincount(category, minlength=category.max() + 1)[category]

    def sample(rows: np.ndarray) -> np.ndarray:
        return order[start[rows] + (rng.random(len(rows)) * size[rows]).astype(np.int64)]

    return sample


def train_encoder(features: PinFeatures, pairs: pd.DataFrame, config: TrainConfig | None = None,
                  encoder_config: EncoderConfig | None = None, progress: bool = True, init: PinEncoder | None = None):
    """Fit a PinEncoder. Returns (encoder in eval mode, loss history DataFrame: phase, step, loss, clip, engagement, text).

    `init`: a trained PinEncoder to continue from, left unchanged (the loop's full retrain warm-starts from the
    champion); its own config is used and `encoder_config` is ignored."""
    from tqdm.auto import tqdm

    config = config or TrainConfig()
    if not np.isfinite(features.text).all():
        raise InvalidInput("text features contain NaN or inf; recompute them (is the MiniLM package intact?)")
    idx = pair_indices(features, pairs)
    if config.engagement_weight > 0 and len(idx) == 0:
        raise InvalidInput("no positive pairs refer to pins in the features: engagement alignment has nothing to learn")
    encoder_config = encoder_config or EncoderConfig()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    model = copy.deepcopy(init) if init is not None else PinEncoder(encoder_config)
    history = []
    has_image = features.has_image
    with_images = model.image_tower is not None and has_image.sum() > 1 and config.clip_weight > 0

    # Phase 1 — CLIP: the image tower learns to see what the text says (and the text tower what images show).
    if with_images and config.clip_steps > 0:
        image_rows = np.flatnonzero(has_image)
        params = [*model.image_tower.parameters(), *model.image_proj.parameters(), *model.text_tower.parameters(),
                  *model.text_proj.parameters(), model.logit_scale]
        opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        model.train()
        for step in tqdm(range(config.clip_steps), desc="train: CLIP image↔text", unit="step", disable=not progress):
            rows = rng.choice(image_rows, size=min(config.clip_batch_size, len(image_rows)), replace=False)
            text, pixels, descriptors, has, *_ = feature_tensors(features, rows)
            img = model.image_hidden(pixels, descriptors, has)
            loss = clip_loss(F.normalize(model.image_proj(img), dim=-1),
                             F.normalize(model.text_proj(model.text_tower(text)), dim=-1), model.logit_scale)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append({"phase": "clip", "step": step, "loss": loss.item(), "clip": loss.item()})

    # Phase 2 — engagement alignment over the whole pin vector; image tower frozen, its outputs computed once.
    image_hidden = None
    if model.image_tower is not None:
        model.image_tower.eval()
        for p in model.image_tower.parameters():
            p.requires_grad_(False)
        with torch.no_grad():
            image_hidden = torch.cat([model.image_hidden(*feature_tensors(features, np.arange(s, min(s + 512, len(features))))[1:4])
                                      for s in range(0, len(features), 512)])
    hard_negative = same_category_sampler(features.meta, rng) if config.hard_negatives else None
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    warm = max(1, config.steps // 10)  # linear warm-up, then cosine decay (any number of steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, config.steps) / max(config.steps, 1))))
    model.train()
    model.image_tower is not None and model.image_tower.eval()  # keep BatchNorm statistics from phase 1
    bar = tqdm(range(config.steps), desc="train: engagement alignment", unit="step", disable=not progress)
    for step in bar:
        if len(idx):
            batch = idx[rng.choice(len(idx), size=min(config.batch_size, len(idx)), replace=False)]
        else:  # no engagement: CLIP only, on random pins
            batch = rng.choice(len(features), size=(min(config.batch_size, len(features)), 1), replace=False)
        neg = rng.choice(len(features), size=min(config.n_negatives, len(features)), replace=False)
        pair_rows = batch.reshape(-1)
        hard = hard_negative(pair_rows) if hard_negative is not None and batch.shape[1] == 2 else np.zeros(0, np.int64)
        rows = np.concatenate([pair_rows, neg, hard])
        # neighbourhood hidden: the pin must be recognised by its content, as a freshly published pin is
        hide = torch.from_numpy(rng.random(len(rows)) < config.graph_dropout)
        inputs = without_neighbourhood(feature_tensors(features, rows), hide)
        out = model(*inputs, image_hidden=None if image_hidden is None else image_hidden[rows])
        m = len(pair_rows)
        losses = {}
        z = out["pin"]
        if config.engagement_weight > 0 and batch.shape[1] == 2:
            anchor, pos, negz = z[0:m:2], z[1:m:2], z[m:m + len(neg)]
            hard_z = z[m + len(neg):] if len(hard) else None
            losses["engagement"] = (info_nce(anchor, pos, negz, config.temperature, None if hard_z is None else hard_z[0::2])
                                    + info_nce(pos, anchor, negz, config.temperature, None if hard_z is None else hard_z[1::2])) / 2
        if config.text_weight > 0:
            losses["text"] = info_nce(out["text_z"][:m], z[:m].detach(), None, config.temperature)
        if with_images:
            mask = torch.from_numpy(has_image[rows])
            if mask.sum() > 1:
                losses["clip"] = clip_loss(out["image_z"][mask], out["text_z"][mask], model.logit_scale)
        if not losses:
            break
        loss = (config.engagement_weight * losses.get("engagement", torch.tensor(0.0))
                + config.clip_weight * losses.get("clip", torch.tensor(0.0))
                + config.text_weight * losses.get("text", torch.tensor(0.0)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        history.append({"phase": "engagement", "step": step, "loss": loss.item(), **{k: v.item() for k, v in losses.items()}})
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    model.fit_cold_map(features, config.cold_l2)
    return model, pd.DataFrame(history)
