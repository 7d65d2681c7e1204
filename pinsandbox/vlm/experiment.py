"""The Navigator comparison the issue asks for, as the plain functions `run_finetune` (finetune_stage.py) calls:

    swapped + proprietary vectors   vs   original + vision tower on images   vs   swapped + off-the-shelf vectors

Each arm starts from the same freshly built Qwen3-VL (same preset, same seed, same warm start), is fine-tuned
with the same `FinetuneConfig` and evaluated on the same held-out requests.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput
from pinsandbox.metrics import bootstrap_ci
from pinsandbox.vlm.finetune import (
    FinetuneConfig,
    FinetuneResult,
    OriginalRoute,
    SwappedRoute,
    evaluate,
    finetune,
)
from pinsandbox.vlm.navigator import ImageLookup, NavigatorTask, PinLookup
from pinsandbox.vlm.presets import PRESETS, load_model, warm_start_text_embeddings
from pinsandbox.vlm.prompts import load_tokenizer
from pinsandbox.vlm.scoring import attach_score_head
from pinsandbox.vlm.swap import swap_vision_layer


@dataclass
class Arm:
    name: str
    route: object
    result: FinetuneResult
    test: dict  # evaluate() output on held-out requests

    @property
    def recall(self) -> float:
        return self.test["summary"]["recall@10"]


def fresh_original(preset: str, seed: int = 0, warm_start: bool = True):
    """A preset built from its seed, or a Qwen3-VL checkpoint directory loaded (`warm_start`: CPU presets only)."""
    model = load_model(preset, seed=seed)
    if warm_start:
        warm_start_text_embeddings(model)
    return model


def _tokenizer(preset):
    return load_tokenizer(None if preset in PRESETS else preset)  # a checkpoint brings its own


def run_swapped_arm(name: str, task: NavigatorTask, vectors, preset: str, cfg: FinetuneConfig, *,
                    tokens_per_pin: int = 4, warm_start: bool = True, save_base_to: Path | None = None,
                    progress: bool = True) -> Arm:
    """`vectors`: a PinVectors (pin_ids, vectors). Swap a fresh Qwen3-VL for them and fine-tune."""
    swapped = swap_vision_layer(fresh_original(preset, cfg.seed, warm_start), int(vectors.dim), tokens_per_pin,
                                seed=cfg.seed, fit_on=vectors.vectors)
    if save_base_to is not None:
        swapped.save_pretrained(save_base_to)  # the untrained swapped model the adapter applies to
    route = SwappedRoute(PinLookup(vectors.pin_ids, vectors.vectors), _tokenizer(preset))
    result = finetune(swapped, task, route, cfg, progress=progress)
    return Arm(name, route, result, evaluate(result.model, task.test, route, cfg))


def run_original_arm(task: NavigatorTask, catalog, preset: str, cfg: FinetuneConfig, *, warm_start: bool = True,
                     progress: bool = True) -> Arm:
    model = attach_score_head(fresh_original(preset, cfg.seed, warm_start), seed=cfg.seed)
    route = OriginalRoute(ImageLookup(catalog, cfg.image_side), _tokenizer(preset))
    result = finetune(model, task, route, cfg, progress=progress)
    return Arm("original + vision tower", route, result, evaluate(result.model, task.test, route, cfg))


def relative_gain(a: Arm, b: Arm, seed: int = 0) -> dict:
    """recall(a) / recall(b) - 1 on the same held-out requests, with a paired bootstrap 95% interval: both arms'
    per-request recalls are resampled together, so how hard the drawn requests are (shared by both) cancels out."""
    ra, rb = ({r["request_id"]: r["recall@10"] for r in arm.test["rows"]} for arm in (a, b))
    if ra.keys() != rb.keys():
        raise InvalidInput(f"arms {a.name!r} and {b.name!r} were evaluated on different requests")
    pairs = np.array([(ra[k], rb[k]) for k in ra])
    ratio = lambda p: p[:, 0].mean() / max(p[:, 1].mean(), 1e-9) - 1  # noqa: E731
    lo, hi = bootstrap_ci(pairs, statistic=ratio, seed=seed)
    return {"gain": float(ratio(pairs)), "ci95": (lo, hi), "requests": len(pairs)}


def summary_table(arms: list[Arm]) -> pd.DataFrame:
    rows = []
    for a in arms:
        lo, hi = a.test["summary"]["recall@10_ci95"]
        rows.append({"arm": a.name, "recall@10": a.recall, "ci95_low": lo, "ci95_high": hi,
                     "chance": a.test["summary"]["chance_recall@10"],
                     "steps": a.result.steps, "train_wall_s": a.result.wall_s,
                     "trainable_params": a.result.trainable_params, "final_loss": a.result.summary()["final_loss"]})
    return pd.DataFrame(rows).set_index("arm")


def ground_truth_vectors(sandbox=None, dim: int = 256, noise: float = 0.02, seed: int = 0):
    """Pinworld only: the best pin vectors possible — each pin's hidden style and category, one-hot, plus a
    little seeded noise so that no two pins share a vector — as a PinVectors the arms accept. A swapped arm fed
    these shows what the language model itself can make of perfect embeddings."""
    from pinsandbox.catalog import load_catalog, load_ground_truth
    from pinsandbox.embeddings import PinVectors

    pins = load_catalog(sandbox).pins[["pin_id", "category"]].merge(
        load_ground_truth(sandbox).pin_styles[["pin_id", "style"]], on="pin_id", how="left")
    style, category = pd.factorize(pins["style"])[0], pd.factorize(pins["category"])[0]
    if (style < 0).any() or style.max() + 1 + category.max() + 1 > dim:
        raise InvalidInput(f"ground-truth vectors need every pin's style and {dim} >= styles + categories dimensions")
    vectors = np.random.default_rng(seed).standard_normal((len(pins), dim)).astype(np.float32) * noise
    vectors[np.arange(len(pins)), style] += 1.0
    vectors[np.arange(len(pins)), style.max() + 1 + category] += 1.0
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return PinVectors(pins["pin_id"].astype(str).to_numpy(), vectors, "pinworld-ground-truth", dim)


@functools.lru_cache(maxsize=4)
def _request_vectors(texts: tuple[str, ...]) -> np.ndarray:
    """MiniLM sentence vectors of the requests (cached: every vector table is ranked for the same requests)."""
    from pinsandbox.embeddings import encode_texts

    return encode_texts(list(texts), progress=False)


def vector_ceiling(task: NavigatorTask, vectors, *, steps: int = 1000, batch_size: int = 32, lr: float = 3e-3,
                   seed: int = 0) -> dict:
    """How much of the Navigator answer a pin-vector table holds, with the language model out of the way.

    A two-tower reference ranker: the request read by pretrained MiniLM (sentence vector, frozen), the pin
    vector standardised and passed through an MLP, score = dot product; trained with the arms' listwise loss on
    over 10× the requests the arms see (1,000 steps × 32 against 300 × 8). No CPU preset reads requests this
    well, so its held-out recall@10 is a practical ceiling for any swapped arm fed these vectors — the
    yardstick for the relative-gain goal. It moves by about ±0.01 with its own steps and batch size.
    """
    import torch
    from torch import nn

    from pinsandbox.embeddings import TEXT_DIM
    from pinsandbox.vlm.finetune import listwise_loss
    from pinsandbox.vlm.navigator import recall_at_k

    lookup = PinLookup(vectors.pin_ids, vectors.vectors)
    mean, std = lookup.vectors.mean(0), lookup.vectors.std(0) + 1e-6

    def tensors(examples):
        text = torch.from_numpy(_request_vectors(tuple(e.text for e in examples)))
        pins = torch.from_numpy(np.stack([(lookup.rows(e.candidates) - mean) / std for e in examples]).astype(np.float32))
        return text, pins, torch.from_numpy(np.stack([e.labels for e in examples]).astype(np.float32))

    torch.manual_seed(seed)
    query = nn.Linear(TEXT_DIM, 64)
    key = nn.Sequential(nn.LayerNorm(lookup.dim), nn.Linear(lookup.dim, 64), nn.GELU(), nn.Linear(64, 64))
    score = lambda t, p: torch.einsum("bd,bpd->bp", query(t), key(p))  # noqa: E731
    opt = torch.optim.AdamW([*query.parameters(), *key.parameters()], lr=lr)
    splits = {"train": (task.train, tensors(task.train)), "test": (task.test, tensors(task.test))}
    text, pins, labels = splits["train"][1]
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        b = rng.choice(len(text), size=min(batch_size, len(text)), replace=False)
        loss = listwise_loss(score(text[b], pins[b]), labels[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = {"steps": steps}
    with torch.no_grad():
        for split, (examples, (t, p, _)) in splits.items():
            s = score(t, p).numpy()
            out[f"recall@10_{split}"] = float(np.mean([recall_at_k(si, e.labels) for si, e in zip(s, examples, strict=True)]))
    return out


def top_picks(arm: Arm, request_id: str, k: int = 5) -> pd.DataFrame:
    """The k candidates an arm ranked highest for one held-out request (pin_id, score, is_answer)."""
    row = next(r for r in arm.test["rows"] if r["request_id"] == request_id)
    order = np.argsort(-row["scores"], kind="stable")[:k]
    return pd.DataFrame({"pin_id": [row["candidates"][i] for i in order], "score": row["scores"][order],
                         "is_answer": row["labels"][order]})
