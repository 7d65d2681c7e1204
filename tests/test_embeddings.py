"""Embeddings stage: encoder training, precompute (local/Ray, resumable), FAISS, evaluation, bad input."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

import pinsandbox.cli
from pinsandbox.embeddings import (
    KINDS,
    EmbeddingsConfig,
    EmbeddingsResult,
    TrainConfig,
    load_encoder,
    load_vectors,
    run_embeddings,
    similar_pins,
)
from pinsandbox.embeddings.encoder import EncoderConfig, PinEncoder
from pinsandbox.embeddings.evaluate import item_to_item
from pinsandbox.embeddings.features import MetadataVocab, PinFeatures, load_images, pin_texts
from pinsandbox.embeddings.index import PinIndex, check_vectors
from pinsandbox.embeddings.pairs import coengagement_pairs
from pinsandbox.errors import InvalidInput
from pinsandbox.stages import StageResult

TINY = EmbeddingsConfig(dim=32, train=TrainConfig(clip_steps=3, steps=8, batch_size=32, n_negatives=32), shard_size=50)


def random_features(n=60, seed=0, size=32, graph_dim=8) -> PinFeatures:
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(n, 384)).astype(np.float32)
    return PinFeatures(
        pin_ids=np.array([f"p{i}" for i in range(n)]), text=text / np.linalg.norm(text, axis=1, keepdims=True),
        pixels=rng.integers(0, 255, size=(n, size, size, 3), dtype=np.uint8),
        descriptors=rng.random((n, 5)).astype(np.float32), has_image=np.ones(n, bool),
        meta=np.zeros((n, 3), np.int64), neighbours=rng.normal(size=(n, 384)).astype(np.float32),
        graph=rng.normal(size=(n, graph_dim)).astype(np.float32), warm=np.arange(n) % 4 != 0)


def random_pairs(n=60, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.integers(n, size=200)
    return pd.DataFrame({"a": [f"p{i}" for i in a], "b": [f"p{(i + 1) % n}" for i in a]})


def tiny_encoder_config(dim=32):
    return EncoderConfig(dim=dim, hidden=32, graph_dim=8, descriptor_dim=5, vocab=MetadataVocab())


@pytest.fixture
def pinworld(sandbox):
    from pinsandbox.catalog import generate_pinworld

    return generate_pinworld(sandbox, n_pins=120, n_pinners=40, image_size=64, progress=False)


def test_fit_from_the_cli_writes_both_vector_sets_indexes_and_metrics(pinworld, sandbox, capsys, monkeypatch):
    argv = ["embeddings", "fit", "--sandbox", "alice", "--steps", "8", "--clip-steps", "3", "--dim", "32"]
    assert pinsandbox.cli.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    pins = pinworld.pins["pin_id"].tolist()
    for kind in ("proprietary", "off-the-shelf"):
        vecs = load_vectors(kind, sandbox)
        assert vecs.pin_ids.tolist() == pins
        assert vecs.vectors.dtype == np.float32 and vecs.vectors.shape == (len(pins), 32) and vecs.dim == 32
        assert np.allclose(np.linalg.norm(vecs.vectors, axis=1), 1, atol=1e-4)
        art = sandbox.artifacts.read("embeddings", kind)
        assert {"vectors.npy", "pin_ids.parquet", "index_exact.faiss", "index_hnsw.faiss"} <= set(art.manifest["files"])
        assert pinworld.artifact_id in art.manifest["inputs"]
        assert 0.9 <= result["ann_recall@10"][kind] <= 1.0
        assert set(result["item_to_item"][kind]) >= {"hit_rate@10", "mrr"} and result["item_to_item"][kind]["pairs"] > 0
    assert sandbox.artifacts.read("embeddings", "proprietary").manifest["encoder"] == result["encoder"]
    assert set(result["taste"]) == {"proprietary", "off-the-shelf"}
    history = pd.read_parquet(sandbox.artifacts.read("embeddings", "encoder").file("loss_history.parquet"))
    assert history.groupby("phase").size().to_dict() == {"clip": 3, "engagement": 8}

    assert result["metrics"]["embeddings.hit_rate@10.proprietary"] == result["item_to_item"]["proprietary"]["hit_rate@10"]

    # The published checkpoint loads, with the config it was trained with, and reproduces the precomputed vectors.
    from pinsandbox.embeddings.pipeline import prepare

    encoder = load_encoder(sandbox)
    assert encoder.embeddings_config == sandbox.artifacts.read("embeddings", "encoder").config()
    assert encoder.embeddings_config.dim == 32 and encoder.embeddings_config.train.steps == 8
    features = prepare(sandbox, encoder.embeddings_config, progress=False).features
    again = encoder.embed(features)
    assert np.allclose(again, load_vectors("proprietary", sandbox).vectors, atol=1e-5)

    # Similar pins from Python and from the CLI: k results, never the pin itself, best first.
    table = similar_pins(pins[0], k=5, sandbox=sandbox)
    assert len(table) == 5 and pins[0] not in set(table["pin_id"]) and table["score"].is_monotonic_decreasing
    assert pinsandbox.cli.main(["similar", "--sandbox", "alice", "--pin", pins[0], "--k", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["pin_id"] for r in rows] == table["pin_id"].tolist()[:3]
    assert pinsandbox.cli.main(["similar", "--sandbox", "alice", "--pin", "no-such-pin"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-pin" in err


def test_training_is_seeded_and_reproducible():
    from pinsandbox.embeddings.train import train_encoder

    f, pairs = random_features(), random_pairs()
    cfg = TrainConfig(clip_steps=2, steps=4, batch_size=16, n_negatives=16, seed=3)
    (a, ha), (b, hb) = (train_encoder(f, pairs, cfg, tiny_encoder_config(), progress=False) for _ in range(2))
    assert ha["loss"].tolist() == hb["loss"].tolist()
    assert np.array_equal(a.embed(f), b.embed(f))
    c, _ = train_encoder(f, pairs, TrainConfig(clip_steps=2, steps=4, batch_size=16, n_negatives=16, seed=4),
                         tiny_encoder_config(), progress=False)
    assert not np.array_equal(a.embed(f), c.embed(f))


def test_checkpoint_round_trip(tmp_path):
    from pinsandbox.embeddings.train import train_encoder

    f = random_features()
    enc, _ = train_encoder(f, random_pairs(), TrainConfig(clip_steps=1, steps=2, batch_size=8, n_negatives=8),
                           tiny_encoder_config(), progress=False)
    enc.save_pretrained(tmp_path / "ck")
    back = PinEncoder.from_pretrained(tmp_path / "ck")
    assert np.array_equal(back.embed(f), enc.embed(f))
    assert torch.equal(back.cold_map.weight, enc.cold_map.weight)  # the cold pins' map travels with the weights


def test_cold_pins_are_embedded_from_content_by_the_fitted_map():
    """A pin without a neighbourhood gets its vector from the ridge map fitted on warm pins: pins whose content
    predicts a warm pin's vector land next to it, and its graph inputs are ignored (it has none)."""
    from pinsandbox.embeddings.train import train_encoder

    f = random_features(n=80)
    enc, _ = train_encoder(f, random_pairs(n=80), TrainConfig(clip_steps=1, steps=3, batch_size=8, n_negatives=8, cold_l2=1e-3),
                           tiny_encoder_config(), progress=False)
    warm_vectors = enc.embed(f)
    cold = PinFeatures(**{k: getattr(f, k).copy() for k in PinFeatures.__dataclass_fields__})
    cold.warm[:] = False
    cold.graph[:] = 99.0  # never read for a cold pin
    cold_vectors = enc.embed(cold)
    assert np.allclose(np.linalg.norm(cold_vectors, axis=1), 1, atol=1e-5)
    on_warm = f.warm
    # 60 warm pins, 390 content dimensions: the least-squares map reproduces the warm vectors nearly exactly
    assert (cold_vectors[on_warm] * warm_vectors[on_warm]).sum(1).mean() > 0.95
    assert np.array_equal(warm_vectors[~on_warm], cold_vectors[~on_warm])


