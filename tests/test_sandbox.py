"""Sandboxes: names, confined paths, quota, lock, atomic verified artifacts."""

import json
import os
import threading
import time

import pytest

import pinsandbox
from pinsandbox.errors import CorruptArtifact, InvalidInput, NotFound, QuotaExceeded, SandboxBusy, SandboxEscape
from pinsandbox.sandbox import Limits


def test_create_list_open_delete(sandboxes_root):
    sb = pinsandbox.create("alice")
    assert (sb.root / "sandbox.toml").is_file()
    assert {p.name for p in sb.root.iterdir()} >= {"artifacts", "runs", "notebooks", "home", "tmp", "sandbox.toml"}
    assert len(sb.api_token) >= 24
    assert [s.owner for s in pinsandbox.list_sandboxes()] == ["alice"]
    assert pinsandbox.open_sandbox("alice").root == sb.root
    with pytest.raises(InvalidInput, match="already exists"):
        pinsandbox.create("alice")
    pinsandbox.delete("alice")
    assert pinsandbox.list_sandboxes() == []
    assert list(sandboxes_root.iterdir()) == []


@pytest.mark.parametrize("name", ["../x", "Bob", "", "a" * 100, "x/y", "1abc", "-a", "a b"])
def test_invalid_owner_names_create_nothing(sandboxes_root, name):
    with pytest.raises(InvalidInput, match="invalid sandbox name"):
        pinsandbox.create(name)
    assert not sandboxes_root.exists() or list(sandboxes_root.iterdir()) == []


def test_open_unknown_sandbox():
    with pytest.raises(NotFound, match="pinsandbox sandbox create bob"):
        pinsandbox.open_sandbox("bob")


def test_paths_are_confined(sandbox, sandboxes_root, tmp_path):
    assert sandbox.path("catalog/pins.parquet") == sandbox.root / "catalog" / "pins.parquet"
    assert sandbox.path("runs/../artifacts") == sandbox.root / "artifacts"
    with pytest.raises(SandboxEscape, match="outside sandbox"):
        sandbox.path("../bob/secret")
    with pytest.raises(SandboxEscape, match="absolute path"):
        sandbox.path("/etc/passwd")
    outside = tmp_path / "outside"
    outside.mkdir()
    (sandbox.root / "escape").symlink_to(outside)
    with pytest.raises(SandboxEscape, match="outside sandbox"):
        sandbox.path("escape/file")
    (sandbox.root / "inside").symlink_to(sandbox.root / "runs")
    assert sandbox.path("inside") == sandbox.root / "runs"


def test_artifact_roundtrip_and_manifest(sandbox):
    with sandbox.artifacts.write("demo", "table", params={"n": 3}, inputs=["catalog/x@1"]) as w:
        (w.path / "a.txt").write_text("hello")
        (w.path / "sub").mkdir()
        (w.path / "sub" / "b.bin").write_bytes(b"\x00" * 10)
    art = sandbox.artifacts.read("demo", "table")
    assert art.id.startswith("demo/table@")
    assert art.file("a.txt").read_text() == "hello"
    assert art.params == {"n": 3}
    assert art.manifest["inputs"] == ["catalog/x@1"]
    assert set(art.manifest["files"]) == {"a.txt", "sub/b.bin"}
    assert art.manifest["files"]["sub/b.bin"]["bytes"] == 10
    assert [a["id"] for a in sandbox.artifacts.list()] == [art.id]


def test_tampered_artifact_is_refused(sandbox):
    with sandbox.artifacts.write("demo", "table") as w:
        (w.path / "a.txt").write_text("hello")
    art = sandbox.artifacts.read("demo", "table")
    os.chmod(art.file("a.txt"), 0o644)
    art.file("a.txt").write_text("HELLO")
    with pytest.raises(CorruptArtifact, match="a.txt is missing or changed"):
        sandbox.artifacts.read("demo", "table")


def test_failed_write_keeps_previous_version(sandbox):
    with sandbox.artifacts.write("demo", "table") as w:
        (w.path / "a.txt").write_text("v1")
    first = sandbox.artifacts.read("demo", "table")
    with pytest.raises(RuntimeError):
        with sandbox.artifacts.write("demo", "table") as w:
            (w.path / "a.txt").write_text("half of v2")
            raise RuntimeError("crash while writing")
    again = sandbox.artifacts.read("demo", "table")
    assert again.id == first.id and again.file("a.txt").read_text() == "v1"
    assert not list((sandbox.root / "artifacts" / "demo").glob(".staging-*"))


def test_a_write_in_progress_survives_another_write_to_the_same_stage(sandbox):
    """The sweep of abandoned staging folders (see the SIGKILL test in test_runs) spares a live writer's."""
    with sandbox.artifacts.write("demo", "slow") as slow:
        (slow.path / "a.txt").write_text("slow")
        with sandbox.artifacts.write("demo", "fast") as fast:
            (fast.path / "a.txt").write_text("fast")
        assert (slow.path / "a.txt").exists()
    assert sandbox.artifacts.read("demo", "slow").file("a.txt").read_text() == "slow"
    assert sandbox.artifacts.read("demo", "fast").file("a.txt").read_text() == "fast"


def test_versions_pruned_and_link_at(sandbox):
    ids = []
    for i in range(5):
        with sandbox.artifacts.write("catalog", "pinworld", link_at="catalog") as w:
            (w.path / "pins.txt").write_text(str(i))
        ids.append(sandbox.artifacts.read("catalog", "pinworld").id)
        time.sleep(0.01)
    assert len(set(ids)) == 5
    assert (sandbox.catalog_dir / "pins.txt").read_text() == "4"
    versions = list((sandbox.root / "artifacts" / "catalog").glob("pinworld@*"))
    assert len(versions) == 3


def test_unknown_artifact(sandbox):
    with pytest.raises(NotFound, match="run the stage that makes it"):
        sandbox.artifacts.read("embeddings", "proprietary")


def test_quota_exceeded_publishes_nothing(sandboxes_root):
    sb = pinsandbox.create("tiny", limits=Limits(quota_gb=0.000_01))  # 10 kB
    with pytest.raises(QuotaExceeded, match="over its .* quota"):
        with sb.artifacts.write("demo", "big") as w:
            (w.path / "big.bin").write_bytes(b"x" * 50_000)
    assert not sb.artifacts.exists("demo", "big")
    assert not list((sb.root / "artifacts" / "demo").iterdir())


def test_lock_refuses_or_waits(sandbox, capsys):
    with sandbox.lock("run one"):
        with pytest.raises(SandboxBusy, match="busy with run one"):
            with sandbox.lock("run two", wait=False):
                pass
    order = []

    def second():
        with sandbox.lock("run two"):
            order.append("two")

    with sandbox.lock("run one"):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.3)
        order.append("one")
    t.join(5)
    assert order == ["one", "two"]
    assert "waiting" in capsys.readouterr().err


def test_record_outside_and_inside_a_run(tmp_path, monkeypatch, capsys):
    assert pinsandbox.record("x", 1.23456789) == 1.23456789
    assert pinsandbox.recorded()["x"] == 1.23457
    monkeypatch.setenv("PINSANDBOX_RUN_DIR", str(tmp_path))
    import numpy as np

    pinsandbox.record("hit_rate@10", np.float32(0.5))
    pinsandbox.record("table", {"a": [1, 2.0]})
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"hit_rate@10": 0.5, "table": {"a": [1, 2.0]}}
    assert "hit_rate@10 = 0.5" in capsys.readouterr().out
