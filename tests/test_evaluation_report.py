"""The side-by-side report and the generated results pages read typed results: the declared metric keys of each
stage's latest `ok` run and the evaluation artifact. Runs here are small fabricated run records (one copies the
executed notebook of a real run of tests/notebooks/plot.ipynb, for its figures), not the stage notebooks."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from pinsandbox.evaluation import ABConfig, EvaluationConfig, compare
from pinsandbox.evaluation.headlines import HEADLINES, ReportError
from pinsandbox.stages import NOTEBOOKS
from tests.test_evaluation import outcomes

VALUES = {"catalog.pins": 300, "swap.flops_ratio": 21.5, "swap.ttft_original_s": 2.4, "swap.ttft_swapped_s": 0.12,
          "serving.homefeed_p99_ms": 7.5, "serving.errors": 0, "finetune.gain_vs_original_ci95": [0.01, 0.2],
          "embeddings.hit_rate@10.off-the-shelf": 0.2, "embeddings.hit_rate@10.proprietary": 0.3}


def fake_run(sb, stage, when="20261201-000000", metrics=None, drop=(), state="ok", notebook_from=None):
    """A run record of `stage`'s notebook with every declared figure (minus `drop`), as the runner leaves it."""
    nb = NOTEBOOKS[stage]
    run = sb.runs_dir / f"{when}-{nb}-ab12"
    run.mkdir(parents=True)
    if metrics is None:
        metrics = {h.key: VALUES.get(h.key, 0.5) for h in HEADLINES[stage] if not h.optional and h.key not in drop}
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "params.yaml").write_text(yaml.safe_dump({"seed": 0, "n": 3}))
    (run / "status").write_text(json.dumps({"state": state}))
    (run / "env.json").write_text(json.dumps({"notebook": nb, "started": f"{when[:4]}-{when[4:6]}-{when[6:8]}T00:00:00+00:00",
                                              "git_commit": "0123456789abcdef0123", "host": "testhost", "python": "3.11.7",
                                              "versions": {"torch": "2.13.0"}, "isolation": "process", "duration_s": 1.0}))
    if notebook_from is not None:
        shutil.copyfile(notebook_from, run / "notebook.ipynb")
    return run.name


def publish_evaluation(sb, run_id=None, monkeypatch=None):
    """An `evaluation/results` artifact with known tables (as run_evaluation publishes it)."""
    cfg = EvaluationConfig(ab=ABConfig(bootstrap=300))
    ab = compare(outcomes(1.0), "off-the-shelf", "blueprint", cfg.ab)
    gold = pd.DataFrame([{"variant": v, "task": t, "precision@10": 0.1, "recall@10": r, "ndcg@10": r, "hit_rate@10": 0.5,
                          "queries": 40} for t in ("homefeed", "item-to-item")
                         for v, r in (("off-the-shelf", 0.1), ("proprietary", 0.15), ("blueprint", 0.2))])
    if run_id and monkeypatch is not None:
        monkeypatch.setenv("PINSANDBOX_RUN_ID", run_id)
    with sb.artifacts.write("evaluation", "results", config=cfg) as w:
        gold.to_parquet(w.path / "gold.parquet", index=False)
        outcomes(1.0).to_parquet(w.path / "ab_outcomes.parquet", index=False)
        ab.to_parquet(w.path / "ab.parquet", index=False)
        (w.path / "variants.json").write_text(json.dumps({"off-the-shelf": "generic", "proprietary": "ours",
                                                          "blueprint": "ours + taste graph"}))
    if monkeypatch is not None:
        monkeypatch.delenv("PINSANDBOX_RUN_ID", raising=False)
    return sb.artifacts.current_id("evaluation", "results")


def notebook_images(sb, run_id):
    from pinsandbox.evaluation.results import notebook_images
    from pinsandbox.runs.records import get_run

    return notebook_images(get_run(sb, run_id))


