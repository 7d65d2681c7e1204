"""Import: a Pinworld catalog round-trips through CSV + images; every bad input is refused with rows named
and nothing written."""

import os

import pandas as pd
import pytest
from PIL import Image

import pinsandbox
import pinsandbox.cli
from pinsandbox.catalog import (
    CatalogConfig,
    export_catalog,
    generate_pinworld,
    import_catalog,
    load_catalog,
    load_ground_truth,
    run_catalog,
)
from pinsandbox.errors import InvalidInput, NotFound


def _nothing_written(sb):
    assert not (sb.root / "catalog").exists()
    assert not list((sb.root / "artifacts").rglob("*"))


@pytest.fixture
def good(tmp_path):
    """A tiny valid catalog on disk: 3 pins (one text-only), 5 events, 1 board, 2 images."""
    d = tmp_path / "mine"
    (d / "img").mkdir(parents=True)
    Image.new("RGB", (16, 16), (200, 10, 10)).save(d / "img" / "a.png")
    Image.new("RGB", (16, 16), (10, 200, 10)).save(d / "img" / "b.png")
    pd.DataFrame({"pin_id": ["007", "p2", "p3"], "title": ["Red lamp", "Green rug", "Plain text pin"],
                  "description": ["", "wool", ""], "image": ["a.png", "b.png", None], "price": [19.5, 80, None],
                  "brand": ["x", "y", "z"]}).to_csv(d / "pins.csv", index=False)
    pd.DataFrame({"pinner_id": ["u1", "u1", "u2", "u2", "u1"], "pin_id": ["007", "p2", "007", "p3", "p3"],
                  "action": ["impression", "save", "click", "closeup", "merchant_click"],
                  "ts": ["2025-01-01T10:00:00Z", "2025-01-02 11:00", "1735900000", "2025-01-05T00:00:00+02:00", "1736200000.5"],
                  "board_id": [None, "b1", None, None, None]}).to_csv(d / "events.csv", index=False)
    pd.DataFrame({"board_id": ["b1"], "pinner_id": ["u1"], "name": ["lamps"]}).to_csv(d / "boards.csv", index=False)
    return d


def _import(sb, d, **kw):
    args = dict(pins=d / "pins.csv", events=d / "events.csv", boards=d / "boards.csv", images=d / "img")
    args.update(kw)
    return import_catalog(sb, **args, progress=False)


def test_import_keeps_ids_metadata_and_parses_every_timestamp_form(sandbox, good):
    cat = _import(sandbox, good)
    assert cat.artifact_id.startswith("catalog/imported@") and cat.source == "imported"
    assert cat.pins["pin_id"].tolist() == ["007", "p2", "p3"]  # ids stay text
    assert {"price", "brand"} <= set(cat.pins.columns) and cat.pins["description"].tolist() == ["", "wool", ""]
    assert cat.image_path("p3") is None and cat.image_path("007").read_bytes()[:4] == b"\x89PNG"
    assert str(cat.events["ts"].dtype) == "datetime64[us, UTC]"
    assert cat.events["ts"].tolist() == sorted(cat.events["ts"])
    assert pd.Timestamp("2025-01-04T22:00:00Z") in set(cat.events["ts"])  # +02:00 converted to UTC
    assert cat.cutoff == cat.events["ts"].quantile(0.8)
    with pytest.raises(NotFound, match="ground truth exists only for generated Pinworld"):
        load_ground_truth(sandbox)


def test_run_catalog_imports_files_and_its_config_reruns_the_same_import(sandbox, good):
    config = CatalogConfig(source="import", pins=good / "pins.csv", events=good / "events.csv",
                           boards=good / "boards.csv", images=good / "img")
    first = run_catalog(sandbox, config, progress=False)
    assert first.truth is None and first.catalog.artifact_id.startswith("catalog/imported@")
    assert first.artifacts == {"catalog": first.catalog.artifact_id}
    m = first.metrics
    assert (m["catalog.pins"], m["catalog.pinners"], m["catalog.boards"], m["catalog.events"]) == (3, 2, 1, 5)
    assert m["catalog.train_events"] + m["catalog.test_events"] == 5 and m["catalog.actions.save"] == 1
    assert not any("titles_naming" in k or "gold" in k for k in m)  # those need Pinworld's ground truth
    saved = sandbox.artifacts.read("catalog", "imported").config()
    assert saved == config and saved.pins == str(good / "pins.csv")  # paths saved as text
    again = run_catalog(pinsandbox.create("bob"), saved, progress=False)
    assert again.metrics == first.metrics
    pd.testing.assert_frame_equal(again.catalog.events, first.catalog.events)


