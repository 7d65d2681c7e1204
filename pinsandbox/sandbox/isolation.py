"""Run code on a sandbox's behalf, as isolated as this machine allows.

- `bwrap`: bubblewrap. The sandbox read-write; code, Python environment and the rest of the system
  read-only; every other sandbox hidden; no network (own network namespace, loopback only); private /tmp;
  own PID namespace; plus the `process` limits below.
- `process`: a child process with cwd/HOME/TMPDIR in the sandbox, a scrubbed environment and rlimits
  (address space, CPU seconds, file size); the caller adds a wall-clock timeout. It does NOT stop the code
  from reading other files the user can read, or from using the network — used only where bubblewrap is
  missing, with a warning.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from pinsandbox import settings
from pinsandbox.errors import InvalidInput

MODES = ("bwrap", "process")
# Variables passed through to sandboxed code; everything else (tokens, cloud credentials, …) is dropped.
PASS_ENV = ("LANG", "LC_ALL", "TZ", "TERM", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PINSANDBOX_PRESET")


class IsolationWarning(UserWarning):
    pass


@functools.cache
def bwrap_works() -> bool:
    """bubblewrap is installed and can create namespaces here (it cannot in some containers)."""
    exe = shutil.which("bwrap")
    if not exe:
        return False
    probe = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all", "--die-with-parent", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def choose(sandbox, requested: str | None = None) -> str:
    """The isolation mode to use: the request, else the sandbox's setting, `auto` meaning the strongest available."""
    mode = requested or sandbox.isolation
    if mode not in ("auto", *MODES):
        raise InvalidInput(f"unknown isolation {mode!r}: use bwrap or process")
    if mode == "bwrap" and not bwrap_works():
        raise InvalidInput(
            "isolation 'bwrap' asked for but bubblewrap is missing or cannot create namespaces here: "
            "install it (apt-get install bubblewrap) or use --isolation process"
        )
    if mode == "auto":
        mode = "bwrap" if bwrap_works() else "process"
        if mode == "process":
            warnings.warn(
                "bubblewrap is not available: running with 'process' isolation only (limits and a scrubbed "
                "environment, but other files and the network stay reachable). Install bubblewrap for real isolation.",
                IsolationWarning,
                stacklevel=2,
            )
    return mode


def environment(sandbox, extra: dict | None = None) -> dict:
    """The scrubbed environment sandboxed code sees."""
    home = sandbox.path("home")
    env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        HOME=str(home),
        TMPDIR=str(sandbox.path("tmp")),
        PYTHONPATH=str(settings.CODE_ROOT),  # the same pinsandbox code as the caller
        PYTHONHASHSEED="0",
        PYTHONUNBUFFERED="1",
        MPLCONFIGDIR=str(home / ".config" / "matplotlib"),
        HF_HOME=str(home / ".cache" / "huggingface"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_WAIT_POLICY="PASSIVE",  # idle OpenMP threads sleep instead of spinning: far faster on a busy CPU
        RAY_USAGE_STATS_ENABLED="0",
        PINSANDBOX_ROOT=str(settings.sandboxes_root()),
        PINSANDBOX_SANDBOX=str(sandbox.root),
    )
    env.update(extra or {})
    return env


def command(sandbox, argv: list[str], mode: str, *, chdir: bool = True, shared_dirs: tuple = ()) -> list[str]:
    """`argv` wrapped so that it runs confined to `sandbox` in `mode`; `shared_dirs` stay visible read-write."""
    lim = sandbox.limits
    confine = [
        sys.executable, "-m", "pinsandbox.sandbox.confine",
        "--memory-bytes", str(int(lim.memory_gb * 2**30)),
        "--cpu-seconds", str(int(lim.cpu_seconds)),
        "--file-size-bytes", str(int(lim.file_size_gb * 2**30)),
        "--", *argv,
    ]  # fmt: skip
    if mode == "process":
        return confine
    if mode != "bwrap":
        raise InvalidInput(f"unknown isolation {mode!r}: use bwrap or process")
    root = str(sandbox.root)
    wrap = [
        shutil.which("bwrap"),
        "--ro-bind", "/", "/",
        "--dev", "/dev", "--tmpfs", "/dev/shm", "--proc", "/proc",
        "--tmpfs", "/tmp",
    ]  # fmt: skip
    # /tmp is now private; if the code or the Python environment lives under it, show them again, read-only.
    for keep in {settings.CODE_ROOT, Path(sys.prefix), Path(sys.base_prefix)}:
        if str(keep).startswith("/tmp"):
            wrap += ["--ro-bind", str(keep), str(keep)]
    wrap += ["--tmpfs", str(settings.sandboxes_root()), "--bind", root, root]  # hide every other sandbox
    for shared in shared_dirs:
        wrap += ["--bind", str(shared), str(shared)]
    wrap += ["--unshare-all", "--die-with-parent", "--new-session"]
    if chdir:
        wrap += ["--chdir", root]
    return wrap + confine


def spawn(sandbox, argv: list[str], mode: str, *, env_extra: dict | None = None, stdout=None, stderr=None) -> subprocess.Popen:
    """Start `argv` isolated; the caller waits (with its timeout) and kills the process group if needed."""
    for sub in ("home", "tmp"):
        sandbox.path(sub).mkdir(exist_ok=True)
    return subprocess.Popen(
        command(sandbox, argv, mode),
        env=environment(sandbox, env_extra),
        cwd=sandbox.root,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )
