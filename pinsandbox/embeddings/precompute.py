"""Offline precompute: embed every pin in shards, resumable, on the local process or on Ray Data.

Work is cut into shards of `shard_size` pins. Each finished shard is written atomically to a work folder,
so an interrupted run picks up where it stopped: shards already there are not computed again. Both engines
call the same `embed_shard`, so they write the same vectors for the same pins.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from pinsandbox.errors import InvalidInput
from pinsandbox.sandbox.artifacts import atomic_file

ENGINES = ("local", "ray")


def shard_path(work_dir: Path, shard: int) -> Path:
    return Path(work_dir) / f"shard-{shard:05d}.npy"


def embed_shard(encoder_dir: str, features_path: str, work_dir: str, shard: int, shard_size: int,
                _cache: dict = {}) -> int:  # noqa: B006 — per-process cache of the loaded encoder and features
    """Embed pins [shard*shard_size, (shard+1)*shard_size) and write them to the shard file. Returns pins done."""
    from pinsandbox.embeddings.encoder import PinEncoder
    from pinsandbox.embeddings.features import PinFeatures

    # a later refresh (after `data advance`) writes new features under the same path: the file's identity is part of
    # the key, so a long-lived process never embeds stale features (the encoder folder is an immutable version)
    st = os.stat(features_path)
    key = (encoder_dir, features_path, st.st_ino, st.st_size, st.st_mtime_ns)
    if _cache.get("key") != key:
        _cache.update(key=key, encoder=PinEncoder.from_pretrained(encoder_dir), features=PinFeatures.load(features_path))
    enc, f = _cache["encoder"], _cache["features"]
    sl = slice(shard * shard_size, (shard + 1) * shard_size)
    vectors = enc.embed(f, sl)
    final = shard_path(work_dir, shard)
    with atomic_file(final) as tmp:  # a shard file is either complete or absent
        np.save(tmp, vectors)
    return len(vectors)


class _RayShardEmbedder:
    """Ray Data actor: one encoder per worker, fed batches of shard numbers."""

    def __init__(self, encoder_dir, features_path, work_dir, shard_size):
        import torch

        torch.set_num_threads(1)
        self.args = (encoder_dir, features_path, work_dir)
        self.shard_size = shard_size

    def __call__(self, batch):
        done = [embed_shard(*self.args, int(s), self.shard_size) for s in batch["shard"]]
        return {"shard": batch["shard"], "pins": np.asarray(done)}


def precompute(encoder_dir: Path, features_path: Path, n_pins: int, work_dir: Path, engine: str = "local",
               shard_size: int = 512, progress: bool = True) -> tuple[np.ndarray, dict]:
    """All pins' vectors (float32 n_pins×dim) and stats {engine, pins, seconds, pins_per_s, shards_resumed}."""
    from tqdm.auto import tqdm

    if engine not in ENGINES:
        raise InvalidInput(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if shard_size < 1:
        raise InvalidInput(f"shard_size must be at least 1, got {shard_size}")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    n_shards = -(-n_pins // shard_size)
    todo = [s for s in range(n_shards) if not shard_path(work_dir, s).exists()]
    resumed = n_shards - len(todo)
    args = (str(encoder_dir), str(features_path), str(work_dir))
    todo_pins = sum(min(shard_size, n_pins - s * shard_size) for s in todo)
    bar = tqdm(total=todo_pins, desc=f"precompute ({engine})", unit="pin", unit_scale=True, disable=not progress)
    start = time.perf_counter()
    if engine == "local":
        for s in todo:
            bar.update(embed_shard(*args, s, shard_size))
    elif todo:
        _run_ray(todo, args, shard_size, bar)
    seconds = time.perf_counter() - start
    bar.close()
    vectors = np.concatenate([np.load(shard_path(work_dir, s)) for s in range(n_shards)]) if n_shards else np.zeros((0, 0), np.float32)
    if len(vectors) != n_pins:
        raise InvalidInput(f"precompute work folder {work_dir} holds {len(vectors)} vectors for {n_pins} pins; delete it and run again")
    stats = {"engine": engine, "pins": todo_pins, "seconds": round(seconds, 3),
             "pins_per_s": round(todo_pins / seconds, 1) if seconds > 0 and todo_pins else None, "shards_resumed": resumed}
    return vectors, stats


def _run_ray(todo: list[int], args: tuple, shard_size: int, bar) -> None:
    import ray

    from pinsandbox import settings

    if not ray.is_initialized():
        # A new local Ray on this machine (never someone else's); on a cluster, `ray.init(address=...)` first.
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(settings.CODE_ROOT), "TQDM_DISABLE": "1"}})
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ds = ray.data.from_items([{"shard": s} for s in todo])
    ds = ds.map_batches(_RayShardEmbedder, fn_constructor_args=(*args, shard_size), batch_size=1,
                        concurrency=min(2, len(todo)), num_cpus=1)
    for row in ds.iter_rows():
        bar.update(int(row["pins"]))
