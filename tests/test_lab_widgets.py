"""The explorers, driven as a person would (typing, picking, clicking) but without a kernel, over a real
Pinworld catalog, a real TasteGraph and real run records."""

from html import unescape

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

import pinsandbox
from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.widgets import NavigatorChat, PinGallery, PinnerExplorer, RunsBrowser, SimilarPins, resolve_display_mode
from pinsandbox.widgets.base import Explorer


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    from pinsandbox.catalog import generate_pinworld

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PINSANDBOX_ROOT", str(tmp_path_factory.mktemp("widgets")))
        return generate_pinworld(pinsandbox.create("widgets"), n_pins=120, n_pinners=30, seed=0, image_size=64, progress=False)


@pytest.fixture(scope="module")
def taste_graph(catalog):
    from pinsandbox.tastegraph import TasteGraph, TasteGraphConfig

    return TasteGraph(TasteGraphConfig(gnn=None)).fit(catalog.train_events(), pins=catalog.pins["pin_id"])


class TitleSearch:
    """A real (if simple) similarity and retrieval: TF-IDF over titles and descriptions."""

    def __init__(self, pins: pd.DataFrame, analyzer="word"):
        self.ids = pins["pin_id"].to_numpy()
        self.X = TfidfVectorizer(analyzer=analyzer, ngram_range=(1, 2) if analyzer == "word" else (3, 4)).fit(
            pins["title"] + " " + pins["description"])
        self.M = self.X.transform(pins["title"] + " " + pins["description"])

    def similar(self, pin_id, k):
        row = list(self.ids).index(pin_id)
        scores = linear_kernel(self.M[row], self.M).ravel()
        scores[row] = -1
        top = scores.argsort()[::-1][:k]
        return pd.DataFrame({"pin_id": self.ids[top], "score": scores[top]})

    def ask(self, text):
        scores = linear_kernel(self.X.transform([text]), self.M).ravel()
        return f"{(scores > 0).sum()} pins mention it", list(self.ids[scores.argsort()[::-1][:4]])


# -- display modes ------------------------------------------------------------------------------------------------
def test_display_mode_auto_is_text_headless_and_under_the_runner(monkeypatch):
    assert resolve_display_mode("auto") == "text"  # no kernel in pytest
    assert resolve_display_mode("widget") == "widget"
    monkeypatch.setenv("PINSANDBOX_RUN_DIR", "/somewhere")
    assert resolve_display_mode("auto") == "text"
    with pytest.raises(InvalidInput, match="display_mode must be one of auto, widget, text"):
        PinGallery(pd.DataFrame({"pin_id": ["a"], "title": ["t"]}), display_mode="fancy")


def test_headless_show_prints_a_summary_and_keeps_an_html_view(catalog, capsys):
    gallery = PinGallery(catalog, page_size=5)
    gallery.show()
    out = capsys.readouterr().out
    assert out.startswith(f"PinGallery: {len(catalog.pins)} of {len(catalog.pins)} pins") and "page 1/24" in out
    assert gallery.html().count("data:image/png;base64,") == 5  # the saved notebook keeps the images inline


# -- gallery ------------------------------------------------------------------------------------------------------
def test_gallery_search_filters_and_pages(catalog):
    pins = catalog.pins
    gallery = PinGallery(catalog, page_size=4)
    assert {"category", "palette"} <= set(gallery.columns)
    category = pins["category"].value_counts().index[0]
    gallery.search(category=category, max_price=200)
    expected = pins[(pins["category"] == category) & (pins["price"] <= 200)]
    assert gallery.results["pin_id"].tolist() == expected["pin_id"].tolist() and len(expected) > 0
    word = pins["title"].iloc[0].split()[0].lower()
    gallery.search(word)
    assert len(gallery.results) > 0 and all(word in (t + " " + d).lower() for t, d in
                                            zip(gallery.results["title"], gallery.results["description"], strict=True))
    with pytest.raises(InvalidInput, match="cannot filter on colour"):
        gallery.search(colour="red")
    with pytest.raises(InvalidInput, match="no pin has category='spaceship': use one of"):
        gallery.search(category="spaceship")
    assert gallery.query == word  # a refused search leaves the last one in place


def test_gallery_widget_controls_drive_the_view(catalog):
    gallery = PinGallery(catalog, page_size=6)
    ui = gallery.widget
    assert gallery._prev.disabled and not gallery._next.disabled
    gallery._next.click()
    assert gallery.page == 1 and gallery.page_ids()[0] in gallery._grid.value and not gallery._prev.disabled
    category = catalog.pins["category"].iloc[0]
    gallery._dropdowns["category"].value = category
    assert gallery.page == 0 and set(gallery.results["category"]) == {category}
    assert f"category={category}" in gallery._grid.value
    gallery.search("")  # from code: the controls follow
    assert gallery._dropdowns["category"].value == "(all)" and len(gallery.results) == len(catalog.pins)
    assert ui is gallery.widget


