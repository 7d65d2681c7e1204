"""Configuration of the embeddings stage (plain dataclasses; no heavy imports)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class TrainConfig:
    """Two phases: the image tower learns with CLIP (image↔text), then — with its outputs computed once — the
    whole pin vector learns engagement alignment (CLIP kept on the projections). Phase 2 is cheap on a CPU."""

    clip_steps: int = 30  # phase 1: image tower + text tower, CLIP only
    clip_batch_size: int = 128
    steps: int = 200  # phase 2: engagement alignment (+ CLIP on the projections)
    batch_size: int = 256  # positive pairs per step; every other pair's pin is an in-batch negative
    n_negatives: int = 256  # extra pins sampled uniformly as negatives for every anchor
    id_dropout: float = 0.3  # share of pins whose id embedding is hidden in a step, so content learns too
    lr: float = 3e-3
    weight_decay: float = 1e-4
    clip_weight: float = 0.5  # image↔text contrastive alignment
    engagement_weight: float = 1.0  # co-engaged / same-board pins pulled together
    temperature: float = 0.07  # of the engagement objective
    seed: int = 0
    threads: int = 1  # torch threads; 1 is fastest on a shared 2-core machine (spinning threads collide)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EmbeddingsConfig:
    dim: int = 256
    image_size: int = 32
    train: TrainConfig = field(default_factory=TrainConfig)
    pair_window: int = 5  # co-engaged = within this many steps of each other in a pinner's history
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