@pytest.fixture(scope="module")
def plot_notebook(tmp_path_factory):
    """The executed notebook of a real run of tests/notebooks/plot.ipynb: two PNG figures."""
    import os

    import pinsandbox
    from pinsandbox.runs.runner import run_notebook
    from tests.conftest import TEST_NOTEBOOKS

    root = tmp_path_factory.mktemp("plotrun")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PINSANDBOX_ROOT", str(root))
        sb = pinsandbox.create("plots")
        record = run_notebook(TEST_NOTEBOOKS / "plot.ipynb", sb, {"points": 5}, isolation_mode="process", quiet=True)
        assert record.state == "ok", record.status
        os.environ.pop("PINSANDBOX_RUN_DIR", None)
    return record.path / "notebook.ipynb"


def test_report_of_a_sandbox_that_ran_nothing_says_which_notebook_to_run(world):
    from pinsandbox.evaluation import build_report

    text = build_report(world)
    assert "No evaluation yet" in text and "06_evaluation_ab.ipynb" in text
    for nb in NOTEBOOKS.values():
        assert f"pinsandbox run notebooks/{nb}.ipynb --sandbox world" in text


def test_report_reads_declared_keys_and_names_their_runs(world, monkeypatch):
    from pinsandbox.evaluation import build_report

    runs = {stage: fake_run(world, stage, when=f"2026120{i + 1}-000000") for i, stage in enumerate(HEADLINES)}
    fake_run(world, "tastegraph", when="20261209-000000", state="failed", metrics={})  # a failed run is not read
    eval_run = fake_run(world, "evaluation", when="20261210-000000", metrics={})
    artifact = publish_evaluation(world, eval_run, monkeypatch)
    text = build_report(world)
    assert "## At a glance" in text and "## Accuracy — gold sets" in text and "## Engagement — A/B simulation" in text
    assert "| cost | FLOPs per Navigator request (vision swap, 448², 8 pins) | 1× | 21.5× fewer | run " + runs["swap"] in text
    assert f"| latency | homefeed p99 under load (serving notebook) | — | 8 ms | run {runs['serving']} |" in text
    assert f"{artifact} (run {eval_run})" in text and "| engagement | saves per pinner (A/B) |" in text
    assert "| homefeed ndcg@10 (gold set) | 0.100 | 0.200 (+100%) |" in text
    for stage, run_id in runs.items():
        assert f"### {stage} — {NOTEBOOKS[stage]}, run {run_id}" in text
    assert "| homefeed p99 (ms) | serving.homefeed_p99_ms | 7.5 |" in text
    assert "| gain over the original, 95% CI | finetune.gain_vs_original_ci95 | [0.01, 0.2] |" in text
    assert "No figures recorded yet" not in text and "No evaluation yet" not in text