def test_run_catalog_refuses_a_bad_import_with_rows_named_and_nothing_written(sandbox, good):
    pd.read_csv(good / "events.csv").assign(action="like").to_csv(good / "events.csv", index=False)
    with pytest.raises(InvalidInput, match=r"unknown action 'like' at rows 1, 2, 3, 4, 5"):
        run_catalog(sandbox, CatalogConfig(source="import", pins=str(good / "pins.csv"), events=str(good / "events.csv")),
                    progress=False)
    _nothing_written(sandbox)


def test_text_only_parquet_catalog_without_boards(sandbox, tmp_path):
    pd.DataFrame({"pin_id": ["a", "b"], "title": ["one", "two"]}).to_parquet(tmp_path / "pins.parquet")
    pd.DataFrame({"pinner_id": ["u", "u"], "pin_id": ["a", "b"], "action": ["click", "save"],
                  "ts": pd.to_datetime(["2025-01-01", "2025-01-02"])}).to_parquet(tmp_path / "events.parquet")
    cat = import_catalog(sandbox, tmp_path / "pins.parquet", tmp_path / "events.parquet", progress=False)
    assert cat.pins["image"].isna().all() and cat.boards.empty and cat.events["board_id"].isna().all()


def test_pinworld_round_trips_through_csv_and_images(sandbox, tmp_path):
    original = generate_pinworld(sandbox, 200, 50, seed=1, progress=False)
    out = export_catalog(sandbox, tmp_path / "export")
    assert sorted(p.name for p in out.iterdir()) == ["boards.csv", "events.csv", "images", "pins.csv"]
    other = pinsandbox.create("bob")
    back = import_catalog(other, out / "pins.csv", out / "events.csv", out / "boards.csv", out / "images", progress=False)
    pd.testing.assert_frame_equal(back.pins, original.pins)
    pd.testing.assert_frame_equal(back.events, original.events)
    pd.testing.assert_frame_equal(back.boards, original.boards)
    for image in original.pins["image"].head(20):
        assert (back.images_dir / image).read_bytes() == (original.images_dir / image).read_bytes()


def _refused(sb, d, *expected, **kw):
    with pytest.raises(InvalidInput) as err:
        _import(sb, d, **kw)
    message = str(err.value)
    for text in expected:
        assert text in message, f"{text!r} not in:\n{message}"
    _nothing_written(sb)
    return message


def test_missing_columns(sandbox, good):
    pd.read_csv(good / "events.csv").drop(columns=["action"]).to_csv(good / "events.csv", index=False)
    pd.read_csv(good / "pins.csv").drop(columns=["title"]).to_csv(good / "pins.csv", index=False)
    _refused(sandbox, good, "pins.csv: missing column 'title'", "events.csv: missing column 'action'")


def test_duplicate_pin_ids(sandbox, good):
    pins = pd.read_csv(good / "pins.csv", dtype=str)
    pins.loc[2, "pin_id"] = "007"
    pins.to_csv(good / "pins.csv", index=False)
    _refused(sandbox, good, "duplicate pin_id '007' at rows 1, 3")


def test_events_pointing_at_unknown_pins_and_unknown_actions(sandbox, good):
    ev = pd.read_csv(good / "events.csv", dtype=str)
    ev.loc[1, "pin_id"] = "ghost"
    ev.loc[3, "action"] = "like"
    ev.loc[4, "action"] = "repin"
    ev.to_csv(good / "events.csv", index=False)
    _refused(sandbox, good, "pin_id 'ghost' at row 2 is not in the pins file",
             "unknown action 'like', 'repin' at rows 4, 5: use one of impression, closeup, click, save, merchant_click")


def test_unparseable_timestamps(sandbox, good):
    ev = pd.read_csv(good / "events.csv", dtype=str)
    ev.loc[0, "ts"] = "yesterday"
    ev.loc[2, "ts"] = "2025-13-45"
    ev.to_csv(good / "events.csv", index=False)
    _refused(sandbox, good, "timestamps at rows 1, 3 cannot be parsed (e.g. 'yesterday')")


def test_missing_unreadable_and_escaping_images(sandbox, good):
    (good / "img" / "b.png").write_text("not a png")
    pins = pd.read_csv(good / "pins.csv", dtype=str)
    pins.loc[0, "image"] = "gone.png"
    pins.loc[2, "image"] = "../pins.csv"
    pins.to_csv(good / "pins.csv", index=False)
    _refused(sandbox, good, "image files at row 1 are missing", "image files at row 2 cannot be read as images",
             "image paths at row 3 leave the images folder")


