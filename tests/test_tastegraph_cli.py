"""`pinsandbox recommend` and `pinsandbox.tastegraph.recommend` on an imported, text-only catalog."""

import pandas as pd
import pytest

import pinsandbox.cli
from pinsandbox.errors import InvalidInput
from pinsandbox.tastegraph.api import recommend
from pinsandbox.tastegraph.lightgcn import GNNConfig
from pinsandbox.tastegraph.model import TasteGraphConfig
from pinsandbox.tastegraph.synthetic import make_world


@pytest.fixture
def imported(sandbox):
    from pinsandbox.catalog import import_catalog

    w = make_world(n_pins=120, n_pinners=25, n_events=1500, n_styles=4, seed=3)
    pins = pd.DataFrame({"pin_id": w.pin_ids, "title": [f"pin {i}" for i in range(len(w.pin_ids))], "description": ""})
    events = w.events.copy()
    events["ts"] = events["ts"].map(lambda t: t.isoformat())
    import_catalog(sandbox, pins=pins, events=events, progress=False)  # text only: no images, no vectors
    return sandbox


@pytest.fixture
def cli(monkeypatch):
    return pinsandbox.cli.main


def test_python_api_gives_top_k_per_pinner_on_a_text_only_catalog(imported):
    table = recommend(imported, k=5, config=TasteGraphConfig(gnn=GNNConfig(dim=8, epochs=2)))
    assert list(table.columns) == ["pinner_id", "rank", "pin_id"]
    assert (table.groupby("pinner_id").size() == 5).all()
    assert table["pinner_id"].nunique() == 25
    assert (table.groupby("pinner_id")["rank"].apply(list) == [[1, 2, 3, 4, 5]] * 25).all()


def test_cli_writes_csv_and_refuses_bad_arguments(imported, cli, tmp_path, capsys):
    out = tmp_path / "recs.csv"
    assert cli(["recommend", "--sandbox", "alice", "--before", "2026-02-15T00:00Z", "--k", "3", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["pinner_id", "rank", "pin_id"] and table["rank"].max() == 3
    assert "wrote" in capsys.readouterr().out

    assert cli(["recommend", "--sandbox", "alice", "--k", "3", "--out", str(tmp_path / "recs.txt")]) == 2
    assert "use a .csv or .parquet" in capsys.readouterr().err
    assert cli(["recommend", "--sandbox", "alice", "--before", "1990-01-01", "--k", "3", "--out", str(out)]) == 2
    assert "no events before" in capsys.readouterr().err
    assert cli(["recommend", "--sandbox", "alice", "--before", "yesterday-ish", "--k", "3", "--out", str(out)]) == 2
    assert "is not a time" in capsys.readouterr().err
    assert cli(["recommend", "--sandbox", "nobody", "--k", "3", "--out", str(out)]) == 2
    assert "no sandbox 'nobody'" in capsys.readouterr().err


def test_k_must_be_positive(imported):
    with pytest.raises(InvalidInput, match="k must be at least 1"):
        recommend(imported, k=0)
