"""notebooks/04_taste_graph.ipynb runs end to end through papermill at smoke size and records its headline figures."""

import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "04_taste_graph.ipynb"


def test_notebook_runs_at_smoke_size_and_records_metrics(sandbox, tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    from pinsandbox.catalog import generate_pinworld
    from pinsandbox.runs.presets import preset_params

    generate_pinworld(sandbox, n_pins=300, n_pinners=60, seed=0, progress=False, image_size=64)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    monkeypatch.setenv("PINSANDBOX_RUN_DIR", str(run_dir))  # record() writes metrics.json here, as in a real run
    papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "out.ipynb"), parameters=preset_params(NOTEBOOK.stem, "smoke"),
                               cwd=str(tmp_path), progress_bar=False, kernel_name="python3")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("comparison", "tastegraph_ndcg@10", "best_baseline_ndcg@10", "beats_every_baseline_on_ndcg",
                "batch_ndcg@10", "realtime_ndcg@10", "realtime_beats_batch", "drift_new_style_share", "snapshot"):
        assert key in metrics, key
    assert set(metrics["comparison"]) >= {"popularity", "itemknn", "ease", "tastegraph"}
    assert metrics["snapshot"].startswith("tastegraph/taste-graph@")
    assert sandbox.artifacts.exists("tastegraph", "taste-graph")
