"""The vlm stages' configs (plain dataclasses, no torch): they travel with the artifacts they made.

- `SwapConfig`       the swap stage (`run_swap`, notebook 02) -> `vlm/swapped`
- `NavigatorConfig`  the fine-tuning stage (`run_finetune`, notebook 03) -> `vlm/navigator-lora`;
                     holds the task, the arms and the nested `FinetuneConfig` (the LoRA loop itself)

`Artifact.config()` gives them back, so whoever loads `vlm/navigator-lora` scores with what trained it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SwapConfig:
    preset: str = "proportional-2b"  # tiny | proportional-2b | a local Qwen3-VL checkpoint directory
    pin_kind: str = "proprietary"  # which pin vectors the projector is sized (and standardised) for
    tokens_per_pin: int = 4  # soft tokens per pin
    n_pins: int = 8  # candidate pins in the latency request
    image_side: int = 448  # the original route's image size in the latency request (a multiple of 32)
    ttft_repeats: int = 5  # timed runs per route (median reported)
    threads: int = 2  # CPU threads for the latency measurement
    cost_presets: tuple[str, ...] = ("2b", "4b", "8b")  # real shapes for the cost table (meta device)
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.cost_presets, list):  # papermill and JSON give lists; the saved config gives a tuple
            self.cost_presets = tuple(self.cost_presets)


@dataclass
class FinetuneConfig:
    steps: int = 300  # 100 left every arm far from converged (train loss still falling steeply)
    batch_size: int = 8
    lr: float = 3e-3  # tuned on the random-init presets; presets.default_lr gives each preset its rate
    lora_r: int = 8
    lora_alpha: int = 16
    image_side: int = 64  # original route: candidate images are resized to this (a multiple of 32)
    max_text_tokens: int = 32
    eval_every: int = 0  # 0: evaluate only at the end
    seed: int = 0  # model init, LoRA init and batch order
    threads: int = 1  # small matmuls: a second thread costs more in sync than it gains on a shared CPU


@dataclass
class NavigatorConfig:
    """The Navigator fine-tuning stage. `seed` draws the task's candidates, the ground-truth vectors, the
    bootstrap intervals and the vector ceilings; `finetune.seed` the models and the training (notebook 03 sets
    both from its one `seed`)."""

    preset: str = "tiny"  # tiny | proportional-2b | smollm2-135m[-<N>l] (pretrained.py) | a Qwen3-VL checkpoint dir
    tokens_per_pin: int = 4
    n_candidates: int = 24  # candidates per request (answers + hard negatives); chance recall@10 = 10 / this
    max_test: int | None = None  # cap on held-out requests (None: all)
    warm_start: bool = True  # MiniLM word embeddings for the text tokens (both arms alike; random-init presets only)
    ceiling_steps: int = 1000  # steps (× 32 requests) of the vector-ceiling reference ranker (0: skip it)
    ground_truth_arm: bool = False  # a fourth arm fed Pinworld's hidden style × category (perfect vectors)
    seed: int = 0
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
