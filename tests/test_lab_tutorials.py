"""The tutorial path: what `pinsandbox lab` copies in, the course README, notebook hygiene, and the quick start
run headless by the real runner (papermill), where explorers must leave a static summary instead of widgets."""

import json
import re

import pytest

import pinsandbox
from pinsandbox import settings
from pinsandbox.lab import KERNEL_NAME, QUICKSTART, copy_tutorials, prepare, tutorial_files

NOTEBOOKS = sorted(settings.NOTEBOOKS_DIR.glob("*.ipynb"))


def test_lab_copies_the_quickstart_on_the_sandbox_kernel_and_never_overwrites(sandboxes_root):
    sb = pinsandbox.create("newcomer")
    copied = copy_tutorials(sb)
    assert copied[0] == QUICKSTART and "README.md" in copied
    assert sorted(copied) == sorted(p.name for p in tutorial_files())
    nb = json.loads((sb.root / "notebooks" / QUICKSTART).read_text())
    assert nb["metadata"]["kernelspec"]["name"] == KERNEL_NAME  # opens on the confined kernel, no dialog
    original = json.loads((settings.NOTEBOOKS_DIR / QUICKSTART).read_text())
    assert [c["source"] for c in nb["cells"]] == [c["source"] for c in original["cells"]]
    (sb.root / "notebooks" / QUICKSTART).write_text("my edits")
    assert copy_tutorials(sb) == []
    assert (sb.root / "notebooks" / QUICKSTART).read_text() == "my edits"
    assert not list((sb.root / "notebooks").glob(".*.tmp"))


def test_lab_config_keeps_the_sandbox_quiet(sandboxes_root):
    sb = pinsandbox.create("newcomer")
    argv, env, url = prepare(sb, "process", port=8123, token="t0k")
    assert url == "http://127.0.0.1:8123/lab/tree/notebooks?token=t0k"
    page = json.loads((sb.root / ".jupyter" / "config" / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"]["@jupyterlab/apputils-extension:announcements"] is True  # no news fetch
    assert env["JUPYTER_CONFIG_DIR"] == str(sb.root / ".jupyter" / "config")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebooks_are_clean_and_parameterised(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", []), "the first code cell must be tagged `parameters`"
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "commit notebooks without outputs"
    assert (settings.NOTEBOOKS_DIR / "smoke" / f"{path.stem}.yaml").exists(), "tiny parameters for the tests"


def test_course_readme_orders_every_notebook():
    readme = (settings.NOTEBOOKS_DIR / "README.md").read_text()
    order = re.findall(r"^### \d+ · `([\w]+\.ipynb)`", readme, flags=re.M)  # the course, one heading per notebook
    assert order[0] == QUICKSTART
    for path in NOTEBOOKS:
        assert path.name in order, f"{path.name} is missing from the course in notebooks/README.md"
    numbered = [n for n in order if n[0].isdigit()]
    assert numbered == sorted(numbered) and len(numbered) >= 7  # 00 … 06, in order
    for figure in ("20×", "90%", "+30%"):
        assert figure in readme  # Pinterest's reported figures, to compare against


def test_quickstart_headless_under_the_runner_shows_summaries_not_widgets(sandbox):
    """Also: a sandbox that already has a catalog keeps it (the quick start reads it instead of replacing it)."""
    from pinsandbox.catalog import generate_pinworld
    from pinsandbox.runs.presets import preset_params
    from pinsandbox.runs.runner import run_notebook

    mine = generate_pinworld(sandbox, n_pins=60, n_pinners=20, seed=1, image_size=64, progress=False)
    run = run_notebook(settings.NOTEBOOKS_DIR / QUICKSTART, sandbox, preset_params("quickstart", "smoke"), quiet=True)
    assert run.state == "ok", run.status
    assert mine.artifact_id in run.inputs and sandbox.artifacts.current_id("catalog", "pinworld") == mine.artifact_id
    k = preset_params("quickstart", "smoke")["k"]
    metrics = run.metrics
    assert metrics["quickstart_pins"] == 60
    assert 0 <= metrics[f"popularity_recall@{k}"] <= 1 and 0 <= metrics[f"taste_graph_recall@{k}"] <= 1
    assert metrics["homefeed_pins_changed_by_one_save"] >= 0
    outputs = [o for c in json.loads((run.path / "notebook.ipynb").read_text())["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    texts = ["".join(o.get("data", {}).get("text/plain", "")) for o in outputs]
    htmls = ["".join(o.get("data", {}).get("text/html", "")) for o in outputs]
    assert any(t.startswith("PinGallery:") for t in texts) and any(t.startswith("PinnerExplorer:") for t in texts)
    assert any("pin-gallery" in h and "data:image/png;base64," in h for h in htmls)  # the static grid keeps images
    widget_views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
                    and "rendering pins" not in "".join(o["data"].get("text/plain", ""))]  # tqdm's bar is fine
    assert not widget_views