def test_random_walk_neighbourhoods_follow_the_graph_and_are_seeded():
    """PinSage's neighbourhoods: walks from a pin stay in its connected part of the pin–pinner–board graph, the
    most visited pins come first with weights that sum to 1, a pin never neighbours itself, and pins without
    engagement have no neighbourhood (they are cold)."""
    from pinsandbox.embeddings.graph import pin_graph

    pins = np.array([f"p{i}" for i in range(7)])
    # two communities, {p0,p1,p2} through u1/u2 and {p3,p4,p5} through u3 and a board; p6 only seen (impression)
    events = pd.DataFrame({
        "pinner_id": ["u1", "u1", "u2", "u2", "u3", "u3", "u3", "u3", "u9"],
        "pin_id": ["p0", "p1", "p1", "p2", "p3", "p4", "p5", "p3", "p6"],
        "action": ["save", "click", "save", "closeup", "save", "save", "click", "save", "impression"],
        "board_id": [None, None, None, None, "b1", "b1", None, "b1", None],
    })
    g = pin_graph(pins, events, top_t=3, factors=2, n_walks=50, walk_length=2, seed=0)
    assert g.warm.tolist() == [True] * 6 + [False]
    community = {0: {1, 2}, 1: {0, 2}, 2: {0, 1}, 3: {4, 5}, 4: {3, 5}, 5: {3, 4}}
    for pin, others in community.items():
        got = set(g.neighbour_rows[pin][g.neighbour_rows[pin] >= 0].tolist())
        assert pin not in got and got <= others and got
        assert g.neighbour_weights[pin].sum() == pytest.approx(1.0)
        assert (np.diff(g.neighbour_weights[pin]) <= 0).all()  # most visited first
    assert (g.neighbour_rows[6] == -1).all() and g.neighbour_weights[6].sum() == 0 and not g.factors[6].any()
    again = pin_graph(pins, events, top_t=3, factors=2, n_walks=50, walk_length=2, seed=0)
    assert np.array_equal(g.neighbour_rows, again.neighbour_rows) and np.array_equal(g.factors, again.factors)
    # importance pooling: a visit-weighted mean of the neighbours' values
    values = np.eye(7, dtype=np.float32)
    pooled = g.pool(values)
    assert np.allclose(pooled.sum(1)[:6], 1) and pooled[6].sum() == 0 and pooled[0, 0] == 0


