"""Time moves on (#18): `data advance` continues Pinworld deterministically; `data import --append` grows an
imported catalog, validated like an import and all or nothing."""

import hashlib

import pandas as pd
import pytest
from PIL import Image

import pinsandbox
import pinsandbox.cli
from pinsandbox.catalog import (
    CatalogConfig,
    advance_catalog,
    append_catalog,
    import_catalog,
    load_catalog,
    run_catalog,
)
from pinsandbox.errors import InvalidInput

SMALL = dict(n_pins=200, n_pinners=60, seed=5, image_size=64, n_navigator_requests=40)


def _digests(sb) -> dict:
    out = {}
    for name in ("pinworld", "pinworld-truth"):
        art = sb.artifacts.read("catalog", name)
        for rel in art.manifest["files"]:
            out[f"{name}/{rel}"] = hashlib.sha256(art.file(rel).read_bytes()).hexdigest()
    return out


def test_advance_continues_pinworld_deterministically_with_a_new_held_out_window(sandbox):
    before = run_catalog(sandbox, CatalogConfig(**SMALL), progress=False).catalog
    end = before.events["ts"].max()
    first = advance_catalog(sandbox, 7, progress=False)
    cat, truth = first.catalog, first.truth
    b = pinsandbox.create("bob")  # the same seed and the same advance, the advance through the CLI
    run_catalog(b, CatalogConfig(**SMALL), progress=False)
    assert pinsandbox.cli.main(["data", "advance", "--sandbox", "bob", "--days", "7"]) == 0
    assert sandbox.artifacts.read("catalog", "pinworld").config().advances == (7,)
    mine = _digests(sandbox)
    assert mine == _digests(b) and sum(k.endswith(".png") for k in mine) == len(cat.pins)
    c = pinsandbox.create("carol")  # …and generated at once from the advanced config, without the advance
    run_catalog(c, CatalogConfig(**SMALL, advances=(7,)), progress=False)
    assert _digests(c) == mine

    # the past is unchanged; the new window starts where the old one ended and is the held-out part
    pd.testing.assert_frame_equal(cat.events.iloc[:len(before.events)].reset_index(drop=True),
                                  before.events.reset_index(drop=True))
    assert cat.cutoff == pd.Timestamp("2025-04-06", tz="UTC") and cat.cutoff > end
    new = cat.test_events()
    assert len(new) > 500 and new["ts"].max() < cat.cutoff + pd.Timedelta(days=7)
    assert len(cat.train_events()) == len(before.events)
    # new pins are published during the window and engaged with; every pinner can keep engaging
    fresh = cat.pins.iloc[len(before.pins):]
    assert len(fresh) == round(200 * 0.35 * 7 / 90)  # the first window's rate of new pins per day
    assert (fresh["created_at"] >= cat.cutoff).all() and set(fresh["pin_id"]).isdisjoint(before.pins["pin_id"])
    assert new["pin_id"].isin(fresh["pin_id"]).any()
    assert cat.image_path(fresh["pin_id"].iloc[0]).is_file()
    # the new window's own gold sets: held-out engagement after the new cutoff only
    gold = truth.gold_homefeed.merge(new[new["action"] != "impression"], on=["pinner_id", "pin_id"], how="left",
                                     indicator=True)
    assert len(truth.gold_homefeed) > 50 and (gold["_merge"] == "both").groupby(
        [gold["pinner_id"], gold["pin_id"]]).any().all()
    # taste keeps drifting: interests are stated per window, and some pinner moves style in the new one
    last = truth.pinner_interests[truth.pinner_interests["to_ts"] > cat.cutoff]
    assert last["from_ts"].min() >= cat.cutoff and (last["from_ts"] > cat.cutoff).any()

    # a second advance extends the first: same prefix, later cutoff
    again = advance_catalog(sandbox, 3, progress=False).catalog
    pd.testing.assert_frame_equal(again.events.iloc[:len(cat.events)].reset_index(drop=True),
                                  cat.events.reset_index(drop=True))
    assert again.cutoff == cat.cutoff + pd.Timedelta(days=7) and len(again.pins) > len(cat.pins)


def test_advance_is_refused_for_bad_days_and_for_imported_catalogs(sandbox, tmp_path, capsys):
    assert pinsandbox.cli.main(["data", "advance", "--sandbox", "alice", "--days", "3"]) == 2
    assert "no catalog yet" in capsys.readouterr().err
    run_catalog(sandbox, CatalogConfig(**{**SMALL, "render_images": False}), progress=False)
    current = sandbox.artifacts.current_id("catalog", "pinworld")
    assert pinsandbox.cli.main(["data", "advance", "--sandbox", "alice", "--days", "0"]) == 2
    assert "between 1 and 365" in capsys.readouterr().err
    assert sandbox.artifacts.current_id("catalog", "pinworld") == current
    pins, events = _mine(tmp_path)
    import_catalog(sandbox, pins, events, images=tmp_path, progress=False)
    with pytest.raises(InvalidInput, match="data import --sandbox alice --append"):
        advance_catalog(sandbox, 7, progress=False)