def test_images_named_but_no_folder_given(sandbox, good):
    _refused(sandbox, good, "rows 1, 2 name an image but no images folder was given", images=None)


def test_wrong_types_and_empty_values(sandbox, good, tmp_path):
    pd.DataFrame({"pin_id": [1, 2], "title": ["a", None]}).to_parquet(tmp_path / "pins.parquet")
    pd.DataFrame({"pinner_id": ["u", None], "pin_id": ["1", "2"], "action": ["save", "click"],
                  "ts": [1736000000, 1736000001]}).to_parquet(tmp_path / "events.parquet")
    message = _refused(sandbox, good, "pins.parquet: column 'pin_id' must be text but holds int64 values (at rows 1, 2)",
                       "pins.parquet: column 'title' is empty at row 2", "events.parquet: column 'pinner_id' is empty at row 2",
                       pins=tmp_path / "pins.parquet", events=tmp_path / "events.parquet", boards=None, images=None)
    assert message.startswith("catalog import refused, 3 problem(s) found and nothing was written")


def test_every_problem_is_reported_at_once(sandbox, good):
    pins = pd.read_csv(good / "pins.csv", dtype=str)
    pins.loc[1, "pin_id"] = "007"
    pins.to_csv(good / "pins.csv", index=False)
    ev = pd.read_csv(good / "events.csv", dtype=str)
    ev.loc[0, ["action", "ts"]] = ["like", "soon"]
    ev.loc[1, "board_id"] = "no-such-board"
    ev.to_csv(good / "events.csv", index=False)
    message = _refused(sandbox, good, "duplicate pin_id", "unknown action", "cannot be parsed",
                       "board_id 'no-such-board' at row 2 is not in the boards file",
                       "pin_id 'p2' at row 2 is not in the pins file")  # p2 was renamed away above
    assert message.count("\n  - ") == 5


def test_unknown_format_and_missing_file(sandbox, good):
    (good / "pins.xlsx").write_text("x")
    _refused(sandbox, good, "unknown format '.xlsx'", pins=good / "pins.xlsx")
    _refused(sandbox, good, "does not exist", events=good / "nope.csv")


def test_a_failed_import_leaves_the_previous_catalog_in_place(sandbox, good):
    before = _import(sandbox, good)
    ev = pd.read_csv(good / "events.csv", dtype=str)
    ev.loc[0, "action"] = "like"
    ev.to_csv(good / "events.csv", index=False)
    with pytest.raises(InvalidInput):
        _import(sandbox, good)
    assert load_catalog(sandbox).artifact_id == before.artifact_id
    assert len(list((sandbox.root / "artifacts" / "catalog").glob("imported@*"))) == 1


