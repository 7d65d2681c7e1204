"""`pinsandbox lab`: JupyterLab rooted in a sandbox, its kernels under the sandbox's isolation.

The Jupyter server runs as you; what it starts for the notebook — the kernel — runs through the same
isolation as `pinsandbox run` (bubblewrap or process limits), talking to the server over Unix sockets in
the sandbox (`KernelManager.transport = "ipc"`), since a bwrap'd kernel has no network. Terminals and
kernels other than the sandbox's are switched off: Jupyter's root_dir alone isolates nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from pinsandbox import settings
from pinsandbox.sandbox import isolation
from pinsandbox.sandbox.artifacts import atomic_file
from pinsandbox.sandbox.sandbox import resolve
from pinsandbox.serving.server import free_port

KERNEL_NAME = "pinsandbox"


QUICKSTART = "quickstart.ipynb"


def tutorial_files() -> list[Path]:
    """What a new lab gets: the quick start, the numbered stage notebooks (the course) and its README."""
    nb = settings.NOTEBOOKS_DIR
    return [nb / QUICKSTART, *sorted(nb.glob("[0-9][0-9]_*.ipynb")), nb / "README.md"]


def copy_tutorials(sandbox) -> list[str]:
    """Copy the tutorials into `<sandbox>/notebooks/` — only those not there yet (never overwrite edits).

    Notebooks are switched to the sandbox's kernel on the way, so JupyterLab opens them without asking
    which kernel to use (the only one on offer is the confined `pinsandbox` kernel).
    """
    dest = sandbox.path("notebooks")
    dest.mkdir(exist_ok=True)
    copied = []
    for src in tutorial_files():
        target = dest / src.name
        if not src.exists() or target.exists():
            continue
        with atomic_file(target) as tmp:  # a crash mid-copy never leaves a half notebook that would then never be refreshed
            if src.suffix == ".ipynb":
                nb = json.loads(src.read_text())
                nb.setdefault("metadata", {})["kernelspec"] = {"name": KERNEL_NAME, "display_name": "pinsandbox", "language": "python"}
                tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            else:
                shutil.copyfile(src, tmp)
        copied.append(src.name)
    return copied


def runtime_dir(sandbox) -> Path:
    """Where the server and its kernels meet (connection files, Unix sockets). Short on purpose: a socket
    path must stay under ~107 bytes, which a deep sandboxes root would break. Private to this user."""
    digest = hashlib.sha256(str(sandbox.root).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"pinsandbox-{digest}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def prepare(sandbox, isolation_mode: str | None = None, port: int = 8888, token: str | None = None):
    """Write the sandbox's Jupyter config and kernel spec; return (argv, env, url) to start the server."""
    sb = resolve(sandbox)
    mode = isolation.choose(sb, isolation_mode)
    jupyter = sb.path(".jupyter")
    runtime = runtime_dir(sb)
    for d in (jupyter / "data" / "kernels" / KERNEL_NAME, jupyter / "config", runtime):
        d.mkdir(parents=True, exist_ok=True)
    scrubbed = [f"{k}={v}" for k, v in isolation.environment(sb).items()]
    kernel_argv = isolation.command(sb, [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"], mode,
                                    chdir=False, shared_dirs=(runtime,))  # fmt: skip
    spec = {
        "argv": ["/usr/bin/env", "-i", *scrubbed, *kernel_argv],
        "display_name": f"pinsandbox ({sb.owner}, {mode})",
        "language": "python",
        "interrupt_mode": "message",  # a signal would stop at bubblewrap; a message reaches the kernel
        "metadata": {"pinsandbox": {"sandbox": sb.owner, "isolation": mode}},
    }
    (jupyter / "data" / "kernels" / KERNEL_NAME / "kernel.json").write_text(json.dumps(spec, indent=1))
    config = {
        "ServerApp": {"root_dir": str(sb.root), "terminals_enabled": False, "ip": "127.0.0.1", "port": port,
                      "port_retries": 0, "open_browser": False, "allow_root": os.geteuid() == 0},
        "IdentityProvider": {"token": token or secrets.token_urlsafe(24)},
        "KernelManager": {"transport": "ipc"},
        "KernelSpecManager": {"ensure_native_kernel": False, "allowed_kernelspecs": [KERNEL_NAME]},
        "MappingKernelManager": {"default_kernel_name": KERNEL_NAME},
        "LabApp": {"default_url": "/lab/tree/notebooks"},
    }  # fmt: skip
    (jupyter / "config" / "jupyter_server_config.json").write_text(json.dumps(config, indent=1))
    # No phone-home from a sandbox: the news/update checker would ask a website (and pops up a question).
    (jupyter / "config" / "labconfig").mkdir(exist_ok=True)
    page_config = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
    (jupyter / "config" / "labconfig" / "page_config.json").write_text(json.dumps(page_config, indent=1))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
        "JUPYTER_DATA_DIR": str(jupyter / "data"),
        "JUPYTER_PATH": str(jupyter / "data"),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "PINSANDBOX_SANDBOX": str(sb.root),
    }
    url = f"http://127.0.0.1:{port}/lab/tree/notebooks?token={config['IdentityProvider']['token']}"
    return [sys.executable, "-m", "jupyterlab"], env, url


