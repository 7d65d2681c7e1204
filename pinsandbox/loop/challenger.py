"""The challenger's models, besides the taste graph: pin vectors, and in a full retrain the encoder and Navigator.

    vectors, new_pins = refresh_vectors(sb, catalog)                    # the cheap refresh: frozen encoder
    vectors, new_pins, encoder_id = retrain_encoder(sb, catalog, ...)   # full: embeddings/encoder-challenger
    navigator = retrain_navigator(sb, vectors, ...)                     # full: vlm/navigator-challenger, both scored

The less frequent full retrain (`RetrainConfig(full=True)`, `pinsandbox retrain --full`) warm-starts the pin
encoder, then the Navigator's projector and LoRA, from the champion and trains each a few more steps on the
newest data.

The cheap refresh keeps the encoder frozen, so the Navigator it serves stays valid: every pin it knew keeps its
vector. A new encoder moves every vector, so its Navigator must learn the new space: the champion's adapter
(projector, LoRA, score head) goes on training on the challenger's vectors. Both Navigators are scored on the same
held-out requests, the champion with its own vectors: the gate's Navigator-recall guard.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pinsandbox.errors import InvalidInput


def _embed_and_publish(sb, prepared, config, encoder: str, inputs: list[str], progress: bool):
    """Every pin of `prepared` embedded by `embeddings/<encoder>` through stage 01's engines, published as
    `embeddings/proprietary-challenger`; returns (PinVectors, pins the champion's vectors lacked)."""
    import shutil

    import pandas as pd

    from pinsandbox.embeddings import PinVectors, find_vectors
    from pinsandbox.embeddings.pipeline import precompute_proprietary, publish_vectors

    vectors, _, work = precompute_proprietary(sb, prepared.features, config, progress, encoder=encoder)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    pin_ids = np.asarray(prepared.features.pin_ids).astype(str)
    old = find_vectors(sb)
    new = int((~pd.Index(pin_ids).isin(old.pin_ids if old is not None else [])).sum())
    encoder_id = sb.artifacts.current_id("embeddings", encoder)
    vid, _ = publish_vectors(sb, "proprietary-challenger", pin_ids, vectors, encoder_id, [*inputs, encoder_id], config)
    shutil.rmtree(work, ignore_errors=True)  # published: the resumable work folder is no longer needed
    return PinVectors(pin_ids, vectors.astype(np.float32), vid, int(vectors.shape[1])), new


def embeddings_config(sb, engine: str | None):
    """The champion encoder's own EmbeddingsConfig (features must be built as it was trained), `engine` swapped in."""
    from pinsandbox.embeddings import load_encoder

    encoder = load_encoder(sb)
    config = encoder.embeddings_config
    return encoder, (dataclasses.replace(config, engine=engine) if engine is not None else config)


def refresh_vectors(sb, catalog, engine: str | None = None, progress: bool = True):
    """The cheap refresh: every catalog pin embedded by the *frozen* champion encoder; see `_embed_and_publish`.
    Returns (PinVectors, new pins), or (the champion's vectors, 0) without an encoder."""
    from pinsandbox.embeddings import find_vectors
    from pinsandbox.embeddings.pipeline import prepare

    if not sb.artifacts.exists("embeddings", "encoder"):
        return find_vectors(sb), 0
    config = sb.artifacts.read("embeddings", "encoder").config()  # the config only: the frozen weights load in the workers
    config = dataclasses.replace(config, engine=engine) if engine is not None else config
    return _embed_and_publish(sb, prepare(sb, config, progress=progress), config, "encoder", [catalog.artifact_id],
                              progress)


def retrain_encoder(sb, catalog, *, steps: int, seed: int, engine: str | None = None, progress: bool = True):
    """The champion encoder trained `steps` more engagement-alignment steps on every co-engagement before the new
    cutoff (its image tower kept: no CLIP phase), published as `embeddings/encoder-challenger`, then every pin
    embedded by it. Returns (PinVectors, new pins, encoder challenger id)."""
    from pinsandbox.embeddings.pipeline import prepare, publish_encoder
    from pinsandbox.embeddings.train import train_encoder

    if not sb.artifacts.exists("embeddings", "encoder"):
        raise InvalidInput(f"sandbox {sb.owner!r} has no trained encoder to warm-start: a full retrain needs the "
                           f"embeddings stage (`pinsandbox run 01_embeddings --sandbox {sb.owner}`); or retrain without --full")
    champion, config = embeddings_config(sb, engine)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, steps=int(steps), clip_steps=0, seed=int(seed)))
    prepared = prepare(sb, config, progress=progress)
    encoder, history = train_encoder(prepared.features, prepared.pairs, config.train, progress=progress, init=champion)
    champion_id = sb.artifacts.current_id("embeddings", "encoder")
    encoder_id = publish_encoder(sb, encoder, history, catalog, config, name="encoder-challenger", inputs=[champion_id])
    vectors, new = _embed_and_publish(sb, prepared, config, "encoder-challenger", [catalog.artifact_id], progress)
    return vectors, new, encoder_id