def test_a_run_without_a_declared_key_is_an_error_naming_key_and_notebook(world, capsys):
    import pinsandbox.cli
    from pinsandbox.evaluation import build_report

    fake_run(world, "catalog")
    run = fake_run(world, "tastegraph", drop=("tastegraph.ndcg@10.ease",))
    with pytest.raises(ReportError, match=rf"run {run} of notebooks/04_taste_graph.ipynb recorded no "
                                          r"'tastegraph.ndcg@10.ease': re-run notebooks/04_taste_graph.ipynb"):
        build_report(world)
    assert pinsandbox.cli.main(["report", "--sandbox", "world"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tastegraph.ndcg@10.ease" in err and "Traceback" not in err
    fake_run(world, "tastegraph", when="20261202-000000")  # a newer complete run: the report is whole again
    assert "tastegraph.ndcg@10.ease" in build_report(world)


def test_results_pages_with_figures_history_and_index(world, monkeypatch, tmp_path, plot_notebook, capsys):
    import pinsandbox.cli
    from pinsandbox import bench
    from pinsandbox.evaluation import write_results

    monkeypatch.setattr(bench, "REPORTS", tmp_path / "no-bench-reports")  # the machine's own bench reports stay out
    cat = fake_run(world, "catalog", notebook_from=plot_notebook)
    srv = fake_run(world, "serving", when="20261202-000000")
    ev = fake_run(world, "evaluation", when="20261203-000000", notebook_from=plot_notebook, metrics={})
    publish_evaluation(world, ev, monkeypatch)
    out = tmp_path / "results"
    pages = write_results(world, out)
    assert sorted(pages) == ["catalog", "evaluation", "history", "index", "serving"]
    catalog = (out / "catalog.md").read_text()
    assert f"Run `{cat}` of `notebooks/00_catalog.ipynb`" in catalog and "git commit `0123456789abcdef0123`" in catalog
    assert "machine: testhost, Python 3.11.7, torch 2.13.0, process isolation" in catalog
    assert "| pins | catalog.pins | 300 |" in catalog and "| seed | 0 |" in catalog
    assert "![catalog figure 1](img/catalog-1.png)" in catalog and "![catalog figure 2](img/catalog-2.png)" in catalog
    n = len(notebook_images(world, cat))  # the plot notebook's figures (≥ 2: its line and its bars)
    assert n >= 2 and sorted(p.name for p in (out / "img").iterdir()) == sorted(
        [f"catalog-{i}.png" for i in range(1, n + 1)] + [f"evaluation-{i}.png" for i in range(1, n + 1)])
    assert (out / "img" / "catalog-1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "(this run drew no figures)" in (out / "serving.md").read_text()
    evaluation = (out / "evaluation.md").read_text()
    assert "### Accuracy — gold sets" in evaluation and "evaluation.ab.saves.verdict" in evaluation
    index = (out / "index.md").read_text()
    assert "## At a glance" in index and "[catalog.md](catalog.md)" in index and f"run {srv}" in index
    assert "no figures yet: its artifacts exist but no notebook run recorded its figures: run `notebooks/04_taste_graph.ipynb`" in index  # the world fitted it outside a notebook
    assert "no figures yet: run `notebooks/02_vision_layer_swap.ipynb`" in index  # the world never swapped
    history = (out / "history.md").read_text().splitlines()
    assert [line for line in history if line.startswith("- ")] == [
        line for line in history if line.startswith("- 2026-12-0")] and len([h for h in history if h.startswith("- ")]) == 3
    assert any(f"catalog · run {cat} · commit `0123456789ab` · testhost · catalog.pins=300" in h for h in history)

    # again, through the CLI, after one more run: pages are rewritten, history gains that run only
    new = fake_run(world, "catalog", when="20261204-000000")
    assert pinsandbox.cli.main(["report", "--sandbox", "world", "--results", str(out)]) == 0
    assert "results:" in capsys.readouterr().err
    lines = [h for h in (out / "history.md").read_text().splitlines() if h.startswith("- ")]
    assert len(lines) == 4 and f"run {new}" in lines[-1]
    assert not list((out / "img").glob("catalog-*.png"))  # the newer catalog run drew nothing
    assert "(this run drew no figures)" in (out / "catalog.md").read_text()


def test_readme_block_is_generated_from_the_runs_and_nothing_else_changes(world, tmp_path, capsys):
    import pinsandbox.cli

    for stage, when in (("swap", "20261201-000000"), ("serving", "20261202-000000")):
        fake_run(world, stage, when=when)
    readme = tmp_path / "README.md"
    readme.write_text("# intro\n\n<!-- results:at-a-glance -->\nold text\n<!-- /results:at-a-glance -->\n\nrest\n")
    out = tmp_path / "results"
    assert pinsandbox.cli.main(["report", "--sandbox", "world", "--results", str(out), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# intro\n\n<!-- results:at-a-glance -->\n") and text.endswith("<!-- /results:at-a-glance -->\n\nrest\n")
    assert "old text" not in text and "21.5× fewer" in text and f"[{out}/index.md]" in text  # swap.flops_ratio's row
    readme.write_text("no markers here\n")
    assert pinsandbox.cli.main(["report", "--sandbox", "world", "--results", str(out), "--readme", str(readme)]) == 2
    assert "has no at-a-glance block" in capsys.readouterr().err and readme.read_text() == "no markers here\n"