def test_cli_data_commands(sandbox, good, tmp_path, capsys, monkeypatch):
    # the data commands, next to whichever other command modules exist on this branch
    assert pinsandbox.cli.main(["data", "pinworld", "--sandbox", "alice", "--pins", "120", "--pinners", "30", "--image-size", "64"]) == 0
    assert "generated Catalog(catalog/pinworld@" in capsys.readouterr().out
    assert pinsandbox.cli.main(["data", "export", "--sandbox", "alice", "--out", str(tmp_path / "out")]) == 0
    pinsandbox.create("bob")
    assert pinsandbox.cli.main(["data", "import", "--sandbox", "bob", "--pins", str(tmp_path / "out" / "pins.csv"),
                                "--events", str(tmp_path / "out" / "events.csv"), "--images", str(tmp_path / "out" / "images")]) == 0
    assert "imported Catalog(catalog/imported@" in capsys.readouterr().out
    pd.read_csv(good / "pins.csv").drop(columns=["title"]).to_csv(good / "pins.csv", index=False)
    pinsandbox.create("carol")
    code = pinsandbox.cli.main(["data", "import", "--sandbox", "carol", "--pins", str(good / "pins.csv"),
                                "--events", str(good / "events.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "pinsandbox: error: catalog import refused" in err and "missing column 'title'" in err
    assert "Traceback" not in err
    _nothing_written(pinsandbox.open_sandbox("carol"))
    assert pinsandbox.cli.main(["data", "show", "--sandbox", "bob"]) == 0
    assert '"source": "imported"' in capsys.readouterr().out
    assert os.environ["PINSANDBOX_SANDBOX"]  # the fixture's current sandbox is untouched


def test_the_readme_example_imports(sandbox, tmp_path):
    """The small import example in the README, verbatim (images made for p1 and p2)."""
    (tmp_path / "pins.csv").write_text("pin_id,title,description,image,price\np1,Walnut lounge chair,Tapered legs,p1.png,349\n"
                                       "p2,Striped linen pillow,,p2.png,35\np3,Rattan pendant lamp,text-only pin,,89\n")
    (tmp_path / "events.csv").write_text("pinner_id,pin_id,action,ts,board_id\nu1,p1,impression,2025-01-06T10:00:00Z,\n"
                                         "u1,p1,save,2025-01-06T10:00:12Z,b1\nu2,p3,click,1736158000,\n")
    (tmp_path / "boards.csv").write_text("board_id,pinner_id,name\nb1,u1,living room\n")
    (tmp_path / "images").mkdir()
    for name in ("p1.png", "p2.png"):
        Image.new("RGB", (64, 64)).save(tmp_path / "images" / name)
    cat = import_catalog(sandbox, tmp_path / "pins.csv", tmp_path / "events.csv", tmp_path / "boards.csv",
                         tmp_path / "images", progress=False)
    assert len(cat.pins) == 3 and len(cat.events) == 3 and cat.pins["price"].tolist() == [349, 35, 89]
    assert cat.events["board_id"].isna().tolist() == [True, False, True] and cat.events["board_id"].iloc[1] == "b1"


def test_a_plain_ratings_log_with_titles_only_imports_and_recommends(sandbox, tmp_path, capsys):
    """Issue #15: what many teams have — titles and a user/item/rating/timestamp log, no images, no actions —
    goes through `data import` and `recommend` as it is; ratings become the funnel on the file's own scale."""
    from pinsandbox.catalog.pinworld import as_ratings_log

    pins, ratings = as_ratings_log(generate_pinworld(pinsandbox.create("source"), n_pins=150, n_pinners=40,
                                                     render_images=False, progress=False))
    assert list(pins.columns) == ["item_id", "title"] and list(ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    pins.to_csv(tmp_path / "items.csv", index=False)
    ratings.to_csv(tmp_path / "ratings.csv", index=False)
    cli = pinsandbox.cli.main
    assert cli(["data", "import", "--sandbox", "alice", "--pins", str(tmp_path / "items.csv"),
                "--events", str(tmp_path / "ratings.csv")]) == 0
    catalog = load_catalog(sandbox)
    assert set(catalog.pins["pin_id"]) == set(pins["item_id"]) and len(catalog.events) == len(ratings)
    by_rating = pd.Series(catalog.events["action"].to_numpy(), index=catalog.events.set_index(["pinner_id", "pin_id"]).index)
    want = {1: "impression", 2: "closeup", 3: "click", 4: "save", 5: "save"}  # place on 1..5: 0, .25, .5, .75, 1
    got = by_rating.reindex(pd.MultiIndex.from_arrays([ratings["user_id"], ratings["item_id"]]))
    assert got.tolist() == ratings["rating"].map(want).tolist()

    out = tmp_path / "recs.csv"
    assert cli(["recommend", "--sandbox", "alice", "--k", "5", "--out", str(out)]) == 0
    recs = pd.read_csv(out, dtype=str)
    assert list(recs.columns) == ["pinner_id", "rank", "pin_id"] and (recs.groupby("pinner_id").size() == 5).all()
    assert set(recs["pin_id"]) <= set(pins["item_id"]) and recs["pinner_id"].nunique() > 30


def test_a_ratings_log_with_bad_ratings_or_clashing_names_is_refused(sandbox, tmp_path):
    pins = pd.DataFrame({"item_id": ["a", "b"], "title": ["A", "B"]})
    bad = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["a", "b"], "rating": ["5", "great"], "timestamp": [1, 2]})
    with pytest.raises(InvalidInput, match=r"ratings at row 2 are not numbers \(e.g. 'great'\)"):
        import_catalog(sandbox, pins=pins, events=bad, progress=False)
    both = bad.assign(rating=[5, 4], pinner_id=["u", "v"])
    with pytest.raises(InvalidInput, match="has both 'user_id' and 'pinner_id'"):
        import_catalog(sandbox, pins=pins, events=both, progress=False)
    neither = bad.drop(columns="rating")
    with pytest.raises(InvalidInput, match="missing column 'action'.*or a numeric 'rating' column"):
        import_catalog(sandbox, pins=pins, events=neither, progress=False)
    _nothing_written(sandbox)
