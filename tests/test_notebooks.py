"""The stage notebooks, each executed once per test session, as `make demo` runs them: `run-all` through the real
runner (papermill under the sandbox's isolation), at the tiny sizes of notebooks/smoke/. The tests read back what
a person would look at: each run's recorded metrics, its executed notebook's figures, and the report.
"""

from __future__ import annotations

import json
import re

import pytest

from pinsandbox.stages import NOTEBOOKS, STAGES

pytestmark = pytest.mark.slow

DRAWS = re.compile(r"\bplt\.|\.plot\(|\.plot\.|\bplots\.|\bviews\.(plot_|taste_map)")  # a cell that draws a figure


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    """run-all --preset smoke in a fresh sandbox: {stage: RunRecord}, plus the sandbox."""
    import pinsandbox

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PINSANDBOX_ROOT", str(tmp_path_factory.mktemp("notebooks")))
        sb = pinsandbox.create("smoke")
        done = pinsandbox.run_all(sb, preset="smoke")
        stems = {stem: record for stem, record, _ in done}
        yield sb, {stage: stems[NOTEBOOKS[stage]] for stage in STAGES}


def executed(record) -> list[dict]:
    return json.loads((record.path / "notebook.ipynb").read_text())["cells"]


def images(cell: dict) -> int:
    return sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_notebook_runs_and_keeps_its_figures(demo_runs, stage):
    _, runs = demo_runs
    record = runs[stage]
    assert record.state == "ok", record.status
    cells = [c for c in executed(record) if c["cell_type"] == "code"]
    drawing = [c for c in cells if DRAWS.search("".join(c["source"]))]
    missing = ["".join(c["source"]).splitlines()[0] for c in drawing if not images(c)]
    assert not missing, f"{NOTEBOOKS[stage]}: cells that draw but saved no image: {missing}"
    assert all(key.split(".", 1)[0] == stage for key in record.metrics), "metric keys are <stage>.<metric>"


def test_catalog_and_embeddings_figures(demo_runs):
    _, runs = demo_runs
    cat, emb = runs["catalog"].metrics, runs["embeddings"].metrics
    assert cat["catalog.pins"] == 300 and cat["catalog.train_events"] > cat["catalog.test_events"] > 0
    assert cat["catalog.events"] == cat["catalog.train_events"] + cat["catalog.test_events"]
    assert sum(v for k, v in cat.items() if k.startswith("catalog.actions.")) == cat["catalog.events"]
    for kind in ("proprietary", "off-the-shelf"):
        assert 0 <= emb[f"embeddings.hit_rate@10.{kind}"] <= 1 and 0 < emb[f"embeddings.ann_recall@10.{kind}"] <= 1
    assert emb["embeddings.precompute_pins_per_s"] > 0


def test_swap_and_finetune_figures(demo_runs):
    _, runs = demo_runs
    swap, tune = runs["swap"].metrics, runs["finetune"].metrics
    assert swap["swap.params_swapped"] < swap["swap.params_original"]
    assert swap["swap.reload_max_abs_diff"] == 0 and swap["swap.flops_ratio"] >= 20 and swap["swap.ttft_ratio"] > 0
    assert 0.9 < swap["swap.compute_reduction"] < 1
    for arm in ("swapped_proprietary", "original", "swapped_off-the-shelf"):
        assert 0 <= tune[f"finetune.recall@10.{arm}"] <= 1
    assert tune["finetune.adapter_reload_max_abs_diff"] < 1e-5
    assert tune["finetune.recall@10.chance"] == 10 / 16 and tune["finetune.held_out_requests"] == 8  # smoke sizes


def test_tastegraph_serving_and_evaluation_figures(demo_runs):
    sb, runs = demo_runs
    tg, srv, ev = runs["tastegraph"].metrics, runs["serving"].metrics, runs["evaluation"].metrics
    for model in ("tastegraph", "ease", "batch", "realtime"):
        assert 0 <= tg[f"tastegraph.ndcg@10.{model}"] <= 1
    assert 0 <= tg["tastegraph.drift_new_style_share"] <= 1
    assert tg["tastegraph.ndcg@10.tastegraph"] > tg["tastegraph.ndcg@10.popularity"]
    assert sb.artifacts.read("tastegraph", "taste-graph").config().gnn.epochs == 2  # the smoke run's config travelled
    assert srv["serving.errors"] == 0 and srv["serving.qps"] > 0 and srv["serving.homefeed_p99_ms"] > 0
    assert 0 <= ev["evaluation.homefeed.ndcg@10.blueprint"] <= 1
    assert ev["evaluation.ab.saves.verdict"] in ("blueprint ahead", "blueprint behind", "no clear difference")
    report = (sb.root / "report.md").read_text()
    assert "## Engagement — A/B simulation" in report and "serving.homefeed_p99_ms" in report
