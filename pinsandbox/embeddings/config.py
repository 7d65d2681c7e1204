"""Configuration of the embeddings stage (plain dataclasses; no heavy imports).

`EmbeddingsConfig` is saved with each of the stage's artifacts (`config.json`): `Artifact.config()` gives it
back, so `run_embeddings(sb, artifact.config())` trains the same encoder again.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, field

from pinsandbox.errors import InvalidInput

ENGINES = ("local", "ray")
ANN_KINDS = ("hnsw", "ivf")


@dataclass
class TrainConfig:
    """Two phases: the image tower learns with CLIP (image↔text), then — with its outputs computed once — the
    whole pin vector learns engagement alignment (CLIP kept on the projections, and the text tower aligned with
    the pin vectors). Phase 2 is cheap on a CPU."""

    clip_steps: int = 30  # phase 1: image tower + text tower, CLIP only
    clip_batch_size: int = 128
    steps: int = 200  # phase 2: engagement alignment (+ CLIP on the projections)
    batch_size: int = 256  # positive pairs per step; every other pair's pin is an in-batch negative
    n_negatives: int = 256  # extra pins sampled uniformly as negatives for every anchor
    hard_negatives: bool = True  # also one pin of the anchor's own category per anchor: category alone cannot tell them apart
    graph_dropout: float = 0.3  # share of pins whose neighbourhood is hidden in a step, so content counts too
    cold_l2: float = 1.0  # ridge penalty of the content → pin-vector map that embeds cold pins
    lr: float = 3e-3
    weight_decay: float = 1e-4
    clip_weight: float = 0.5  # image↔text contrastive alignment
    text_weight: float = 0.5  # a pin's text (through the text tower) ↔ its pin vector: text requests land among pins
    engagement_weight: float = 1.0  # co-engaged / same-board pins pulled together
    temperature: float = 0.07  # of the engagement objective
    seed: int = 0
    threads: int = 1  # torch threads; 1 is fastest on a shared 2-core machine (spinning threads collide)

    def to_dict(self) -> dict:
        return asdict(self)

    def problems(self) -> list[str]:
        out = _at_least(self, ("clip_steps", 0), ("clip_batch_size", 1), ("steps", 0), ("batch_size", 1),
                        ("n_negatives", 0), ("threads", 1), prefix="train.")
        out += [f"train.{name} must be positive, got {getattr(self, name)}" for name in ("lr", "temperature")
                if not getattr(self, name) > 0]
        out += [f"train.{name} must not be negative, got {getattr(self, name)}"
                for name in ("weight_decay", "clip_weight", "text_weight", "engagement_weight", "cold_l2") if getattr(self, name) < 0]
        if not 0 <= self.graph_dropout < 1:
            out.append(f"train.graph_dropout must be in [0, 1), got {self.graph_dropout}")
        return out


@dataclass
class EmbeddingsConfig:
    dim: int = 256
    image_size: int = 32
    train: TrainConfig = field(default_factory=TrainConfig)
    pair_window: int = 5  # co-engaged = within this many steps of each other in a pinner's history
    walk_neighbours: int = 20  # PinSage: the top-T pins by random-walk visits are a pin's neighbourhood
    walks_per_pin: int = 64
    walk_length: int = 3  # pin → pinner/board → pin hops per walk
    graph_dim: int = 64  # co-visit factors per pin
    max_pairs: int = 200_000
    engine: str = "local"  # precompute engine: local | ray
    shard_size: int = 512
    ann: str = "hnsw"  # hnsw (any size) | ivf (large catalogs: ≥ 39·4·√N pins; faster at 1 M, see bench_embeddings)
    hnsw_m: int = 32
    ivf_nprobe: int = 8
    k: int = 10
    pool_size: int | None = 1000  # candidate pool of the item-to-item evaluation
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> EmbeddingsConfig:
        """Refuse, all at once, every setting that could not run — before the catalog is even read."""
        problems = []
        if not isinstance(self.train, TrainConfig):
            problems.append(f"train must be a TrainConfig, got {type(self.train).__name__}")
        else:
            problems += self.train.problems()
        problems += _at_least(self, ("dim", 2), ("image_size", 8), ("pair_window", 1), ("max_pairs", 1),
                              ("walk_neighbours", 1), ("walks_per_pin", 1), ("walk_length", 1), ("graph_dim", 1),
                              ("shard_size", 1), ("hnsw_m", 2), ("ivf_nprobe", 1), ("k", 1))
        if self.pool_size is not None and self.pool_size < 1:
            problems.append(f"pool_size must be at least 1 (or None for every pin), got {self.pool_size}")
        if self.engine not in ENGINES:
            problems.append(f"unknown engine {self.engine!r}: use one of {', '.join(ENGINES)}")
        elif self.engine == "ray" and importlib.util.find_spec("ray") is None:
            problems.append("engine='ray' needs the ray package (pip install 'ray[data]'), or use engine='local'")
        if self.ann not in ANN_KINDS:
            problems.append(f"unknown ANN index {self.ann!r}: use one of {', '.join(ANN_KINDS)}")
        if problems:
            raise InvalidInput("embeddings config refused: " + "; ".join(problems))
        return self


def _at_least(config, *limits, prefix: str = "") -> list[str]:
    return [f"{prefix}{name} must be at least {low}, got {getattr(config, name)}"
            for name, low in limits if not getattr(config, name) >= low]
