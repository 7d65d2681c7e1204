"""Every test gets its own sandboxes root, so tests never touch the repo's sandboxes/ or each other."""

import os
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
