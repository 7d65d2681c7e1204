"""Every test gets its own sandboxes root, so tests never touch the repo's sandboxes/ or each other.

`world` is the one shared demo world: a tiny Pinworld with every stage's artifacts, built once per test
session through the stages' entry points; each test that asks for it gets its own copy.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# The notebooks under tests/notebooks are run by the tests themselves (some fail on purpose); nbval must not.
collect_ignore_glob = ["notebooks/*.ipynb"]

TEST_NOTEBOOKS = Path(__file__).parent / "notebooks"


@pytest.fixture(autouse=True)
def sandboxes_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "sandboxes"
    monkeypatch.setenv("PINSANDBOX_ROOT", str(root))
    monkeypatch.delenv("PINSANDBOX_SANDBOX", raising=False)
    monkeypatch.delenv("PINSANDBOX_RUN_DIR", raising=False)
    monkeypatch.delenv("PINSANDBOX_RUN_ID", raising=False)
    return root


@pytest.fixture
def sandbox(sandboxes_root):
    import pinsandbox

    sb = pinsandbox.create("alice")
    os.environ["PINSANDBOX_SANDBOX"] = str(sb.root)
    yield sb
    os.environ.pop("PINSANDBOX_SANDBOX", None)


_WORLD: dict = {}


def build_world() -> Path:
    """A tiny Pinworld with every stage's artifacts, built once per test session through the stages' entry points
    (the copy each test gets is its own)."""
    if "root" in _WORLD:
        return _WORLD["root"]
    import torch

    import pinsandbox
    from pinsandbox.catalog import CatalogConfig, run_catalog
    from pinsandbox.embeddings import EmbeddingsConfig, TrainConfig, run_embeddings
    from pinsandbox.serving import text_index
    from pinsandbox.tastegraph import GNNConfig, TasteGraphConfig, TasteGraphStageConfig, run_tastegraph
    from pinsandbox.vlm import FinetuneConfig, NavigatorConfig, run_finetune

    torch.set_num_threads(2)
    root = Path(tempfile.mkdtemp(prefix="pinsandbox-world-"))
    before = os.environ.get("PINSANDBOX_ROOT")
    os.environ["PINSANDBOX_ROOT"] = str(root)
    try:
        sb = pinsandbox.create("world")
        result = run_catalog(sb, CatalogConfig(n_pins=300, n_pinners=80, seed=0, render_images=False,
                                               n_navigator_requests=60), progress=False)
        run_embeddings(sb, EmbeddingsConfig(dim=32, train=TrainConfig(steps=15, batch_size=64, n_negatives=32)),
                       progress=False)
        text_index(sb, result.catalog, progress=False)  # Navigator's MiniLM index, cached in the sandbox
        run_finetune(sb, NavigatorConfig(preset="tiny", n_candidates=8, max_test=4, ceiling_steps=0,
                                         finetune=FinetuneConfig(steps=4, batch_size=2)), progress=False)
        run_tastegraph(sb, TasteGraphStageConfig(model=TasteGraphConfig(gnn=GNNConfig(dim=16, epochs=2))),
                       progress=False)  # the snapshot the server starts from
    finally:
        os.environ["PINSANDBOX_ROOT"] = before or ""
    _WORLD["root"] = root / "world"
    atexit.register(shutil.rmtree, root, True)
    return _WORLD["root"]


@pytest.fixture(scope="session")
def world_root() -> Path:
    """The shared world's folder (read-only: copy it, as `world` does, before changing anything)."""
    return build_world()


@pytest.fixture
def world(sandboxes_root, world_root):
    """A fresh copy of the tiny world as sandbox `world` under this test's own root, set as current."""
    import pinsandbox

    sandboxes_root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(world_root, sandboxes_root / "world", symlinks=True)
    sb = pinsandbox.open_sandbox("world")
    os.environ["PINSANDBOX_SANDBOX"] = str(sb.root)
    yield sb
    os.environ.pop("PINSANDBOX_SANDBOX", None)