def test_gallery_of_a_text_only_catalog():
    pins = pd.DataFrame({"pin_id": ["a", "b"], "title": ["Blue lamp", "Red rug"], "description": ["", ""], "image": [None, None]})
    gallery = PinGallery(pins)
    assert gallery.columns == [] and "Blue lamp" in gallery.html() and "<img" not in gallery.html()
    assert gallery.search("rug").results["pin_id"].tolist() == ["b"]
    with pytest.raises(InvalidInput, match="needs a numeric price column"):
        gallery.search(max_price=10)
    with pytest.raises(InvalidInput, match="lacks column"):
        PinGallery(pd.DataFrame({"pin_id": ["a"]}))


# -- similar pins -------------------------------------------------------------------------------------------------
def test_similar_pins_side_by_side_and_walk(catalog):
    words, chars = TitleSearch(catalog.pins), TitleSearch(catalog.pins, analyzer="char_wb")
    first = catalog.pins["pin_id"].iloc[0]
    browser = SimilarPins(catalog, {"words": words.similar, "characters": chars.similar}, pin_id=first, k=5)
    ids, scores = browser.neighbours["words"]
    assert ids == words.similar(first, 5)["pin_id"].tolist() and first not in ids and len(scores) == 5
    assert 0 <= browser.overlap() <= 1
    assert "words" in browser.summary() and "characters" in browser.html()
    assert browser.widget.children  # the live UI builds without a kernel
    nxt = browser._follow.options[1][1]  # follow the first neighbour, as a person picks it
    browser._follow.value = nxt
    assert browser.pin_id == nxt and browser.history == [first, nxt] and browser._query.value == nxt
    browser._query.value = "no-such-pin"  # a typo: said next to the box, the view stays
    assert browser.pin_id == nxt and "no pin 'no-such-pin'" in unescape(browser._status.value)
    with pytest.raises(NotFound):
        browser.select("no-such-pin")
    with pytest.raises(InvalidInput, match="a DataFrame with a pin_id column"):
        SimilarPins(catalog, lambda p, k: pd.DataFrame({"id": [p]}))


# -- pinner explorer ----------------------------------------------------------------------------------------------
def test_pinner_explorer_feeds_an_event_and_the_homefeed_changes(catalog, taste_graph):
    explorer = PinnerExplorer.from_taste_graph(catalog, taste_graph.fork(), k=8)
    pinner = explorer.pinner_id
    assert pinner == catalog.train_events().query("action != 'impression'")["pinner_id"].value_counts().index[0]
    assert len(explorer.homefeed) == 8 and explorer.interests and explorer.recent
    # save a pin from a category this pinner never engaged with: a new interest, and the feed moves towards it
    pins = catalog.pins.set_index("pin_id")
    seen = set(pins.loc[explorer.recent, "category"])
    stranger = catalog.pins[~catalog.pins["category"].isin(seen)]["pin_id"].iloc[0]
    before = list(explorer.homefeed)
    change = explorer.feed(stranger, "save")
    assert change["before"] == before and change["after"] == explorer.homefeed
    assert change["new"] == [p for p in explorer.homefeed if p not in before] and change["new"]
    assert explorer.recent[0] == stranger
    assert stranger in [p for p, _ in explorer.interests]  # the saved pin now anchors an interest
    assert change["event"]["ts"] > catalog.train_events()["ts"].max()  # fed "now" in the catalog's world
    assert "after save of" in explorer.summary()
    assert explorer.html().count("#e60023") == len(change["new"])  # new pins outlined
    with pytest.raises(NotFound):
        explorer.feed("no-such-pin")
    with pytest.raises(InvalidInput, match="action 'like' is unknown"):
        explorer.feed(stranger, "like")


def test_pinner_explorer_widget_button_and_pinner_switch(catalog, taste_graph):
    explorer = PinnerExplorer.from_taste_graph(catalog, taste_graph.fork(), k=6)
    assert explorer.widget.children  # the live UI builds without a kernel
    top = explorer.homefeed[0]
    explorer._send.click()  # no pin typed: feeds the top of the feed
    assert explorer.fed[-1]["pin_id"] == top and f"fed save of {top}" in explorer._status.value
    explorer._pin.value = "nope"
    explorer._send.click()
    assert "no pin 'nope'" in unescape(explorer._status.value) and len(explorer.fed) == 1
    other = explorer.pinner_ids[3]
    explorer._who.value = other
    assert explorer.pinner_id == other and f"pinner {other}" in explorer._view.value and explorer.last_change is None


def test_pinner_explorer_read_only_without_update(catalog, taste_graph):
    explorer = PinnerExplorer(catalog, recommend=taste_graph.recommend, k=4)
    assert explorer.interests == [] and len(explorer.homefeed) == 4
    with pytest.raises(InvalidInput, match="no update function"):
        explorer.feed(catalog.pins["pin_id"].iloc[0])
    with pytest.raises(InvalidInput, match="pass events="):
        PinnerExplorer(catalog.pins, recommend=taste_graph.recommend)