def test_style_measures_tell_style_from_noise():
    from pinsandbox.embeddings.evaluate import style_purity, taste_measures

    rng = np.random.default_rng(0)
    n = 240
    style = np.repeat(["a", "b", "c"], n // 3)
    centres = rng.normal(size=(3, 16))
    good = centres[np.repeat(np.arange(3), n // 3)] + 0.1 * rng.normal(size=(n, 16))
    noise = rng.normal(size=(n, 16))
    ids = np.array([f"p{i}" for i in range(n)])
    styles = pd.DataFrame({"pin_id": ids, "style": style})
    assert style_purity(ids, good, styles, k=5) > 0.95 and style_purity(ids, noise, styles, k=5) < 0.5
    warm = np.arange(n) % 2 == 0
    m = taste_measures(ids, good, styles, warm, k=5)
    assert m["style_probe_accuracy_warm"] > 0.95 and m["style_probe_accuracy_cold"] > 0.95
    assert taste_measures(ids, noise, styles, warm, k=5)["style_probe_accuracy"] < 0.6


def _saved_inputs(tmp_path):
    f = random_features(n=130)
    enc = PinEncoder(tiny_encoder_config())
    enc.save_pretrained(tmp_path / "encoder")
    f.save(tmp_path / "features.npz")
    return f, enc


def test_precompute_resumes_after_interruption(tmp_path, monkeypatch):
    from pinsandbox.embeddings import precompute as pc

    f, enc = _saved_inputs(tmp_path)
    args = (tmp_path / "encoder", tmp_path / "features.npz", len(f))
    real, calls = pc.embed_shard, []

    def interrupted(*a, **kw):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(a[3])
        return real(*a, **kw)

    monkeypatch.setattr(pc, "embed_shard", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pc.precompute(*args, tmp_path / "work", shard_size=30, progress=False)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["shard-00000.npy", "shard-00001.npy"]
    monkeypatch.setattr(pc, "embed_shard", real)
    vectors, stats = pc.precompute(*args, tmp_path / "work", shard_size=30, progress=False)
    assert stats["shards_resumed"] == 2 and stats["pins"] == 130 - 60
    assert np.allclose(vectors, enc.embed(f), atol=1e-6)


def test_precompute_in_one_process_embeds_new_features_written_to_the_same_path(tmp_path):
    """A refresh after `data advance` writes more pins' features where the last one's were: a long-lived process
    (a benchmark, `retrain --in-process`) must embed the new ones, not the features it loaded before."""
    import shutil

    from pinsandbox.embeddings.precompute import precompute

    f, enc = _saved_inputs(tmp_path)
    first, _ = precompute(tmp_path / "encoder", tmp_path / "features.npz", len(f), tmp_path / "w", progress=False)
    shutil.rmtree(tmp_path / "w")
    more = random_features(n=150, seed=1)
    more.save(tmp_path / "features.npz")
    again, _ = precompute(tmp_path / "encoder", tmp_path / "features.npz", len(more), tmp_path / "w", progress=False)
    assert len(first) == 130 and np.allclose(again, enc.embed(more), atol=1e-6)


@pytest.mark.slow
def test_ray_and_local_engines_write_the_same_vectors(tmp_path):
    from pinsandbox.embeddings.precompute import precompute

    f, _ = _saved_inputs(tmp_path)
    args = (tmp_path / "encoder", tmp_path / "features.npz", len(f))
    import ray

    local, ls = precompute(*args, tmp_path / "local", engine="local", shard_size=40, progress=False)
    try:
        ray_vectors, rs = precompute(*args, tmp_path / "ray", engine="ray", shard_size=40, progress=False)
    finally:
        ray.shutdown()
    assert ls["engine"] == "local" and rs["engine"] == "ray" and rs["pins"] == len(f)
    assert np.allclose(local, ray_vectors, atol=1e-5)


def test_item_to_item_ranks_targets_among_a_fixed_pool():
    ids = np.array(["q", "t", "x", "y"])
    v = np.array([[1, 0], [0.9, 0.436], [0.95, 0.312], [0, 1]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    pairs = pd.DataFrame({"query_pin_id": ["q", "q"], "target_pin_id": ["t", "y"]})
    r = item_to_item(ids, v, pairs, k=1, pool_size=None)
    # t ranks behind x (rank 1); y behind x and t (rank 2): hit@1 = 0, MRR = (1/2 + 1/3) / 2
    assert r["hit_rate@1"] == 0 and r["mrr"] == pytest.approx((1 / 2 + 1 / 3) / 2) and r["pool"] == 4
    assert item_to_item(ids, v, pairs, k=2, pool_size=None)["hit_rate@2"] == 0.5


def test_coengagement_pairs_follow_each_pinner_within_the_window():
    ts = pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04", "2025-01-01"], utc=True)
    events = pd.DataFrame({"pinner_id": ["u", "u", "u", "u", "v"], "pin_id": ["a", "b", "c", "d", "e"],
                           "action": ["save", "click", "impression", "closeup", "save"], "ts": ts, "board_id": None})
    pairs = set(map(tuple, coengagement_pairs(events, window=1)[["a", "b"]].to_numpy()))
    assert pairs == {("a", "b"), ("b", "a"), ("b", "d"), ("d", "b")}  # impression c is not engagement; v alone


def test_hnsw_index_recall_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    v = rng.normal(size=(2000, 32)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    index = PinIndex.build(np.arange(2000).astype(str), v)
    assert index.ann_recall(v, k=10, n_queries=200) >= 0.9
    index.save(tmp_path)
    back = PinIndex.load(tmp_path, index.pin_ids)
    assert np.array_equal(back.search(v[:5], 3, exact=True)[1], index.search(v[:5], 3, exact=True)[1])
    assert (index.search(v[:5], 1, exact=True)[1].ravel() == np.arange(5)).all()


def test_ivf_index_recall_and_round_trip(tmp_path):
    """IVF-Flat, the large-catalog choice: seeded training, recall against exact, saved and loaded as IVF."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(40, 32))
    v = (centers[rng.integers(40, size=25_000)] + 0.3 * rng.normal(size=(25_000, 32))).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    index = PinIndex.build(np.arange(len(v)).astype(str), v, ann="ivf", nprobe=8)
    assert index.ann_kind == "ivf" and index.ann.nlist == int(4 * np.sqrt(len(v)))
    assert index.ann_recall(v, k=10, n_queries=200) >= 0.9
    index.save(tmp_path)
    assert (tmp_path / "index_ivf.faiss").exists() and not (tmp_path / "index_hnsw.faiss").exists()
    back = PinIndex.load(tmp_path, index.pin_ids)
    assert back.ann_kind == "ivf"
    assert np.array_equal(back.search(v[:50], 10)[1], index.search(v[:50], 10)[1])


# -- bad input: one clear error each ------------------------------------------------------------------

def test_nan_vectors_are_refused():
    v = np.ones((4, 8), np.float32)
    v[2, 3] = np.nan
    with pytest.raises(InvalidInput, match=r"1 row\(s\) contain NaN.*rows \[2\]"):
        check_vectors(v)
    with pytest.raises(InvalidInput, match="NaN"):
        PinIndex.build(np.array(list("abcd")), v)


def test_pins_with_empty_text_are_refused():
    pins = pd.DataFrame({"pin_id": ["a", "b", "c"], "title": ["Lamp", " ", None], "description": ["", "", "  "]})
    with pytest.raises(InvalidInput, match=r"2 pin\(s\) have an empty title and description \(b, c\)"):
        pin_texts(pins)


def test_corrupt_and_missing_images_are_refused(tmp_path):
    from PIL import Image

    Image.new("RGB", (40, 40), "red").save(tmp_path / "ok.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    pins = pd.DataFrame({"pin_id": ["a", "b", "c"], "image": ["ok.png", None, "bad.png"]})
    with pytest.raises(InvalidInput, match="pin c: image 'bad.png' is corrupt"):
        load_images(pins, tmp_path)
    pixels, has = load_images(pins.iloc[:2], tmp_path, size=8)
    assert has.tolist() == [True, False] and (pixels[0][..., 0] == 255).all() and (pixels[1] == 0).all()
    with pytest.raises(InvalidInput, match="pin z: image file 'gone.png' is missing"):
        load_images(pd.DataFrame({"pin_id": ["z"], "image": ["gone.png"]}), tmp_path)


def test_catalog_without_engagement_is_refused_and_nothing_is_written(sandbox):
    from pinsandbox.catalog import import_catalog

    pins = pd.DataFrame({"pin_id": ["a", "b", "c"], "title": ["Lamp", "Chair", "Rug"], "description": ["", "", ""]})
    ts = pd.date_range("2025-01-01", periods=6, freq="D", tz="UTC")
    events = pd.DataFrame({"pinner_id": ["u"] * 6, "pin_id": list("abcabc"), "action": ["impression"] * 6, "ts": ts})
    import_catalog(sandbox, pins, events, progress=False)
    with pytest.raises(InvalidInput, match="has no engagement .* before its cutoff"):
        run_embeddings(sandbox, TINY, progress=False)
    assert not sandbox.artifacts.exists("embeddings", "encoder")
    assert not sandbox.artifacts.exists("embeddings", "proprietary")


def test_unknown_or_oversized_ann_index_is_refused_before_training(pinworld, sandbox, monkeypatch):
    """What `-p ann ivf` on a small catalog does in notebook 01 (which only calls run_embeddings): fail first."""
    from pinsandbox.embeddings import features, pipeline

    def never(*args, **kwargs):
        raise AssertionError("features were built or training started before the checks")

    monkeypatch.setattr(pipeline, "fit_encoder", never)
    monkeypatch.setattr(pipeline, "build_features", never)
    monkeypatch.setattr(features, "encode_texts", never)
    with pytest.raises(InvalidInput, match="unknown ANN index 'annoy'"):
        run_embeddings(sandbox, EmbeddingsConfig(ann="annoy", dim=32, train=TINY.train), progress=False)
    with pytest.raises(InvalidInput, match=r"IVF with 43 lists needs at least 1677 vectors, got 120: use ann='hnsw'"):
        run_embeddings(sandbox, EmbeddingsConfig(ann="ivf", dim=32, train=TINY.train), progress=False)
    with pytest.raises(InvalidInput, match=r"train.steps must be at least 0, got -1.*unknown engine 'spark'"):
        run_embeddings(sandbox, EmbeddingsConfig(engine="spark", dim=32, train=TrainConfig(steps=-1)), progress=False)
    assert not sandbox.artifacts.exists("embeddings", "encoder")


def test_config_travels_with_every_artifact_and_a_rerun_from_it_gives_the_same_metrics(world):
    """Issue #14: run the stage, read its config back from the artifact, rerun with it: the same numbers."""
    first = run_embeddings(world, TINY, progress=False)
    assert isinstance(first, EmbeddingsResult) and isinstance(first, StageResult) and first.stage == "embeddings"
    assert first.artifacts == {"encoder": first.encoder_id, **first.vector_ids}
    for name in ("encoder", *KINDS):
        art = world.artifacts.read("embeddings", name)
        assert art.id == first.artifacts[name] and art.config() == TINY
    m = first.metrics
    for kind in KINDS:
        assert 0 <= m[f"embeddings.hit_rate@10.{kind}"] <= 1 and 0 < m[f"embeddings.mrr.{kind}"] <= 1
        assert 0.9 <= m[f"embeddings.ann_recall@10.{kind}"] <= 1
        assert 0 < m[f"embeddings.style_probe_accuracy.{kind}"] <= 1
        assert 0 <= m[f"embeddings.text_to_pin_recall@10.{kind}"] <= 1  # Pinworld's held-out Navigator requests
    lift = m["embeddings.hit_rate@10.proprietary"] / m["embeddings.hit_rate@10.off-the-shelf"] - 1
    assert m["embeddings.hit_rate@10_lift"] == pytest.approx(lift) and m["embeddings.precompute_pins_per_s"] > 0

    saved = world.artifacts.read("embeddings", "encoder").config()
    again = run_embeddings(world, saved, progress=False)
    timings = {"embeddings.precompute_pins_per_s", "embeddings.train_s"}  # timings: the only figures that may differ
    assert {k: v for k, v in again.metrics.items() if k not in timings} == {k: v for k, v in m.items() if k not in timings}
    assert again.history["loss"].tolist() == first.history["loss"].tolist()
    assert np.array_equal(load_vectors("proprietary", world).vectors, first.vectors["proprietary"].vectors)


def test_text_request_recall_on_a_hand_checked_case():
    from pinsandbox.embeddings.evaluate import text_request_recall

    pins = np.array(["a", "b", "c", "d"])
    pin_vectors = np.eye(4, dtype=np.float32)
    requests = pd.DataFrame({"answer_pin_ids": [["a", "b"], ["d"], ["zzz"]]})
    queries = np.array([[1, 0.5, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]], dtype=np.float32)
    # k=2: request 1 finds a and b (1.0); request 2 ranks c, then d or a or b tied at 0 → d may miss; unknown answers skipped
    assert text_request_recall(requests.iloc[:1], pins, queries[:1], pin_vectors, k=2) == 1.0
    assert text_request_recall(requests.iloc[1:2], pins, queries[1:2], pin_vectors, k=1) == 0.0
    assert text_request_recall(requests, pins, queries, pin_vectors, k=4) == 1.0