@dataclasses.dataclass
class NavigatorRetrain:
    artifact_id: str  # vlm/navigator-challenger
    recall: dict  # "champion" / "challenger" -> per held-out request recall@10 (same requests, same order)
    train_s: float


def retrain_navigator(sb, vectors, *, steps: int, seed: int, progress: bool = True) -> NavigatorRetrain:
    """The champion Navigator (`vlm/navigator-lora`: projector, LoRA, head) trained `steps` more steps on the
    challenger's `vectors`, published as `vlm/navigator-challenger`; both scored on the held-out requests."""
    from pinsandbox.embeddings import load_vectors
    from pinsandbox.vlm.adapter import (
        ADAPTER_NAME,
        ADAPTER_STAGE,
        ADAPTER_VECTORS,
        load_navigator_model,
        publish_adapter,
    )
    from pinsandbox.vlm.experiment import Arm
    from pinsandbox.vlm.finetune import SwappedRoute, evaluate, finetune
    from pinsandbox.vlm.navigator import PinLookup, load_task
    from pinsandbox.vlm.presets import PRESETS
    from pinsandbox.vlm.prompts import load_tokenizer

    art = sb.artifacts.read(ADAPTER_STAGE, ADAPTER_NAME)
    nav_config = art.config()
    cfg = dataclasses.replace(nav_config.finetune, steps=int(steps), seed=int(seed))
    champion_vectors = load_vectors(ADAPTER_VECTORS, sb)
    # the stage's requests, candidates among the pins both Navigators can score (the champion's vectors lack the
    # pins published since)
    task = load_task(sb, only_pins=champion_vectors.pin_ids, n_candidates=nav_config.n_candidates,
                     max_test=nav_config.max_test, seed=nav_config.seed)
    tokenizer = load_tokenizer(None if nav_config.preset in PRESETS else nav_config.preset)
    champion = evaluate(load_navigator_model(art), task.test,
                        SwappedRoute(PinLookup(champion_vectors.pin_ids, champion_vectors.vectors), tokenizer), cfg)
    route = SwappedRoute(PinLookup(vectors.pin_ids, vectors.vectors), tokenizer)
    result = finetune(load_navigator_model(art, trainable=True), task, route, cfg, progress=progress)
    arm = Arm("challenger", route, result, evaluate(result.model, task.test, route, cfg))
    artifact_id = publish_adapter(sb, arm, art.path / "base", config=nav_config, name="navigator-challenger",
                                  inputs=[art.id, vectors.artifact_id],
                                  metrics={"recall@10": {"champion": champion["summary"]["recall@10"],
                                                         "challenger": arm.recall}, "warm_start_from": art.id})
    recall = {name: [r["recall@10"] for r in e["rows"]] for name, e in (("champion", champion), ("challenger", arm.test))}
    return NavigatorRetrain(artifact_id, recall, result.wall_s)
