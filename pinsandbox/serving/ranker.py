"""Who ranks Navigator's candidates: the fine-tuned swapped VLM when the sandbox has one, else the retrieval score.

The swapped VLM reads the request text and each candidate's *precomputed* pin vector (no pixels at request time)
and scores every candidate (`vlm/navigator-lora`, made by notebook 03). Without it the retrieval ranker keeps
the order of candidate retrieval and says so (the response's `ranker` field), so nobody mistakes it for the VLM.

A ranker has `.name`, `.reason`, `.score(text, pin_ids, retrieval_scores) -> np.ndarray` (higher is better) and
`.can_rank(pin_ids) -> bool mask`: the pins it has what it needs for (a pin vector, for the swapped VLM).
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

    def can_rank(self, pin_ids) -> np.ndarray:
        return np.ones(len(pin_ids), dtype=bool)


class SwappedVLMRanker:
    """The fine-tuned swapped Qwen3-VL (`vlm/navigator-lora`): the request's tokens and each candidate's
    *precomputed* pin vector (through the trained projector) go in, one score per candidate comes out.
    It scores with the config saved in the artifact (`pinsandbox.vlm.load_navigator`), never a default one."""

    name = "swapped-vlm"

    def __init__(self, sb=None, navigator=None):
        from pinsandbox.vlm import load_navigator

        self.navigator = navigator if navigator is not None else load_navigator(sb)
        self.config = self.navigator.config  # the NavigatorConfig that trained it
        self.n_candidates = self.navigator.n_candidates  # candidates per request it was trained to rank
        self.reason = (f"fine-tuned swapped VLM {self.navigator.artifact_id} over precomputed pin vectors "
                       f"{self.navigator.vectors_id}")

    def score(self, text: str, pin_ids: list[str], retrieval_scores: np.ndarray) -> np.ndarray:
        return self.navigator.score(text, pin_ids)

    def can_rank(self, pin_ids) -> np.ndarray:
        """Pins with a precomputed vector: pins published after it (a `data advance` before the next retrain)
        have none yet, so they cannot be candidates until the vectors are refreshed."""
        return self.navigator.route.lookup.index.get_indexer(np.asarray(pin_ids).astype(str)) >= 0


def load_ranker(sandbox):
    """The swapped VLM when the sandbox has a fine-tuned one, else the retrieval ranker (saying why)."""
    try:
        from pinsandbox.vlm import NAVIGATOR_ARTIFACT, has_navigator, load_navigator
    except ImportError:
        return RetrievalRanker("this checkout has no vlm stage")
    if not has_navigator(sandbox):
        return RetrievalRanker(f"no fine-tuned swapped VLM ({NAVIGATOR_ARTIFACT}) in this sandbox: "
                               "run notebooks/03_finetune_lora.ipynb")
    from pinsandbox.errors import NotFound

    try:
        navigator = load_navigator(sandbox)
    except NotFound as e:  # e.g. an adapter published before configs travelled with artifacts
        return RetrievalRanker(f"{NAVIGATOR_ARTIFACT} cannot be used: {e}")
    return SwappedVLMRanker(navigator=navigator)
