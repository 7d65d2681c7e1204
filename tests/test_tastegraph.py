"""The taste graph: graph weights, interests on two clocks, walks, baselines, evaluation, bad input, snapshots."""

import numpy as np
import pandas as pd
import pytest

from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.tastegraph import (
    EASE,
    ItemKNN,
    Popularity,
    TasteGraph,
    TasteGraphConfig,
    compare,
    evaluate,
    temporal_split,
)
from pinsandbox.tastegraph.graph import build_graph, prepare_events
from pinsandbox.tastegraph.interests import InterestConfig, _cut, fit_pinner, update_pinner
from pinsandbox.tastegraph.lightgcn import GNNConfig
from pinsandbox.tastegraph.metrics import realtime_vs_batch, targets_of, validation_split
from pinsandbox.tastegraph.synthetic import make_world
from pinsandbox.tastegraph.walks import PixieWalker, WalkConfig

SMALL_GNN = GNNConfig(dim=16, epochs=3)


@pytest.fixture(scope="module")
def world():
    return make_world(n_pins=300, n_pinners=60, n_events=6000, n_styles=6, seed=1)


@pytest.fixture(scope="module")
def split(world):
    return temporal_split(world.events, world.cutoff)


@pytest.fixture(scope="module")
def fitted(world, split):
    return TasteGraph(TasteGraphConfig(gnn=SMALL_GNN)).fit(split[0], (world.pin_ids, world.vectors))


def ev(pinner, pin, action, ts="2026-03-01T00:00Z", board=None):
    return {"pinner_id": pinner, "pin_id": pin, "action": action, "ts": pd.Timestamp(ts), "board_id": board}


# -- graph -------------------------------------------------------------------------------------------
def test_edges_are_weighted_by_action_and_recency():
    events = prepare_events(pd.DataFrame([
        ev("u", "a", "merchant_click"), ev("u", "b", "save"), ev("u", "c", "click"), ev("u", "d", "closeup"),
        ev("u", "e", "impression"), ev("u", "f", "save", ts="2026-01-30T00:00Z"),
    ]))
    g = build_graph(events, pd.Index(list("abcdef")), half_life_days=30)
    w = g.pinner_pin.toarray()[0]
    assert w[0] > w[1] > w[2] > w[3] > w[4] > 0  # merchant click > save > click > closeup > impression
    assert w[5] == pytest.approx(w[1] / 2, rel=1e-6)  # a save 30 days older counts half
    assert g.pin_board.shape == (6, 1)  # no board ids: the pinner's pseudo-board links their engaged pins
    assert g.pin_board[4].nnz == 0  # impressions are not curation


def test_bad_events_are_refused_with_one_clear_message():
    with pytest.raises(InvalidInput, match="unknown action.*use one of"):
        prepare_events(pd.DataFrame([ev("u", "a", "like")]))
    with pytest.raises(InvalidInput, match="lack column.*ts"):
        prepare_events(pd.DataFrame({"pinner_id": ["u"], "pin_id": ["a"], "action": ["save"]}))
    with pytest.raises(InvalidInput, match="not in the catalog"):
        TasteGraph().fit(pd.DataFrame([ev("u", "zzz", "save")]), pins=["a", "b"])
    with pytest.raises(InvalidInput, match="no training events"):
        TasteGraph().fit(pd.DataFrame([ev("u", "a", "save")]).iloc[:0], pins=["a"])


# -- interests ---------------------------------------------------------------------------------------
def test_batch_interests_separate_two_tastes_and_online_update_moves_or_spawns():
    rng = np.random.default_rng(0)
    a, b, c = np.eye(8)[0], np.eye(8)[1], np.eye(8)[2]
    vecs = np.vstack([a + 0.05 * rng.standard_normal((6, 8)), b + 0.05 * rng.standard_normal((4, 8)), c[None]])
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    cfg = InterestConfig(half_life_days=30.0, half_life_engagements=None)  # the wall clock alone, here
    st = fit_pinner(np.arange(10), np.ones(10), vecs, cfg, t=0.0)
    assert len(st.importance) == 2 and st.importance[0] == 6 and st.importance[1] == 4  # mid-century AND Nantucket
    assert st.medoids[0] < 6 <= st.medoids[1]
    update_pinner(st, 0, vecs, 2.0, 0.0, cfg, engaged=True)  # more of taste a: moves, no new interest
    assert len(st.importance) == 2 and st.importance[0] == 8
    update_pinner(st, 10, vecs, 2.0, 30 * 86400.0, cfg, engaged=True)  # taste c, a month later: spawns, old ones decayed
    assert len(st.importance) == 3 and st.importance[0] == pytest.approx(4.0) and st.importance[2] == 2.0
    assert st.medoids[2] == 10


