"""LoRA fine-tuning (peft) on the Navigator task, for both routes under the same budget.

- swapped route: LoRA on the language model's q, k, v, o, gate, up, down projections; the pin projector and
  the score head trained fully (peft `modules_to_save`, so they travel inside the adapter).
- original route: the same LoRA on the same language model; the vision tower's merger (its connector to the LM,
  the projector's counterpart) and the score head trained fully; the ViT blocks frozen, as one would keep a
  pretrained vision encoder. Candidates go in as pixels.

Same steps, batch size, learning rate and seed for both; `FinetuneResult.wall_s` records the wall-clock each
took, so "same budget" can be checked rather than assumed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from pinsandbox.metrics import bootstrap_ci
from pinsandbox.vlm.configs import FinetuneConfig
from pinsandbox.vlm.navigator import ImageLookup, NavigatorExample, NavigatorTask, PinLookup, recall_at_k
from pinsandbox.vlm.prompts import build_prompts, images_to_pixels
from pinsandbox.vlm.scoring import score_original, score_swapped, unwrap

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# The language model's projections only: Qwen2.5-VL's ViT blocks also name their MLP gate/up/down_proj, and they
# stay frozen (Qwen3-VL's ViT names none of these, so for it this is the same set of modules as before).
LORA_PATTERN = rf".*language_model\.layers\.\d+\..*\.({'|'.join(LORA_TARGETS)})"


class SwappedRoute:
    """Candidates as precomputed pin vectors."""

    name = "swapped"
    trained_modules = ["pin_projector", "score_head"]

    def __init__(self, lookup: PinLookup, tokenizer):
        self.lookup, self.tokenizer = lookup, tokenizer

    def scores(self, model, examples: list[NavigatorExample], cfg: FinetuneConfig) -> torch.Tensor:
        config = unwrap(model).config
        batch = build_prompts(self.tokenizer, config, [e.text for e in examples], len(examples[0].candidates),
                              config.tokens_per_pin, cfg.max_text_tokens)
        vectors = np.stack([self.lookup.rows(e.candidates) for e in examples])
        return score_swapped(model, batch, torch.from_numpy(vectors))


class OriginalRoute:
    """Candidates as images through the vision tower (pixels at request time)."""

    name = "original"
    trained_modules = ["merger", "score_head"]

    def __init__(self, images: ImageLookup, tokenizer):
        self.images, self.tokenizer = images, tokenizer

    def scores(self, model, examples: list[NavigatorExample], cfg: FinetuneConfig) -> torch.Tensor:
        config = unwrap(model).config
        v = config.vision_config
        slots = (cfg.image_side // (v.patch_size * v.spatial_merge_size)) ** 2
        batch = build_prompts(self.tokenizer, config, [e.text for e in examples], len(examples[0].candidates),
                              slots, cfg.max_text_tokens)
        pixels, grid = images_to_pixels([im for e in examples for im in self.images.many(e.candidates)],
                                        cfg.image_side, patch=v.patch_size, merge=v.spatial_merge_size,
                                        temporal=v.temporal_patch_size)
        return score_original(model, batch, pixels, grid)


@dataclass
class FinetuneResult:
    route: str
    model: object  # the peft model
    losses: list[float]
    wall_s: float
    steps: int
    trainable_params: int
    evals: list[dict] = field(default_factory=list)  # (step, recall@10) during training when eval_every > 0

    def summary(self) -> dict:
        return {"route": self.route, "steps": self.steps, "wall_s": self.wall_s,
                "trainable_params": self.trainable_params, "final_loss": float(np.mean(self.losses[-5:]))}


def add_lora(model, route, cfg: FinetuneConfig):
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0, target_modules=LORA_PATTERN,
                      modules_to_save=route.trained_modules)
    torch.manual_seed(cfg.seed)  # LoRA A matrices are drawn here
    return get_peft_model(model, lora)


def listwise_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    target = labels / labels.sum(-1, keepdim=True)
    return -(target * torch.log_softmax(scores, -1)).sum(-1).mean()


def finetune(model, task: NavigatorTask, route, cfg: FinetuneConfig | None = None, *, progress: bool = True,
             eval_examples: list[NavigatorExample] | None = None) -> FinetuneResult:
    """Wrap `model` with LoRA and train it `cfg.steps` steps on `task.train` through `route`. A PeftModel (a
    published adapter loaded trainable) goes on training as it is: the loop's warm start."""
    from peft import PeftModel
    from tqdm.auto import tqdm

    cfg = cfg or FinetuneConfig()
    torch.set_num_threads(cfg.threads)
    peft_model = model if isinstance(model, PeftModel) else add_lora(model, route, cfg)
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=0.0)
    warmup = max(1, cfg.steps // 10)  # linear warm-up, then cosine decay to 10%
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * (
        0.55 + 0.45 * np.cos(np.pi * min(1.0, s / max(1, cfg.steps)))))
    rng = np.random.default_rng(cfg.seed)
    order: list[int] = []
    losses, evals = [], []
    peft_model.train()
    t0 = time.perf_counter()
    bar = tqdm(range(cfg.steps), desc=f"LoRA · {route.name}", disable=not progress)
    for step in bar:
        if len(order) < cfg.batch_size:
            order += list(rng.permutation(len(task.train)))
        batch = [task.train[i] for i in order[: cfg.batch_size]]
        del order[: cfg.batch_size]
        labels = torch.from_numpy(np.stack([e.labels for e in batch]).astype(np.float32))
        loss = listwise_loss(route.scores(peft_model, batch, cfg), labels)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if cfg.eval_every and eval_examples and (step + 1) % cfg.eval_every == 0:
            evals.append({"step": step + 1, **evaluate(peft_model, eval_examples, route, cfg)["summary"]})
            peft_model.train()
    wall = time.perf_counter() - t0
    peft_model.eval()
    return FinetuneResult(route.name, peft_model, losses, wall, cfg.steps, sum(p.numel() for p in trainable), evals)


@torch.inference_mode()
def evaluate(model, examples: list[NavigatorExample], route, cfg: FinetuneConfig | None = None, k: int = 10) -> dict:
    """recall@k over `examples`; also each request's scores, for showing what the model picked."""
    cfg = cfg or FinetuneConfig()
    model.eval()
    rows = []
    for i in range(0, len(examples), cfg.batch_size):
        chunk = examples[i: i + cfg.batch_size]
        scores = route.scores(model, chunk, cfg).float().numpy()
        for ex, s in zip(chunk, scores, strict=True):
            rows.append({"request_id": ex.request_id, "text": ex.text, "candidates": ex.candidates,
                         "labels": ex.labels, "scores": s, f"recall@{k}": recall_at_k(s, ex.labels, k)})
    per_request = np.array([r[f"recall@{k}"] for r in rows])
    chance = float(np.mean([min(1.0, k / len(ex.candidates)) for ex in examples]))
    lo, hi = bootstrap_ci(per_request, seed=cfg.seed) if len(rows) > 1 else (float("nan"), float("nan"))
    return {"summary": {f"recall@{k}": float(per_request.mean()), f"recall@{k}_ci95": (lo, hi),
                        f"chance_recall@{k}": chance, "requests": len(rows)}, "rows": rows}


def config_dict(cfg: FinetuneConfig) -> dict:
    return asdict(cfg)
