"""The evaluation stage's config: what `run_evaluation` ran with, saved beside its results (`config.json`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pinsandbox.errors import InvalidInput
from pinsandbox.evaluation.abtest import ABConfig

VARIANTS = ("off-the-shelf", "proprietary", "blueprint")


@dataclass
class EvaluationConfig:
    k: int = 10  # gold-set rankings are scored at k
    max_queries: int | None = 300  # gold queries per task, a seeded sample (None: all)
    baseline: str = "off-the-shelf"  # the A/B's control arm
    treatment: str = "blueprint"  # the A/B's treatment arm
    ab: ABConfig = field(default_factory=ABConfig)  # the simulated A/B (pinners, sessions, feed size, bootstrap, seed)

    def problems(self) -> list[str]:
        """Everything wrong with this config, each with what to use instead (empty when it is fine)."""
        out = []

        def whole(name, value, low, none_ok=False):
            if value is None and none_ok:
                return
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                out.append(f"{name} must be a whole number ≥ {low}{' or None' if none_ok else ''}, got {value!r}")

        whole("k", self.k, 1)
        whole("max_queries", self.max_queries, 1, none_ok=True)
        for arm in ("baseline", "treatment"):
            if getattr(self, arm) not in VARIANTS:
                out.append(f"{arm} {getattr(self, arm)!r} is not a variant: use one of {', '.join(VARIANTS)}")
        if self.baseline == self.treatment:
            out.append(f"baseline and treatment are both {self.baseline!r}: an A/B needs two different variants")
        ab = self.ab
        whole("ab.pinners", ab.pinners, 2, none_ok=True)
        whole("ab.sessions", ab.sessions, 1)
        whole("ab.k", ab.k, 1)
        whole("ab.bootstrap", ab.bootstrap, 1)
        whole("ab.seed", ab.seed, 0)
        if not isinstance(ab.confidence, (int, float)) or not 0 < ab.confidence < 1:
            out.append(f"ab.confidence must be between 0 and 1 (e.g. 0.95), got {ab.confidence!r}")
        return out

    def validate(self) -> EvaluationConfig:
        problems = self.problems()
        if problems:
            raise InvalidInput("evaluation config: " + "; ".join(problems))
        return self