def test_the_pinners_own_clock_fades_a_taste_left_behind_not_a_quiet_pinners():
    """Two pinners save pin a on the same day; then u engages 40 times elsewhere and v not at all. With a half-life
    of 40 engagements u's edge to a counts half of v's, and an online engagement ages u's interests by one step."""
    day = "2026-01-01T00:00Z"
    later = [ev("u", f"x{i}", "click", ts=f"2026-01-02T00:{i:02d}Z") for i in range(40)]
    events = prepare_events(pd.DataFrame([ev("u", "a", "save", ts=day), ev("v", "a", "save", ts=day), *later]))
    pins = pd.Index(["a", *[f"x{i}" for i in range(40)]])
    g = build_graph(events, pins, half_life_days=1e9, half_life_engagements=40)
    w = g.pinner_pin[:, 0].toarray().ravel()
    assert w[g.pinners.get_loc("u")] == pytest.approx(w[g.pinners.get_loc("v")] / 2)
    assert build_graph(events, pins, half_life_days=1e9).pinner_pin[:, 0].toarray().ravel() == pytest.approx([2.0, 2.0])

    vecs = np.eye(4, dtype=np.float32)
    cfg = InterestConfig(half_life_engagements=10.0)
    st = fit_pinner(np.array([0]), np.array([1.0]), vecs, cfg, t=0.0)
    update_pinner(st, 3, vecs, 1.0, 0.0, cfg, engaged=True)  # a new taste: the old one ages one engagement
    assert st.importance[0] == pytest.approx(0.5 ** 0.1)
    update_pinner(st, 3, vecs, 1.0, 0.0, cfg, engaged=False)  # an impression is not an engagement: no ageing
    assert st.importance[0] == pytest.approx(0.5 ** 0.1)


def test_a_pinner_whose_taste_moved_gets_the_new_taste_first():
    """30 saves of style A over three weeks, then 10 of style B in the last days: the homefeed leads with B, while
    wall-clock decay alone with no share weighting kept A first (the taste graph's drift, issue #15)."""
    rng = np.random.default_rng(0)
    vecs = np.vstack([np.eye(8)[0] + 0.1 * rng.standard_normal((60, 8)), np.eye(8)[1] + 0.1 * rng.standard_normal((60, 8))])
    ids = np.array([f"p{i}" for i in range(120)])
    start = pd.Timestamp("2026-01-01T00:00Z")
    rows = [ev("u", f"p{i}", "save", ts=start + pd.Timedelta(hours=16 * i)) for i in range(30)]
    rows += [ev("u", f"p{60 + i}", "save", ts=start + pd.Timedelta(days=21, hours=8 * i)) for i in range(10)]
    rows += [ev(f"o{j}", f"p{(j * 7 + i) % 120}", "click", ts=start + pd.Timedelta(days=i)) for j in range(20) for i in range(6)]
    events = pd.DataFrame(rows)

    def b_share(**settings):
        config = TasteGraphConfig(gnn=None, ease_l2=None, **settings)
        feed = TasteGraph(config).fit(events, (ids, vecs), pins=ids).recommend("u", k=10)
        return np.mean([int(p[1:]) >= 60 for p in feed])

    following = b_share()
    wall_clock = b_share(share_weighting=0.0, interests=InterestConfig(half_life_engagements=None, recency_mix=0.0))
    assert following > 0.5 and following > wall_clock


