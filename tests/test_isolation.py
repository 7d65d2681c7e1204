"""Escape attempts by real notebooks run for sandbox `alice`: each must fail inside the run, and nothing of
bob's or the host's may change. bubblewrap is required here (CI installs it); `process` isolation is tested
for what it does promise: limits, timeout, a scrubbed environment, cwd/HOME/TMPDIR in the sandbox."""

import os
import secrets
import socket
import threading
import warnings
from pathlib import Path

import pytest

import pinsandbox
from pinsandbox import settings
from pinsandbox.runs.runner import run_notebook
from pinsandbox.sandbox import Limits, isolation

ESCAPE = Path(__file__).parent / "notebooks" / "escape.ipynb"


def require_bwrap():
    if not isolation.bwrap_works():
        if os.environ.get("CI"):
            pytest.fail("bubblewrap is missing or cannot create namespaces on CI: .ci/run must install it")
        pytest.skip("bubblewrap unavailable on this machine (apt-get install bubblewrap)")


@pytest.fixture
def alice_and_bob(sandboxes_root):
    alice = pinsandbox.create("alice", isolation="bwrap" if isolation.bwrap_works() else "process",
                              limits=Limits(memory_gb=3))  # fmt: skip
    bob = pinsandbox.create("bob")
    secret = bob.root / "secret.txt"
    secret.write_text("bob's secret")
    return alice, bob, secret


def escape(alice, attempt, target="", port=0, mode="bwrap"):
    return run_notebook(ESCAPE, alice, {"attempt": attempt, "target": str(target), "port": port}, isolation_mode=mode)


def snapshot(root: Path) -> dict:
    return {str(p): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def test_cannot_read_another_sandbox(alice_and_bob):
    require_bwrap()
    alice, bob, secret = alice_and_bob
    before = snapshot(bob.root)
    rec = escape(alice, "read_file", secret)
    assert rec.state == "failed" and rec.status["error"].startswith("FileNotFoundError")
    assert "attempt_succeeded" not in rec.metrics
    assert "bob's secret" not in (rec.path / "notebook.ipynb").read_text()
    assert snapshot(bob.root) == before


@pytest.mark.parametrize("where", ["repo", "home", "bob"])
def test_cannot_write_outside(alice_and_bob, where):
    require_bwrap()
    alice, bob, _ = alice_and_bob
    name = f"escaped-{secrets.token_hex(4)}"
    target = {"repo": settings.CODE_ROOT / name, "home": Path.home() / name, "bob": bob.root / name}[where]
    rec = escape(alice, "write_file", target)
    assert rec.state == "failed"
    assert rec.status["error"].split(":")[0] in {"OSError", "PermissionError", "FileNotFoundError"}
    assert not target.exists()


def test_host_tmp_is_not_shared(alice_and_bob):
    require_bwrap()
    alice, _, _ = alice_and_bob
    marker = Path("/tmp") / f"host-marker-{secrets.token_hex(4)}"
    marker.write_text("host")
    try:
        rec = escape(alice, "read_file", marker)
        assert rec.state == "failed" and rec.status["error"].startswith("FileNotFoundError")
        written = Path("/tmp") / f"written-{secrets.token_hex(4)}"
        rec = escape(alice, "write_file", written)
        assert rec.state == "ok"  # it lands in the run's private /tmp, which vanishes with it…
        assert not written.exists()  # …and never on the host
    finally:
        marker.unlink()


def test_planted_symlink_leads_nowhere(alice_and_bob):
    require_bwrap()
    alice, bob, secret = alice_and_bob
    (alice.root / "notebooks" / "to_bob").symlink_to(bob.root)
    (alice.root / "notebooks" / "to_repo").symlink_to(settings.CODE_ROOT)
    rec = escape(alice, "read_file", alice.root / "notebooks" / "to_bob" / "secret.txt")
    assert rec.state == "failed" and rec.status["error"].startswith("FileNotFoundError")
    target = alice.root / "notebooks" / "to_repo" / f"escaped-{secrets.token_hex(4)}"
    rec = escape(alice, "write_file", target)
    assert rec.state == "failed" and "Read-only file system" in rec.status["error"]
    assert not (settings.CODE_ROOT / target.name).exists()
    assert secret.read_text() == "bob's secret"


def test_no_network(alice_and_bob):
    require_bwrap()
    alice, _, _ = alice_and_bob
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(30)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(_accept(server)), daemon=True).start()
    rec = escape(alice, "tcp", port=port)
    server.close()
    assert rec.state == "failed" and rec.status["error"].startswith("ConnectionRefusedError")
    assert accepted in ([], [None])


def _accept(server):
    try:
        return server.accept()
    except OSError:
        return None


@pytest.mark.parametrize("mode", ["bwrap", "process"])
def test_memory_is_limited(alice_and_bob, mode):
    if mode == "bwrap":
        require_bwrap()
    alice, _, _ = alice_and_bob
    rec = escape(alice, "memory", 8 * 2**30, mode=mode)
    assert rec.state == "failed" and rec.status["error"].startswith("MemoryError")


def test_process_mode_environment_and_limits(alice_and_bob, monkeypatch):
    alice, _, _ = alice_and_bob
    monkeypatch.setenv("PINSANDBOX_TEST_SECRET", "do-not-leak")
    rec = escape(alice, "sleep", 0, mode="process")
    assert rec.state == "ok", rec.status
    m = rec.metrics
    assert m["leaked_secret"] is None
    assert m["home"] == str(alice.root / "home") and m["tmpdir"] == str(alice.root / "tmp")
    assert Path(m["cwd"]).is_relative_to(alice.root)
    assert rec.env["isolation"] == "process"


def test_auto_falls_back_to_process_with_a_warning(alice_and_bob, monkeypatch):
    alice, _, _ = alice_and_bob
    monkeypatch.setattr(isolation, "bwrap_works", lambda: False)
    auto = pinsandbox.create("carol")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert isolation.choose(auto) == "process"
    assert any("bubblewrap is not available" in str(w.message) for w in caught)
    with pytest.raises(pinsandbox.PinsandboxError, match="install it"):
        isolation.choose(auto, "bwrap")