def start_lab(sandbox, port: int = 8888, isolation_mode: str | None = None):
    """Copy the tutorials in, print the URL and turn this process into JupyterLab (until Ctrl-C)."""
    sb = resolve(sandbox)
    copied = copy_tutorials(sb)
    argv, env, url = prepare(sb, isolation_mode, port)
    if copied:
        print(f"copied {len(copied)} tutorial notebooks into {sb.path('notebooks')}")
    print(f"JupyterLab for sandbox {sb.owner!r}: {url}", flush=True)
    if (sb.path("notebooks") / QUICKSTART).exists():
        print(f"new here? open notebooks/{QUICKSTART} and run all cells (about a minute), then notebooks/README.md", flush=True)
    os.chdir(sb.root)
    os.execve(argv[0], argv, env)  # become the server: signals (Ctrl-C, SIGTERM) reach it directly


def kernel_reply(msg: dict, msg_id: str, out: list[str]) -> bool:
    """Fold one kernel message into `out` (its printed text and errors); True once request `msg_id` is done."""
    if msg.get("parent_header", {}).get("msg_id") != msg_id:
        return False
    if msg["msg_type"] == "stream":
        out.append(msg["content"]["text"])
    elif msg["msg_type"] == "error":
        out.append(f"{msg['content']['ename']}: {msg['content']['evalue']}\n")
    return msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"


class LabProcess:
    """`pinsandbox lab` started as a child process on a free loopback port — for tests, benchmarks and scripts.

        with LabProcess("alice", create=True) as lab:
            lab.api("GET", "/api/kernelspecs")
    """

    def __init__(self, sandbox: str, *, create: bool = False, port: int | None = None, timeout_s: float = 120):
        self.port = port or free_port()
        argv = [sys.executable, "-m", "pinsandbox", "lab", "--sandbox", sandbox, "--port", str(self.port)]
        self.proc = subprocess.Popen(argv + (["--create"] if create else []), stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        try:
            line = next((line for line in self.proc.stdout if "token=" in line), None)
            if line is None:
                raise RuntimeError(f"`pinsandbox lab` printed no URL (exit code {self.proc.poll()})")
            self.url = line.split(": ", 1)[1].strip()
            self.base, self.token = re.match(r"(http://[^/]+)/.*token=(\S+)", self.url).groups()
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def api(self, method: str, path: str, body=None):
        """A call to the Jupyter server's REST API, with the token; the decoded JSON answer."""
        req = urllib.request.Request(f"{self.base}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {self.token}"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def execute(self, kernel_id: str, code: str, timeout_s: float = 60) -> str:
        """Run `code` in a kernel over the server's websocket, as the notebook front end does; its output
        (streams, and `Name: message` for an error) once the kernel is idle again."""
        import asyncio
        import uuid

        from tornado.websocket import websocket_connect

        async def go():
            ws = await websocket_connect(f"{self.base.replace('http', 'ws')}/api/kernels/{kernel_id}/channels?token={self.token}")
            msg_id = uuid.uuid4().hex
            header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "pinsandbox",
                      "session": uuid.uuid4().hex, "version": "5.3"}
            await ws.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "channel": "shell",
                                               "content": {"code": code, "silent": False}}))
            out = []
            while True:
                if kernel_reply(json.loads(await ws.read_message()), msg_id, out):
                    ws.close()
                    return "".join(out)

        return asyncio.run(asyncio.wait_for(go(), timeout_s))

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.time() + timeout_s
        while True:
            try:
                self.api("GET", "/api/status")
                return
            except OSError:
                if time.time() > deadline:
                    raise TimeoutError(f"JupyterLab did not come up within {timeout_s:g} s") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Jupyter asks for confirmation on the first Ctrl-C and shuts down on the second; kill if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            time.sleep(0.2)
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