def test_ward_cut_matches_fcluster():
    from scipy.cluster.hierarchy import fcluster, linkage

    rng = np.random.default_rng(0)
    for _ in range(50):
        X = rng.standard_normal((int(rng.integers(2, 60)), 8))
        Z, t = linkage(X / np.linalg.norm(X, axis=1, keepdims=True), "ward"), rng.uniform(0.2, 3.0)
        a, b = fcluster(Z, t, "distance"), _cut(Z, t)
        assert len(set(zip(a, b, strict=True))) == len(set(a)) == len(set(b))  # the same partition


def feed_a_new_style(m, world, n_events):
    """Merchant-click `n_events` pins of a style the first pinner never engaged with; (before, after, target, in_style)."""
    u = next(iter(m.states))
    style = world.pins.set_index("pin_id")["style"]
    liked = {style[p] for p in m.pins[list(m.states[u].seen)]}
    new_style = next(s for s in range(6) if s not in liked)
    target = world.pins.loc[world.pins["style"] == new_style, "pin_id"].tolist()
    before = m.recommend(u, 10)
    for p in target[:n_events]:
        m.update(ev(u, p, "merchant_click", ts=world.events["ts"].max()))
    return before, m.recommend(u, 10), target[:n_events], lambda feed: sum(style[p] == new_style for p in feed)


def test_ease_source_follows_online_events(world, fitted):
    m = fitted.fork()
    m.config = TasteGraphConfig(gnn=SMALL_GNN, blend={"ease": 1.0})
    before, after, _, in_style = feed_a_new_style(m, world, 6)
    assert in_style(after) > in_style(before)
    assert TasteGraph(TasteGraphConfig(gnn=None, ease_l2=None)).fit(world.events, (world.pin_ids, world.vectors)).ease_B is None


def test_ivf_index_above_the_threshold_keeps_recall(world, split):
    m = TasteGraph(TasteGraphConfig(gnn=None, ann_above=100, ann_nprobe=4)).fit(split[0], (world.pin_ids, world.vectors))
    assert type(m.index).__name__ == "IndexIVFFlat"
    queries = np.concatenate([s.centers for s in list(m.states.values())[:30]])
    exact = np.argsort(-(queries @ m.vectors.T), axis=1, kind="stable")[:, :50]
    got = m._search(queries, 50)
    assert np.mean([len(np.intersect1d(a, b)) / 50 for a, b in zip(got, exact, strict=True)]) > 0.8


def test_update_changes_the_very_next_recommendation(world, fitted):
    m = fitted.fork()
    before, after, fed, in_style = feed_a_new_style(m, world, 4)
    assert in_style(after) > in_style(before)
    assert not set(fed) & set(after)  # engaged pins leave the feed at once
    assert fitted.recommend(next(iter(m.states)), 10) == before  # the fork left the original alone


def test_reconcile_folds_online_events_into_batch_interests(world, fitted):
    m = fitted.fork()
    u = next(iter(m.states))
    m.update(ev(u, world.pin_ids[0], "save", ts=world.events["ts"].max()))
    out = m.reconcile()
    assert out == {"events": 1, "pinners": 1}
    assert m.pins.get_loc(world.pin_ids[0]) in m.states[u].seen
    assert m.reconcile() == {"events": 0, "pinners": 0}


def test_online_bad_input_and_newcomers(fitted):
    m = fitted.fork()
    with pytest.raises(InvalidInput, match="pin 'nope' is not in the catalog"):
        m.update(ev("u1", "nope", "save"))
    with pytest.raises(InvalidInput, match="action 'like' is unknown"):
        m.update(ev("u1", m.pins[0], "like"))
    m.update(ev("newcomer", m.pins[0], "save"))  # an unknown pinner is a newcomer, not an error
    assert m.interests("newcomer")["medoid_pin_id"].tolist() == [m.pins[0]]
    assert m.pins[0] not in m.recommend("newcomer", 10)


def test_cold_start_gets_popular_and_diverse_pins(world, fitted):
    recs = fitted.recommend("never-seen", 10)
    assert len(recs) == 10 and len(set(recs)) == 10
    style = world.pins.set_index("pin_id")["style"]
    assert len({style[p] for p in recs}) >= 3  # spread over tastes, not ten of one kind
    popular = set(fitted.pins[np.argsort(-fitted.graph.popularity)[:60]])
    assert len(set(recs) & popular) >= 8


