"""The stage end to end: `run_embeddings` checks every input, trains the encoder, precomputes both vector sets,
indexes and evaluates them, and publishes them — each artifact with the `EmbeddingsConfig` that made it.

Artifacts written (stage `embeddings`):
- `encoder`: the trained PinEncoder (save_pretrained-style: model/config.json + model/model.safetensors) and
  its loss history;
- `proprietary`, `off-the-shelf`: vectors.npy (float32 N×d, L2-normalised), pin_ids.parquet, FAISS indexes
  (index_exact.faiss, index_hnsw.faiss or index_ivf.faiss) and index.json (ANN recall@k vs exact); the
  manifest names the encoder.
Each also holds `config.json`, the EmbeddingsConfig (`Artifact.config()` gives it back).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pinsandbox.embeddings.catalog_access import load_catalog, load_ground_truth
from pinsandbox.embeddings.config import EmbeddingsConfig
from pinsandbox.embeddings.features import MetadataVocab, PinFeatures, build_features
from pinsandbox.embeddings.graph import pin_graph
from pinsandbox.embeddings.index import PinIndex, check_ann, check_vectors
from pinsandbox.errors import CorruptArtifact, InvalidInput, NotFound
from pinsandbox.sandbox import resolve
from pinsandbox.sandbox.artifacts import atomic_file
from pinsandbox.stages import StageResult

KINDS = ("proprietary", "off-the-shelf")
OFF_THE_SHELF_ENCODER = "all-MiniLM-L6-v2(title+description) + colour-histogram/HOG(image) → PCA"


@dataclass
class PinVectors:
    pin_ids: np.ndarray = field(repr=False)
    vectors: np.ndarray = field(repr=False)
    artifact_id: str
    dim: int


@dataclass(kw_only=True)
class EmbeddingsResult(StageResult):
    """What `run_embeddings` returns: the published ids, the training history and every measurement."""

    encoder_id: str
    vector_ids: dict[str, str]  # kind -> artifact id
    history: pd.DataFrame = field(repr=False)  # loss per step: phase, step, loss, clip, engagement
    precompute: dict  # engine, pins, seconds, pins_per_s, shards_resumed
    ann_recall: dict[str, float]  # kind -> ANN recall@k against exact search
    evaluation: dict[str, dict]  # kind -> item-to-item hit_rate@k, mrr, pairs, pool
    taste: dict[str, dict] | None  # kind -> style probe and style purity, all / warm / cold pins (Pinworld only)
    table: pd.DataFrame = field(repr=False)  # hit_rate@k / mrr per kind and the relative lift
    vectors: dict[str, PinVectors] = field(repr=False)  # kind -> the published vectors
    catalog: object = field(repr=False)  # the Catalog trained on
    truth: object = field(default=None, repr=False)  # Pinworld's GroundTruth, or None


@dataclass
class Prepared:
    """Everything read from the catalog, checked: the inputs of training, precompute and evaluation."""

    catalog: object
    truth: object  # Pinworld's GroundTruth, or None for imported catalogs
    vocab: MetadataVocab
    pairs: pd.DataFrame  # training co-engagement pairs (a, b), events before the cutoff only
    features: PinFeatures
    heldout: pd.DataFrame = field(repr=False)  # evaluation pairs (query_pin_id, target_pin_id), after the cutoff


def check_inputs(catalog, truth, config: EmbeddingsConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training pairs, held-out evaluation pairs) — or one InvalidInput naming every problem, before any work."""
    from pinsandbox.embeddings.features import pin_texts
    from pinsandbox.embeddings.pairs import heldout_pairs, training_pairs

    if catalog.pins.empty:
        raise InvalidInput(f"catalog {catalog.artifact_id} has no pins: import or generate a catalog with pins")
    problems = []

    def check(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InvalidInput as e:
            problems.append(str(e))

    check(check_ann, config.ann, len(catalog.pins))  # before hours of training, not after
    check(pin_texts, catalog.pins)
    pairs = (check(training_pairs, catalog, window=config.pair_window, max_pairs=config.max_pairs, seed=config.seed)
             if config.train.engagement_weight > 0 else pd.DataFrame({"a": pd.Series([], dtype=str), "b": pd.Series([], dtype=str)}))
    heldout = heldout_pairs(catalog, truth)
    if heldout.empty:
        problems.append(f"catalog {catalog.artifact_id} has no held-out co-engagement pairs after its cutoff "
                        f"{catalog.cutoff}: item-to-item evaluation needs events on both sides of the cutoff")
    if len(problems) == 1:
        raise InvalidInput(problems[0])
    if problems:
        raise InvalidInput(f"embeddings refused, {len(problems)} problems found before any training:\n  - "
                           + "\n  - ".join(problems))
    return pairs, heldout


def prepare(sandbox=None, config: EmbeddingsConfig | None = None, progress: bool = True) -> Prepared:
    """Read and check the catalog; build training pairs (before the cutoff), held-out pairs and every pin's features."""
    import torch

    config = (config or EmbeddingsConfig()).validate()
    torch.set_num_threads(config.train.threads)  # MiniLM too: one thread is fastest on a shared 2-core box
    catalog = load_catalog(sandbox)
    truth = load_ground_truth(sandbox)
    pairs, heldout = check_inputs(catalog, truth, config)
    vocab = MetadataVocab.fit(catalog.pins)
    images_dir = catalog.images_dir if "image" in catalog.pins and catalog.pins["image"].notna().any() else None
    graph = pin_graph(catalog.pins["pin_id"].astype(str).to_numpy(), catalog.train_events(), top_t=config.walk_neighbours,
                      factors=config.graph_dim, n_walks=config.walks_per_pin, walk_length=config.walk_length, seed=config.seed)
    features = build_features(catalog.pins, images_dir, vocab, graph, config.image_size, progress=progress)
    return Prepared(catalog, truth, vocab, pairs, features, heldout)


def fit_encoder(prepared: Prepared, config: EmbeddingsConfig, progress=True):
    """Train on the catalog's history before its cutoff. Returns (encoder, loss history)."""
    from pinsandbox.embeddings.encoder import EncoderConfig
    from pinsandbox.embeddings.train import train_encoder

    f = prepared.features
    enc_cfg = EncoderConfig(dim=config.dim, image_size=config.image_size, use_images=bool(f.has_image.any()),
                            graph_dim=config.graph_dim, descriptor_dim=f.descriptors.shape[1], vocab=prepared.vocab)
    return train_encoder(f, prepared.pairs, config.train, enc_cfg, progress=progress)


def publish_encoder(sb, encoder, history: pd.DataFrame, catalog, config: EmbeddingsConfig, name: str = "encoder",
                    inputs: list[str] | None = None) -> str:
    """Publish `embeddings/<name>` (the loop's full retrain publishes its challenger as `encoder-challenger`)."""
    with sb.artifacts.write("embeddings", name, config=config, inputs=[catalog.artifact_id, *(inputs or [])]) as w:
        encoder.save_pretrained(w.path / "model")
        history.to_parquet(w.path / "loss_history.parquet", index=False)
        w.metadata["cutoff"] = str(catalog.cutoff)
    return sb.artifacts.current_id("embeddings", name)


def load_encoder(sandbox=None):
    """The trained PinEncoder of a sandbox (for the next stages, or to embed new pins).

    Its `embeddings_config` is the EmbeddingsConfig it was trained with, read from the artifact: build the
    features of new pins with it (`prepare(sb, encoder.embeddings_config)`), never with a default config."""
    from pinsandbox.embeddings.encoder import PinEncoder

    art = resolve(sandbox).artifacts.read("embeddings", "encoder")
    config = art.config()
    encoder = PinEncoder.from_pretrained(art.path / "model")
    if (encoder.config.dim, encoder.config.image_size) != (config.dim, config.image_size):
        raise CorruptArtifact(f"{art.id}: the checkpoint ({encoder.config.dim}-d, {encoder.config.image_size}px images) "
                              f"does not match its config ({config.dim}-d, {config.image_size}px): re-run the embeddings stage")
    encoder.embeddings_config = config
    return encoder


def precompute_proprietary(sb, features: PinFeatures, config: EmbeddingsConfig, progress: bool = True,
                           encoder: str = "encoder"):
    """Embed every pin with the published encoder `embeddings/<encoder>`. Resumable: the work folder survives an
    interruption."""
    from pinsandbox.embeddings.precompute import precompute

    encoder_art = sb.artifacts.read("embeddings", encoder)
    key = hashlib.sha256((encoder_art.id + "|" + "|".join(features.pin_ids[:1000])).encode()).hexdigest()[:16]
    work = sb.path(f"tmp/embeddings-precompute/{key}")
    work.mkdir(parents=True, exist_ok=True)
    features_path = work / "features.npz"
    if not features_path.exists():
        with atomic_file(features_path) as tmp:
            features.save(tmp)
    vectors, stats = precompute(encoder_art.path / "model", features_path, len(features), work / "shards",
                                engine=config.engine, shard_size=config.shard_size, progress=progress)
    return vectors, stats, work


def publish_vectors(sb, kind: str, pin_ids: np.ndarray, vectors: np.ndarray, encoder: str, inputs: list[str],
                    config: EmbeddingsConfig) -> tuple[str, float]:
    """Index and publish one vector set. Returns (artifact id, ANN recall@k against exact)."""
    vectors = check_vectors(vectors, f"{kind} vectors")
    norms = np.linalg.norm(vectors, axis=1)
    if not np.allclose(norms, 1, atol=1e-3):
        raise InvalidInput(f"{kind} vectors are not L2-normalised (norms {norms.min():.3f}…{norms.max():.3f})")
    params = {"m": config.hnsw_m} if config.ann == "hnsw" else {"nprobe": config.ivf_nprobe, "seed": config.seed}
    index = PinIndex.build(pin_ids, vectors, config.ann, **params)
    recall = index.ann_recall(vectors, k=config.k, seed=config.seed)
    with sb.artifacts.write("embeddings", kind, config=config, inputs=inputs) as w:
        np.save(w.path / "vectors.npy", vectors)
        pd.DataFrame({"pin_id": pd.array(pin_ids, dtype="string")}).to_parquet(w.path / "pin_ids.parquet", index=False)
        index.save(w.path)
        pd.Series({"ann": config.ann, **params, f"ann_recall@{config.k}": recall}).to_json(w.path / "index.json")
        w.metadata["encoder"] = encoder
        w.metadata["dim"] = int(vectors.shape[1])
    return sb.artifacts.current_id("embeddings", kind), recall


def evaluate_vectors(catalog, truth, vectors: dict[str, PinVectors], config: EmbeddingsConfig, pairs=None, warm=None):
    """(item-to-item results per kind, taste measures per kind — style probe and purity, all/warm/cold pins — or
    None when there is no ground truth).

    `pairs`: the held-out pairs (default: `heldout_pairs(catalog, truth)`); `warm`: which pins had engagement
    before the cutoff (default: from the catalog's training events)."""
    from pinsandbox.embeddings.evaluate import item_to_item, taste_measures
    from pinsandbox.embeddings.pairs import heldout_pairs

    pairs = heldout_pairs(catalog, truth) if pairs is None else pairs
    if pairs.empty:
        raise InvalidInput(f"catalog {catalog.artifact_id} has no held-out co-engagement pairs after its cutoff "
                           f"{catalog.cutoff}: item-to-item evaluation needs events on both sides of the cutoff")
    results = {k: item_to_item(v.pin_ids, v.vectors, pairs, k=config.k, pool_size=config.pool_size, seed=config.seed)
               for k, v in vectors.items()}
    styles = getattr(truth, "pin_styles", None) if truth is not None else None
    if styles is None:
        return results, None
    taste = {}
    for kind, v in vectors.items():
        is_warm = warm if warm is not None else warm_pins(catalog, v.pin_ids)
        taste[kind] = taste_measures(v.pin_ids, v.vectors, styles, is_warm, k=config.k, seed=config.seed)
    return results, taste


def text_requests_to_pins(encoder, features: PinFeatures, pin_vectors: np.ndarray, truth, k: int = 10) -> dict:
    """Pinworld: held-out Navigator requests as text, against every pin — through the encoder's text tower into the
    pin space (`embeddings.text_to_pin_recall@k.proprietary`), and MiniLM request against MiniLM pin text, the
    off-the-shelf way (`….off-the-shelf`). Empty for catalogs without Navigator requests."""
    from pinsandbox.embeddings.evaluate import text_request_recall
    from pinsandbox.embeddings.features import encode_texts

    gold = getattr(truth, "gold_navigator", None) if truth is not None else None
    if gold is None or not (gold["split"] == "test").any():
        return {}
    requests = gold[gold["split"] == "test"]
    minilm = encode_texts(requests["text"].tolist(), progress=False)
    key = f"embeddings.text_to_pin_recall@{k}"
    return {f"{key}.proprietary": text_request_recall(requests, features.pin_ids, encoder.embed_text(minilm), pin_vectors, k),
            f"{key}.off-the-shelf": text_request_recall(requests, features.pin_ids, minilm, features.text, k)}


def warm_pins(catalog, pin_ids: np.ndarray) -> np.ndarray:
    """Which pins had engagement before the catalog's cutoff (the others are cold: content only)."""
    from pinsandbox.schema import ENGAGEMENTS

    train = catalog.train_events()
    return np.isin(pin_ids, train.loc[train["action"].isin(ENGAGEMENTS), "pin_id"].astype(str).unique())


def embeddings_metrics(evaluation: dict, table: pd.DataFrame, ann_recall: dict, taste: dict | None, precompute: dict,
                       k: int = 10, train_s: float | None = None) -> dict:
    """The stage's `embeddings.*` metrics: hit-rate@k and MRR per kind and their lifts, ANN recall@k per kind,
    the taste measures per kind (style probe and purity, all/warm/cold; Pinworld only), training time and the
    precompute throughput."""
    hit = f"hit_rate@{k}"
    metrics = {}
    for kind, result in evaluation.items():
        metrics[f"embeddings.{hit}.{kind}"] = result[hit]
        metrics[f"embeddings.mrr.{kind}"] = result["mrr"]
    if "lift (relative)" in table.index:
        metrics[f"embeddings.{hit}_lift"] = float(table.loc["lift (relative)", hit])
        metrics["embeddings.mrr_lift"] = float(table.loc["lift (relative)", "mrr"])
    for kind, measures in (taste or {}).items():
        for name, value in measures.items():
            metrics[f"embeddings.{name}.{kind}"] = value
    for kind, recall in ann_recall.items():
        metrics[f"embeddings.ann_recall@{k}.{kind}"] = recall
    metrics["embeddings.precompute_pins_per_s"] = precompute["pins_per_s"]
    if train_s is not None:
        metrics["embeddings.train_s"] = train_s
    return metrics


def run_embeddings(sandbox=None, config: EmbeddingsConfig | None = None, progress: bool = True) -> EmbeddingsResult:
    """The embeddings stage: check everything, then train, precompute, index, evaluate and publish
    `embeddings/{encoder,proprietary,off-the-shelf}`, each with `config`. Notebook 01, `pinsandbox embeddings
    fit` and the tests call it.

    Every check (config, catalog, ANN size, training and held-out pairs, texts, images) runs before training:
    a bad input raises one InvalidInput and writes nothing."""
    from pinsandbox.embeddings.evaluate import comparison_table
    from pinsandbox.embeddings.offtheshelf import off_the_shelf_vectors

    config = (config or EmbeddingsConfig()).validate()
    sb = resolve(sandbox)
    prepared = prepare(sb, config, progress)
    catalog, truth, features = prepared.catalog, prepared.truth, prepared.features
    started = time.perf_counter()
    encoder, history = fit_encoder(prepared, config, progress)
    train_s = time.perf_counter() - started
    encoder_id = publish_encoder(sb, encoder, history, catalog, config)  # precompute workers load it from there
    prop, stats, work = precompute_proprietary(sb, features, config, progress)
    ots = off_the_shelf_vectors(features, dim=config.dim, seed=config.seed)
    computed = {"proprietary": prop, "off-the-shelf": ots}
    vecs = {k: PinVectors(features.pin_ids, v, "", v.shape[1]) for k, v in computed.items()}
    evaluation, taste = evaluate_vectors(catalog, truth, vecs, config, prepared.heldout, warm=features.warm)  # before publishing
    text_recall = text_requests_to_pins(encoder, features, prop, truth, k=config.k)
    table = comparison_table(evaluation, k=config.k)
    ids, recalls = {}, {}
    for kind, encoder, inputs in (("proprietary", encoder_id, [catalog.artifact_id, encoder_id]),
                                  ("off-the-shelf", OFF_THE_SHELF_ENCODER, [catalog.artifact_id])):
        ids[kind], recalls[kind] = publish_vectors(sb, kind, features.pin_ids, computed[kind], encoder, inputs, config)
        vecs[kind].artifact_id = ids[kind]
    shutil.rmtree(work, ignore_errors=True)  # published: the resumable work folder is no longer needed
    return EmbeddingsResult(
        stage="embeddings", config=config, artifacts={"encoder": encoder_id, **ids},
        metrics=embeddings_metrics(evaluation, table, recalls, taste, stats, k=config.k, train_s=train_s) | text_recall,
        encoder_id=encoder_id, vector_ids=ids, history=history, precompute=stats, ann_recall=recalls,
        evaluation=evaluation, taste=taste, table=table, vectors=vecs, catalog=catalog, truth=truth)


def load_vectors(kind: str = "proprietary", sandbox=None) -> PinVectors:
    """A published vector set of a sandbox: pin ids, float32 L2-normalised vectors, artifact id, dimension."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown vector kind {kind!r}: use one of {', '.join(KINDS)}")
    art = resolve(sandbox).artifacts.read("embeddings", kind)
    vectors = np.load(art.file("vectors.npy"))
    pin_ids = pd.read_parquet(art.file("pin_ids.parquet"))["pin_id"].astype(str).to_numpy()
    return PinVectors(pin_ids, vectors, art.id, int(vectors.shape[1]))


def find_vectors(sandbox=None, prefer: str = "proprietary") -> PinVectors | None:
    """The pin vectors a downstream stage should use: `prefer` if published, else the other kind, else None
    (a sandbox whose embeddings stage has not run: the taste graph then embeds pins from the graph)."""
    for kind in dict.fromkeys([prefer, *KINDS]):
        try:
            return load_vectors(kind, sandbox)
        except NotFound:
            continue
    return None


def load_index(kind: str = "proprietary", sandbox=None) -> PinIndex:
    art = resolve(sandbox).artifacts.read("embeddings", kind)
    pin_ids = pd.read_parquet(art.file("pin_ids.parquet"))["pin_id"].astype(str).to_numpy()
    return PinIndex.load(art.path, pin_ids)


def similar_pins(pin_id: str, k: int = 10, kind: str = "proprietary", sandbox=None, exact: bool = False) -> pd.DataFrame:
    """The k pins most similar to `pin_id` (itself excluded): columns rank, pin_id, score."""
    if k < 1:
        raise InvalidInput(f"k must be at least 1, got {k}")
    vecs = load_vectors(kind, sandbox)
    where = np.flatnonzero(vecs.pin_ids == str(pin_id))
    if not len(where):
        raise NotFound(f"pin {pin_id!r} has no {kind} vector in {vecs.artifact_id}: check the pin id "
                       "(or re-run the embeddings stage after adding pins)")
    index = load_index(kind, sandbox)
    scores, rows = index.search(vecs.vectors[where[0]], k + 1, exact=exact)
    out = [(vecs.pin_ids[r], float(s)) for r, s in zip(rows[0], scores[0], strict=False) if r >= 0 and r != where[0]][:k]
    return pd.DataFrame({"rank": np.arange(1, len(out) + 1), "pin_id": [p for p, _ in out], "score": [s for _, s in out]})
