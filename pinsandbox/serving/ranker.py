"""Who ranks Navigator's candidates: the fine-tuned swapped VLM when the sandbox has one, else the retrieval score.

The swapped VLM reads the request text and each candidate's *precomputed* pin vector (no pixels at request time)
and scores every candidate (`vlm/navigator-lora`, made by notebook 03). Without it the retrieval ranker keeps
the order of candidate retrieval and says so (the response's `ranker` field), so nobody mistakes it for the VLM.

A ranker has `.name`, `.reason` and `.score(text, pin_ids, retrieval_scores) -> np.ndarray` (higher is better).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RetrievalRanker:
    """Keeps retrieval's scores: the honest fallback when there is no swapped VLM to rank with."""

    reason: str
    name: str = "retrieval"

    def score(self, text: str, pin_ids: list[str], retrieval_scores: np.ndarray) -> np.ndarray:
        return np.asarray(retrieval_scores, dtype=np.float32)


class SwappedVLMRanker:
    """The fine-tuned swapped Qwen3-VL (`vlm/navigator-lora`): the request's tokens and each candidate's
    *precomputed* pin vector (through the trained projector) go in, one score per candidate comes out."""

    name = "swapped-vlm"

    def __init__(self, sb):
        from pinsandbox.embeddings import load_vectors
        from pinsandbox.vlm.experiment import ADAPTER_NAME, ADAPTER_STAGE, load_navigator
        from pinsandbox.vlm.finetune import FinetuneConfig, SwappedRoute
        from pinsandbox.vlm.navigator import PinLookup
        from pinsandbox.vlm.prompts import load_tokenizer

        art = sb.artifacts.read(ADAPTER_STAGE, ADAPTER_NAME)
        vectors = load_vectors("proprietary", sb)
        self.model = load_navigator(sb)
        self.route = SwappedRoute(PinLookup(vectors.pin_ids, vectors.vectors), load_tokenizer())
        self.config = FinetuneConfig()
        self.reason = f"fine-tuned swapped VLM {art.id} over precomputed pin vectors {vectors.artifact_id}"

    def score(self, text: str, pin_ids: list[str], retrieval_scores: np.ndarray) -> np.ndarray:
        import torch

        from pinsandbox.vlm.navigator import NavigatorExample

        example = NavigatorExample("request", text, list(pin_ids), np.zeros(len(pin_ids), dtype=bool))
        with torch.inference_mode():
            return self.route.scores(self.model, [example], self.config)[0].float().numpy()


def load_ranker(sandbox):
    """The swapped VLM when the sandbox has a fine-tuned one, else the retrieval ranker (saying why)."""
    try:
        from pinsandbox.vlm.experiment import ADAPTER_NAME, ADAPTER_STAGE
    except ImportError:
        return RetrievalRanker("this checkout has no vlm stage")
    if not sandbox.artifacts.exists(ADAPTER_STAGE, ADAPTER_NAME):
        return RetrievalRanker(f"no fine-tuned swapped VLM ({ADAPTER_STAGE}/{ADAPTER_NAME}) in this sandbox: "
                               "run notebooks/03_finetune_lora.ipynb")
    return SwappedVLMRanker(sandbox)
