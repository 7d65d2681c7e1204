"""SandboxSpawner: each login's JupyterLab in that person's sandbox, under bubblewrap, as their own identity.

The hub owns the mapping: login `alice` (already checked against the sandbox-name pattern by the
authenticator) is sandbox `alice`, created on first login. The lab gets the same confinement as `pinsandbox
lab`'s kernels (isolation.command: the sandbox read-write, code and environment read-only, other sandboxes
hidden, private /tmp, own PID and network namespaces, rlimits) — but here the whole single-user server runs
inside, since it serves files from the sandbox and must not see anything else. Its only way out is the two
Unix sockets of relay.py, to the hub's API and from the proxy. Started as root, it drops to the login's uid
(identity.py). Labs die with the hub (parent-death signal on bubblewrap), so there is no state to keep.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.spawner import Spawner
from jupyterhub.utils import random_port
from traitlets import Integer, Unicode

import pinsandbox
from pinsandbox.hub import cgroup, identity, relay
from pinsandbox.lab import KERNEL_NAME, copy_tutorials
from pinsandbox.sandbox import isolation

PR_SET_PDEATHSIG = 1
_RUNTIME_ROOT: list[Path] = []


def runtime_root() -> Path:
    """One private folder per hub process for the labs' sockets and Jupyter config: short (a Unix socket
    path must stay under ~107 bytes) and made by mkdtemp (mode 700, never a name someone could plant)."""
    if not _RUNTIME_ROOT:
        _RUNTIME_ROOT.append(Path(tempfile.mkdtemp(prefix="pinsandbox-hub-")))
        atexit.register(shutil.rmtree, _RUNTIME_ROOT[0], True)  # the labs are gone by then
    return _RUNTIME_ROOT[0]


def _before_exec(memory_cgroup: Path | None):
    """Runs in the child before exec: into the lab's memory cgroup (everything it starts stays there), and
    if the hub dies, so does bubblewrap, and with it the whole lab."""

    def preexec():
        if memory_cgroup is not None:
            cgroup.enter(memory_cgroup)
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    return preexec


class SandboxSpawner(Spawner):
    state_dir = Unicode(config=True, help="The hub's state folder (identities, lab logs).")
    max_processes = Integer(512, config=True, help="Processes and threads a lab's identity may run (RLIMIT_NPROC).")

    proc: subprocess.Popen | None = None
    memory_cgroup: Path | None = None
    _relays: list = []

    def _env_keep(self, key: str) -> bool:
        return key.startswith(("JUPYTERHUB_", "JPY_")) or key in ("MEM_LIMIT",)

    def _prepare(self):
        """Filesystem work before a start (in a thread): the sandbox, its tutorials, the identity, the lab's
        private runtime folder and its Jupyter config."""
        owner = self.user.name
        sb = pinsandbox.create(owner, isolation="bwrap", exist_ok=True)  # InvalidInput on a bad name
        for sub in ("home", "tmp", "notebooks"):
            sb.path(sub).mkdir(exist_ok=True)
        copy_tutorials(sb)
        ident = identity.assign(Path(self.state_dir), owner)
        runtime = runtime_root() / owner
        shutil.rmtree(runtime, ignore_errors=True)
        (runtime / "config" / "labconfig").mkdir(parents=True)
        (runtime / "data" / "kernels" / KERNEL_NAME).mkdir(parents=True)
        (runtime / "jupyter").mkdir()
        config = {
            "ServerApp": {"root_dir": str(sb.root), "terminals_enabled": False,
                          "jpserver_extensions": {"pinsandbox.hub.busy": True}},
            "KernelSpecManager": {"ensure_native_kernel": False, "allowed_kernelspecs": [KERNEL_NAME]},
            "MappingKernelManager": {"default_kernel_name": KERNEL_NAME},
        }  # fmt: skip
        (runtime / "config" / "jupyter_server_config.json").write_text(json.dumps(config, indent=1))
        no_news = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}  # no phone-home
        (runtime / "config" / "labconfig" / "page_config.json").write_text(json.dumps(no_news))
        # Already inside the sandbox: the kernel is plain Python, confined with the server that starts it.
        spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": f"pinsandbox ({owner})", "language": "python", "interrupt_mode": "message"}  # fmt: skip
        (runtime / "data" / "kernels" / KERNEL_NAME / "kernel.json").write_text(json.dumps(spec, indent=1))
        runtime.chmod(0o700)
        identity.hand_over(sb.root, ident)
        identity.hand_over(runtime, ident)
        return sb, ident, runtime

    async def start(self):
        sb, ident, runtime = await asyncio.to_thread(self._prepare)
        self.ip = "127.0.0.1"
        self.port = random_port()
        hub_port = urlparse(self.hub.api_url).port
        self._relays = [
            await relay.tcp_to_unix(self.port, str(runtime / "lab.sock")),  # proxy → lab
            await relay.unix_to_tcp(str(runtime / "hub.sock"), hub_port, mode=0o666),  # lab → hub API
        ]
        env = isolation.environment(sb, {k: v for k, v in self.get_env().items() if self._env_keep(k)})
        env.update(JUPYTER_CONFIG_DIR=str(runtime / "config"), JUPYTER_DATA_DIR=str(runtime / "data"),
                   JUPYTER_PATH=str(runtime / "data"), JUPYTER_RUNTIME_DIR=str(runtime / "jupyter"))  # fmt: skip
        inner = [sys.executable, "-m", "pinsandbox.hub.inside", "--hub-port", str(hub_port),
                 "--lab-port", str(self.port), "--runtime", str(runtime), "--", *self.get_args()]  # fmt: skip
        # Memory: the whole lab under one cgroup limit where the machine allows (a hog is OOM-killed); each
        # process's address space then gets twice that as a backstop, else the limit itself (a MemoryError).
        memory = int(self.mem_limit or sb.limits.memory_gb * 2**30)
        self.memory_cgroup = cgroup.create(f"pinsandbox-hub-{os.getpid()}-{sb.owner}", memory)
        cmd = isolation.command(sb, inner, "bwrap", shared_dirs=(runtime,), read_only=(sb.root / "sandbox.toml",),
                                identity=ident, memory_bytes=memory * (2 if self.memory_cgroup else 1),
                                max_processes=self.max_processes if ident else None)  # fmt: skip
        logs = Path(self.state_dir) / "logs"
        logs.mkdir(exist_ok=True)
        with open(logs / f"{sb.owner}.log", "ab") as log:
            # Popen on the hub's main thread: the parent-death signal follows the thread that forked.
            self.proc = subprocess.Popen(cmd, env=env, cwd=sb.root, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_before_exec(self.memory_cgroup))  # fmt: skip
        self.log.info("lab for %s: sandbox %s, uid %s, pid %s, memory %s MiB (%s)", self.user.name, sb.root,
                      ident and ident[0], self.proc.pid, memory >> 20,
                      f"cgroup {self.memory_cgroup}" if self.memory_cgroup else "per process: no cgroup here")  # fmt: skip
        return f"http://127.0.0.1:{self.port}"

    async def poll(self):
        if self.proc is None:
            return 0
        status = self.proc.poll()
        if status is not None:
            self._close_relays()
            cgroup.remove(self.memory_cgroup)
        return status

    async def stop(self, now=False):
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)  # bubblewrap; the sandbox's PID namespace dies with it
            try:
                await asyncio.to_thread(self.proc.wait, 0 if now else 10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                await asyncio.to_thread(self.proc.wait)
        self.proc = None
        self._close_relays()
        for _ in range(20):  # the lab's processes vanish a moment after bubblewrap; only then can the cgroup go
            if not cgroup.remove(self.memory_cgroup):
                break
            await asyncio.sleep(0.1)
        self.memory_cgroup = None
        shutil.rmtree(runtime_root() / self.user.name, ignore_errors=True)

    def _close_relays(self):
        for server in self._relays:
            server.close()
        self._relays = []

    # No get_state/load_state of our own: a lab never outlives the hub that started it, so there is nothing to
    # find again after a restart (poll() then says "not running" and the hub forgets the server).