def _mine(d):
    Image.new("RGB", (16, 16), (200, 10, 10)).save(d / "a.png")
    pd.DataFrame({"pin_id": ["p1", "p2", "p3"], "title": ["Red lamp", "Green rug", "Text pin"],
                  "image": ["a.png", None, None], "price": [19.5, 80, 5]}).to_csv(d / "pins.csv", index=False)
    pd.DataFrame({"pinner_id": ["u1", "u1", "u2", "u2", "u1"], "pin_id": ["p1", "p2", "p1", "p3", "p3"],
                  "action": ["impression", "save", "click", "closeup", "click"],
                  "ts": ["2025-01-01T10:00:00Z", "2025-01-02T11:00:00Z", "2025-01-03T00:00:00Z",
                         "2025-01-04T00:00:00Z", "2025-01-05T00:00:00Z"]}).to_csv(d / "events.csv", index=False)
    return d / "pins.csv", d / "events.csv"


def test_append_grows_an_imported_catalog_and_holds_out_the_new_events(sandbox, tmp_path):
    pins, events = _mine(tmp_path)
    first = import_catalog(sandbox, pins, events, images=tmp_path, progress=False)
    new = tmp_path / "new"
    new.mkdir()
    Image.new("RGB", (16, 16), (10, 10, 200)).save(new / "d.png")
    pd.DataFrame({"pin_id": ["p4"], "title": ["Blue vase"], "image": ["d.png"]}).to_csv(new / "pins.csv", index=False)
    pd.DataFrame({"pinner_id": ["u3", "u1", "u2"], "pin_id": ["p4", "p1", "p4"],
                  "action": ["save", "click", "impression"],
                  "ts": ["2025-01-07T00:00:00Z", "2025-01-06T00:00:00Z", "2025-01-08T00:00:00Z"]}
                 ).to_csv(new / "events.csv", index=False)
    assert pinsandbox.cli.main(["data", "import", "--sandbox", "alice", "--append", "--pins", str(new / "pins.csv"),
                                "--events", str(new / "events.csv"), "--images", str(new)]) == 0
    cat = load_catalog(sandbox)
    assert cat.artifact_id != first.artifact_id and cat.pins["pin_id"].tolist() == ["p1", "p2", "p3", "p4"]
    assert len(cat.events) == 8 and cat.cutoff == pd.Timestamp("2025-01-06", tz="UTC")
    assert len(cat.test_events()) == 3 and len(cat.train_events()) == 5
    assert cat.image_path("p4").is_file() and cat.image_path("p1").is_file()
    # events alone (no pins file) append too
    pd.DataFrame({"pinner_id": ["u9"], "pin_id": ["p2"], "action": ["save"], "ts": ["2025-01-09T00:00:00Z"]}
                 ).to_csv(new / "more.csv", index=False)
    assert len(append_catalog(sandbox, events=new / "more.csv", progress=False).events) == 9


def test_a_bad_append_is_refused_whole_with_every_problem_and_nothing_written(sandbox, tmp_path, capsys):
    pins, events = _mine(tmp_path)
    import_catalog(sandbox, pins, events, images=tmp_path, progress=False)
    current = sandbox.artifacts.current_id("catalog", "imported")
    pd.DataFrame({"pin_id": ["p2", "p5"], "title": ["again", "new"]}).to_csv(tmp_path / "p.csv", index=False)
    pd.DataFrame({"pinner_id": ["u1", "u1", "u2"], "pin_id": ["p5", "p9", "p1"], "action": ["save", "save", "click"],
                  "ts": ["2025-01-06T00:00:00Z", "2025-01-06T00:00:00Z", "2024-12-31T00:00:00Z"]}
                 ).to_csv(tmp_path / "e.csv", index=False)
    code = pinsandbox.cli.main(["data", "import", "--sandbox", "alice", "--append", "--pins", str(tmp_path / "p.csv"),
                                "--events", str(tmp_path / "e.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "3 problem(s)" in err and "nothing was written" in err
    assert "'p2' at row 1 is already in the catalog" in err and "'p9'" in err and "before the catalog's last event" in err
    assert sandbox.artifacts.current_id("catalog", "imported") == current
    run_catalog(sandbox, CatalogConfig(**{**SMALL, "render_images": False}), progress=False)
    with pytest.raises(InvalidInput, match="data advance"):
        append_catalog(sandbox, events=tmp_path / "e.csv", progress=False)
