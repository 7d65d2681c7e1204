"""`pinsandbox lab`: a real JupyterLab server whose kernels run under the sandbox's isolation."""

import pytest

import pinsandbox
from pinsandbox import settings
from pinsandbox.lab import LabProcess
from pinsandbox.sandbox import isolation


@pytest.fixture
def lab(sandboxes_root):
    if not isolation.bwrap_works():
        pytest.skip("bubblewrap unavailable: the lab's kernel isolation is tested under bwrap")
    pinsandbox.create("bob").path("secret.txt").write_text("bob's secret")
    with LabProcess("alice", create=True, timeout_s=60) as server:
        yield server, pinsandbox.open_sandbox("alice")


def test_lab_kernel_is_confined_to_the_sandbox(lab):
    server, alice = lab
    assert (alice.root / "notebooks" / "README.md").exists()  # tutorials copied in
    specs = server.api("GET", "/api/kernelspecs")
    assert list(specs["kernelspecs"]) == ["pinsandbox"]  # no unconfined native kernel on offer
    kernel = server.api("POST", "/api/kernels", {"name": "pinsandbox"})
    out = server.execute(kernel["id"], "import os, pinsandbox; print(pinsandbox.current_sandbox().owner, os.getcwd())")
    assert out.split()[0] == "alice"
    bob_secret = alice.root.parent / "bob" / "secret.txt"
    assert server.execute(kernel["id"], f"print(open({str(bob_secret)!r}).read())").startswith("FileNotFoundError")
    repo_file = settings.CODE_ROOT / "escaped-from-lab"
    assert "Read-only file system" in server.execute(kernel["id"], f"open({str(repo_file)!r}, 'w')")
    assert not repo_file.exists()
    out = server.execute(kernel["id"], "import socket; socket.create_connection(('127.0.0.1', 1), timeout=3)")
    assert out.startswith("ConnectionRefusedError")
    server.api("DELETE", f"/api/kernels/{kernel['id']}")


def test_tutorials_never_overwrite_edits(sandboxes_root):
    from pinsandbox.lab import copy_tutorials

    sb = pinsandbox.create("alice")
    first = copy_tutorials(sb)
    assert "README.md" in first
    (sb.root / "notebooks" / "README.md").write_text("my notes")
    assert copy_tutorials(sb) == []
    assert (sb.root / "notebooks" / "README.md").read_text() == "my notes"
