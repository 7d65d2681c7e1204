"""Who ranks Navigator's candidates: the fine-tuned swapped VLM when the sandbox has one, else the retrieval score.

The swapped VLM reads the request text and each candidate's *precomputed* pin vector (no pixels at request time)
and scores every candidate. Its contract, looked up in `pinsandbox.vlm`:

    load_ranker(sandbox) -> ranker with `.name: str` and `.score(text: str, pin_ids: list[str]) -> np.ndarray`

raising NotFound when the sandbox has no fine-tuned model. Until then the retrieval ranker keeps the order of
candidate retrieval and says so (the response's `ranker` field), so nobody mistakes it for the VLM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pinsandbox.errors import NotFound


@dataclass
class RetrievalRanker:
    """Keeps retrieval's scores: the honest fallback when there is no swapped VLM to rank with."""

    reason: str
    name: str = "retrieval"

    def score(self, text: str, pin_ids: list[str], retrieval_scores: np.ndarray) -> np.ndarray:
        return np.asarray(retrieval_scores, dtype=np.float32)


@dataclass
class VLMRanker:
    """Adapter over the vlm stage's ranker (the swapped Qwen3-VL + LoRA)."""

    inner: object
    reason: str = "fine-tuned swapped VLM over precomputed pin vectors"

    @property
    def name(self) -> str:
        return getattr(self.inner, "name", "swapped-vlm")

    def score(self, text: str, pin_ids: list[str], retrieval_scores: np.ndarray) -> np.ndarray:
        return np.asarray(self.inner.score(text, list(pin_ids)), dtype=np.float32)


def load_ranker(sandbox):
    try:
        from pinsandbox.vlm import load_ranker as load_vlm_ranker
    except ImportError:
        return RetrievalRanker("this checkout has no vlm ranking API yet (pinsandbox.vlm.load_ranker)")
    try:
        return VLMRanker(load_vlm_ranker(sandbox))
    except NotFound as e:
        return RetrievalRanker(f"no fine-tuned swapped VLM in this sandbox ({e})")