def test_fit_without_vectors_embeds_pins_from_the_graph(split):
    m = TasteGraph(TasteGraphConfig(gnn=None)).fit(split[0])
    assert m.vector_source == "graph (SVD)"
    u = next(iter(m.states))
    recs = m.recommend(u, 10)
    assert len(recs) == 10 and not set(recs) & set(m.pins[list(m.states[u].seen)])


# -- walks -------------------------------------------------------------------------------------------
def test_pixie_walks_stay_in_the_start_pins_component():
    import scipy.sparse as sp

    # pins 0-2 share board 0, pins 3-5 share board 1: two islands
    pin_board = sp.csr_matrix((np.ones(6), ([0, 1, 2, 3, 4, 5], [0, 0, 0, 1, 1, 1])), shape=(6, 2))
    walker = PixieWalker(pin_board, pin_board.T.tocsr(), WalkConfig(walkers=100, steps=5))
    pins, counts = walker.visits(np.array([0]), np.array([1.0]), seed=0)
    assert set(pins) == {0, 1, 2} and counts.sum() == 500


# -- baselines and evaluation ------------------------------------------------------------------------
def test_metrics_on_a_hand_checked_case():
    class Fixed:
        def recommend_many(self, pinners, k, exclude_seen=True):
            return {"u": ["a", "x", "b"] + ["y"] * 7, "v": ["z"] * 10}

    train = prepare_events(pd.DataFrame([ev("u", "old", "save"), ev("v", "old", "save")]))
    test = prepare_events(pd.DataFrame([ev("u", "a", "click"), ev("u", "b", "save"), ev("u", "old", "save"),
                                        ev("v", "q", "click"), ev("v", "w", "impression")]))
    out = evaluate(Fixed(), train, test, k=10)
    # u: hits at ranks 1 and 3 of 2 targets ("old" was seen before); v: none
    ndcg_u = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    assert out["recall@10"] == pytest.approx(0.5) and out["hit_rate@10"] == pytest.approx(0.5)
    assert out["ndcg@10"] == pytest.approx(ndcg_u / 2) and out["pinners"] == 2


def test_empty_test_window_says_so(split):
    with pytest.raises(InvalidInput, match="test window has no engagements.*cutoff earlier"):
        targets_of(split[0], split[1].iloc[:0])


def test_baselines_and_taste_graph_in_one_table(world, split, fitted):
    pins = world.pin_ids
    models = {"popularity": Popularity().fit(split[0], pins=pins), "itemknn": ItemKNN().fit(split[0], pins=pins),
              "ease": EASE(l2=50).fit(split[0], pins=pins), "tastegraph": fitted}
    table = compare(models, split[0], split[1], pin_groups=world.pins.set_index("pin_id")["style"])
    assert list(table.index) == list(models)
    assert {"recall@10", "ndcg@10", "hit_rate@10", "interest_coverage@10"} <= set(table.columns)
    assert table.loc["tastegraph", "ndcg@10"] > table.loc["popularity", "ndcg@10"]
    assert table.loc["ease", "ndcg@10"] > table.loc["popularity", "ndcg@10"]
    # baselines exclude seen pins too, and cold-start unknown pinners with popular pins
    seen = set(split[0].loc[(split[0]["pinner_id"] == "u0") & (split[0]["action"] != "impression"), "pin_id"])
    assert not seen & set(models["ease"].recommend("u0", 10))
    assert models["itemknn"].recommend("stranger", 3) == models["popularity"].recommend("stranger", 3)


def test_realtime_arm_sees_the_first_test_events(split, fitted):
    table = realtime_vs_batch(fitted, split[0], split[1], first_n=2)
    assert list(table.index) == ["batch", "real-time"] and table.attrs["events_fed"] > 0
    assert table.loc["batch", "pinners"] == table.loc["real-time", "pinners"]