# -- Navigator chat -----------------------------------------------------------------------------------------------
def test_navigator_chat_shows_picked_pins(catalog):
    search = TitleSearch(catalog.pins)
    chat = NavigatorChat(catalog, ask=search.ask)
    assert chat.summary() == "NavigatorChat: no requests yet"
    word = catalog.pins["title"].iloc[3].split()[-1]
    turn = chat.send(f"a {word} please")
    assert turn["pin_ids"] == search.ask(f"a {word} please")[1] and turn["reply"].endswith("mention it")
    assert chat.html().count("<img") == len(turn["pin_ids"])
    assert chat.widget.children  # the live UI builds without a kernel
    chat._text.value = ""
    chat._ask.click()
    assert "request is empty" in chat._status.value and len(chat.turns) == 1
    chat._text.value = word
    chat._ask.click()
    assert len(chat.turns) == 2 and chat._text.value == "" and chat._view.value.count("pin-card") == 8
    odd = NavigatorChat(catalog, ask=lambda text: ["ghost", catalog.pins["pin_id"].iloc[0]]).send("anything")
    assert odd["unknown"] == ["ghost"] and odd["pin_ids"] == [catalog.pins["pin_id"].iloc[0]]
    with pytest.raises(InvalidInput, match="must return pin ids"):
        NavigatorChat(catalog, ask=lambda text: 42).send("x")


# -- runs browser -------------------------------------------------------------------------------------------------
def test_runs_browser_compares_two_real_runs(sandbox):
    from pinsandbox.runs.runner import run_notebook
    from tests.conftest import TEST_NOTEBOOKS

    a = run_notebook(TEST_NOTEBOOKS / "echo.ipynb", sandbox, {"seed": 1}, quiet=True)
    b = run_notebook(TEST_NOTEBOOKS / "echo.ipynb", sandbox, {"seed": 1, "scale": 2.0}, quiet=True)
    browser = RunsBrowser(sandbox.owner)
    assert (browser.a, browser.b) == (a.id, b.id) and list(browser.table()["run"]) == [b.id, a.id]
    diff = browser.comparison().set_index("name")
    assert diff.loc["scale", "b"] == 2.0 and diff.loc["scale", "differs"] and not diff.loc["seed", "differs"]
    assert diff.loc["value", "b/a"] == pytest.approx(2.0, rel=1e-5)  # same seed, twice the scale (metrics keep 6 digits)
    assert "metrics value" in browser.summary() and "×2" in browser.summary()
    assert browser.widget.children  # the live UI builds without a kernel
    browser._pick_b.value = a.id
    assert browser.b == a.id and "b: " + a.id in browser._view.value
    assert "no differences" in browser.summary()
    with pytest.raises(NotFound, match="no run 'nope'"):
        browser.compare("nope", a.id)
    assert RunsBrowser([]).summary() == "RunsBrowser: no runs yet"


def test_every_explorer_is_an_explorer():
    for cls in (PinGallery, SimilarPins, PinnerExplorer, NavigatorChat, RunsBrowser):
        assert issubclass(cls, Explorer) and cls.__doc__


def test_similar_pins_from_vectors_is_exact_cosine(catalog):
    from sklearn.decomposition import TruncatedSVD

    search = TitleSearch(catalog.pins)
    vectors = TruncatedSVD(16, random_state=0).fit_transform(search.M).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = catalog.pins["pin_id"].to_numpy()
    browser = SimilarPins.from_vectors(catalog, {"svd": (ids, vectors), "half": (ids[:60], vectors[:60])}, pin_id=ids[5], k=6)
    got, scores = browser.neighbours["svd"]
    expected = np.argsort(-(vectors @ vectors[5]))[1:7]  # itself first, then its six nearest
    assert got == ids[expected].tolist() and list(scores.values()) == sorted(scores.values(), reverse=True)
    with pytest.raises(NotFound, match="has no vector"):  # a pin one embedding lacks: refused, view unchanged
        browser.select(ids[100])
    assert browser.pin_id == ids[5] and browser.history == [ids[5]]


def test_explorers_take_the_serving_api_shapes(catalog, taste_graph):
    """The serving state answers with dicts ({"pin_id", "title", "score"}; navigator {"answer", "pins"}): they plug in as is."""
    search, tg = TitleSearch(catalog.pins), taste_graph.fork()
    as_dicts = lambda df: [{"pin_id": p, "title": "…", "score": s} for p, s in zip(df["pin_id"], df["score"], strict=True)]  # noqa: E731
    first = catalog.pins["pin_id"].iloc[0]
    browser = SimilarPins(catalog, lambda p, k: as_dicts(search.similar(p, k)), pin_id=first, k=4)
    assert browser.neighbours["similar"][0] == search.similar(first, 4)["pin_id"].tolist()
    explorer = PinnerExplorer(catalog, recommend=lambda u, k: [{"pin_id": p} for p in tg.recommend(u, k)], update=tg.update, k=5)
    assert explorer.homefeed == tg.recommend(explorer.pinner_id, 5)
    reply, ids = search.ask("lamp")
    turn = NavigatorChat(catalog, ask=lambda t: {"answer": reply, "pins": [{"pin_id": p, "score": 1.0} for p in ids]}).send("lamp")
    assert (turn["reply"], turn["pin_ids"]) == (reply, ids)
    with pytest.raises(InvalidInput, match="dicts with a pin_id key"):
        SimilarPins(catalog, lambda p, k: [{"id": p}])
