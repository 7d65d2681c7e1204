"""`vlm/navigator-lora`: publishing the fine-tuned Navigator, and loading it back to score with.

The artifact holds `adapter/` (peft format: LoRA + projector + head), `base/` (the swapped model before
fine-tuning), `config.json` (the `NavigatorConfig` that made it), `metrics.json` and `losses.parquet`.
`load_navigator(sandbox)` reads the config from the artifact, never a default one, so a non-default
`max_text_tokens`, `tokens_per_pin` or `n_candidates` is what serving uses too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ADAPTER_STAGE, ADAPTER_NAME = "vlm", "navigator-lora"
ADAPTER_VECTORS = "proprietary"  # the arm that is published: swapped + proprietary vectors


def publish_adapter(sandbox, arm, base_dir: Path, *, config, inputs: list[str], metrics: dict,
                    name: str = ADAPTER_NAME) -> str:
    """Publish `vlm/<name>` (default `navigator-lora`; the loop's full retrain publishes `navigator-challenger`)
    from a trained swapped arm, with `config` (the NavigatorConfig) beside it."""
    import shutil

    import pandas as pd

    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    with sb.artifacts.write(ADAPTER_STAGE, name, config=config, inputs=inputs) as w:
        arm.result.model.save_pretrained(w.path / "adapter")
        shutil.copytree(base_dir, w.path / "base")
        (w.path / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
        pd.DataFrame({"step": np.arange(1, len(arm.result.losses) + 1), "loss": arm.result.losses}).to_parquet(
            w.path / "losses.parquet", index=False)
    return sb.artifacts.current_id(ADAPTER_STAGE, name)


def has_navigator(sandbox=None) -> bool:
    from pinsandbox.sandbox import resolve

    return resolve(sandbox).artifacts.exists(ADAPTER_STAGE, ADAPTER_NAME)


def load_navigator_model(art, trainable: bool = False):
    """The fine-tuned swapped model (base + peft adapter) of a `vlm/navigator-lora` artifact; `trainable`: LoRA,
    projector and head ready to train on (a warm start), else in eval mode."""
    from peft import PeftModel

    from pinsandbox.vlm.presets import load_model

    model = PeftModel.from_pretrained(load_model(art.path / "base"), art.path / "adapter", is_trainable=trainable)
    return model if trainable else model.eval()


class Navigator:
    """The published Navigator, ready to score: the request's tokens and each candidate's precomputed pin vector
    in, one score per candidate out (higher is better). Built by `load_navigator`."""

    def __init__(self, art, vectors, config):
        from pinsandbox.vlm.finetune import SwappedRoute
        from pinsandbox.vlm.navigator import PinLookup
        from pinsandbox.vlm.presets import PRESETS
        from pinsandbox.vlm.prompts import load_tokenizer

        self.artifact_id, self.vectors_id, self.config = art.id, vectors.artifact_id, config
        self.model = load_navigator_model(art)
        tokenizer = load_tokenizer(None if config.preset in PRESETS else config.preset)
        self.route = SwappedRoute(PinLookup(vectors.pin_ids, vectors.vectors), tokenizer)

    @property
    def n_candidates(self) -> int:
        """How many candidates per request it was trained to rank."""
        return self.config.n_candidates

    @property
    def tokens_per_pin(self) -> int:
        return int(self.model.get_base_model().config.tokens_per_pin)

    def scores(self, examples):
        """(B, P) scores for NavigatorExamples, with the artifact's own FinetuneConfig (text length, batch)."""
        import torch

        with torch.inference_mode():
            return self.route.scores(self.model, examples, self.config.finetune)

    def score(self, text: str, pin_ids) -> np.ndarray:
        """One request's candidates (pin ids) -> one float score each."""
        from pinsandbox.vlm.navigator import NavigatorExample

        example = NavigatorExample("request", text, list(pin_ids), np.zeros(len(pin_ids), dtype=bool))
        return self.scores([example])[0].float().numpy()


def load_navigator(sandbox=None) -> Navigator:
    """The sandbox's fine-tuned Navigator, scoring with the config saved in its artifact.

    NotFound when the sandbox has no `vlm/navigator-lora`, or one published without a config (re-run notebook 03)."""
    from pinsandbox.embeddings import load_vectors
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    art = sb.artifacts.read(ADAPTER_STAGE, ADAPTER_NAME)
    config = art.config()
    return Navigator(art, load_vectors(ADAPTER_VECTORS, sb), config)