def test_validation_split_stays_inside_training_time(split):
    fit_part, val_part = validation_split(split[0], 0.2)
    assert fit_part["ts"].max() < val_part["ts"].min() and val_part["ts"].max() == split[0]["ts"].max()


def test_tuning_scores_the_grid_and_half_lives_on_the_validation_split(world, split):
    from pinsandbox.tastegraph import tune_ease, tune_taste_graph

    table = tune_taste_graph(split[0], (world.pin_ids, world.vectors), config=TasteGraphConfig(gnn=None),
                             grid={"blend.ease": [0.0, 1.0]}, half_lives=(7.0, 30.0))
    assert len(table) == 4 and table["ndcg@10"].is_monotonic_decreasing
    best = table.attrs["best"]
    assert (best.half_life_days, best.interests.half_life_days, best.blend["ease"]) == (
        table.loc[0, "half_life_days"], table.loc[0, "half_life_days"], table.loc[0, "blend.ease"])
    assert table["ndcg@10"].nunique() > 1  # the settings matter on this world, so the choice is not a tie
    ease = tune_ease(split[0], l2s=(10.0, 100.0), half_lives=(7.0, 30.0))
    assert len(ease) == 4 and ease["ndcg@10"].is_monotonic_decreasing


def test_same_seed_same_recommendations(world, split):
    cfg = TasteGraphConfig(gnn=SMALL_GNN)
    a = TasteGraph(cfg).fit(split[0], (world.pin_ids, world.vectors)).recommendations(k=5)
    b = TasteGraph(cfg).fit(split[0], (world.pin_ids, world.vectors)).recommendations(k=5)
    pd.testing.assert_frame_equal(a, b)


# -- snapshots ---------------------------------------------------------------------------------------
def test_save_and_load_recommend_the_same(sandbox, fitted):
    m = fitted.fork()
    u = next(iter(m.states))
    m.update(ev(u, m.pins[3], "save", ts="2026-03-02T00:00Z"))
    art_id = m.save(sandbox)
    assert art_id.startswith("tastegraph/taste-graph@")
    loaded = TasteGraph.load(sandbox)
    assert loaded.config == m.config == sandbox.artifacts.read("tastegraph", "taste-graph").config()  # config.json
    for p in list(m.states)[:10]:
        assert loaded.recommend(p, 10) == m.recommend(p, 10)
    assert loaded.reconcile()["events"] == 1
    with pytest.raises(NotFound, match="not fitted"):
        TasteGraph().recommend("u", 10)


def test_share_model_learns_from_the_next_days_where_engagement_goes():
    """PinnerFormer's objective for the shares: when the next days' engagement follows the short-term importance,
    the fitted model leans on it (b > a); when it follows the long-term one, the reverse."""
    from pinsandbox.tastegraph.interests import ShareModel

    rng = np.random.default_rng(0)
    long = [rng.dirichlet(np.ones(3)) for _ in range(300)]
    short = [rng.dirichlet(np.ones(3)) for _ in range(300)]
    recent = ShareModel.fit(long, short, [np.bincount(rng.choice(3, 20, p=s), minlength=3).astype(float) for s in short])
    frequent = ShareModel.fit(long, short, [np.bincount(rng.choice(3, 20, p=lg), minlength=3).astype(float) for lg in long])
    assert recent.b > 1 > recent.a and frequent.a > 0.8 > frequent.b
    shares = recent.shares(np.array([0.6, 0.4]), np.array([0.0, 1.0]))
    assert shares.sum() == pytest.approx(1.0) and shares[1] > shares[0]


def test_a_learned_share_model_travels_with_the_snapshot(sandbox, world, split):
    from pinsandbox.tastegraph.interests import InterestConfig as IC

    model = TasteGraph(TasteGraphConfig(gnn=None, interests=IC(share_window_days=7.0))).fit(split[0], (world.pin_ids, world.vectors))
    assert model.share_model is not None and model.share_model.a > 0
    model.save(sandbox)
    back = TasteGraph.load(sandbox)
    assert back.share_model == model.share_model
    pinner = next(iter(model.states))
    assert back.recommend(pinner, 10) == model.recommend(pinner, 10)
