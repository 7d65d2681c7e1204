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


# The namespaces bwrap makes when it must change uid inside: everything but a user namespace, which would map
# only root and so forbid the switch (and, mapped to root outside, would not hide root's files anyway).
UNSHARE_BUT_USER = ("--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try")


def command(sandbox, argv: list[str], mode: str, *, chdir: bool = True, shared_dirs: tuple = (),
            read_only: tuple = (), identity: tuple[int, int] | None = None, memory_bytes: int | None = None,
            max_processes: int | None = None) -> list[str]:  # fmt: skip
    """`argv` wrapped so that it runs confined to `sandbox` in `mode`; `shared_dirs` stay visible read-write,
    `read_only` paths inside the sandbox are made read-only. `identity` (uid, gid), for a caller running as
    root under bwrap: the command runs as that unprivileged identity. `memory_bytes` overrides the sandbox's
    memory limit; `max_processes` caps the identity's processes and threads."""
    lim = sandbox.limits
    confine = [
        sys.executable, "-m", "pinsandbox.sandbox.confine",
        "--memory-bytes", str(int(memory_bytes or lim.memory_gb * 2**30)),
        "--cpu-seconds", str(int(lim.cpu_seconds)),
        "--file-size-bytes", str(int(lim.file_size_gb * 2**30)),
    ]  # fmt: skip
    if max_processes:
        confine += ["--max-processes", str(int(max_processes))]
    if identity is not None:
        if mode != "bwrap" or os.geteuid() != 0:
            raise InvalidInput("running as another identity needs bwrap isolation started as root")
        confine += ["--uid", str(int(identity[0])), "--gid", str(int(identity[1]))]
    confine += ["--", *argv]
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
    keep = {settings.CODE_ROOT, Path(sys.prefix), Path(sys.base_prefix)}
    # An unprivileged identity cannot pass through folders closed to others (the interpreter may live in
    # /root/.pyenv): hide each such folder behind an empty tmpfs, as /tmp is, and show what is needed again.
    tmpfs = [Path("/tmp")]
    if identity is not None:
        tmpfs += sorted({closed for k in keep if (closed := _closed_ancestor(k)) and closed != Path("/tmp")})
        wrap += [arg for h in tmpfs[1:] for arg in ("--tmpfs", str(h))]

    def mount(how: str, path: Path) -> list[str]:
        # bubblewrap makes the missing folders above a mount point inside a tmpfs mode 700: the identity
        # could not reach its own sandbox through them, so make them 755 first.
        inside = [t for t in tmpfs if path.is_relative_to(t) and path != t]
        top = max(inside, key=lambda t: len(t.parts)) if inside else None
        dirs = [a for a in reversed(path.parents) if top is not None and a.is_relative_to(top) and a != top]
        opened = [arg for a in dirs for arg in ("--perms", "0755", "--dir", str(a))] if identity is not None else []
        return [*opened, how, str(path), str(path)]

    # /tmp is now private; if the code or the Python environment lives under it, show them again, read-only.
    for k in sorted(keep):
        if any(k.is_relative_to(h) for h in tmpfs):
            wrap += mount("--ro-bind", k)
    wrap += mount("--tmpfs", settings.sandboxes_root())[:-1]  # hide every other sandbox…
    tmpfs.append(settings.sandboxes_root())
    wrap += mount("--bind", sandbox.root)  # …but this one
    for shared in shared_dirs:
        wrap += mount("--bind", Path(shared))
    for path in read_only:
        wrap += ["--ro-bind", str(path), str(path)]
    wrap += [*UNSHARE_BUT_USER] if identity is not None else ["--unshare-all"]
    wrap += ["--die-with-parent", "--new-session"]
    if chdir:
        wrap += ["--chdir", root]
    return wrap + confine


def _closed_ancestor(path: Path) -> Path | None:
    """The outermost folder on the way to `path` that others may not pass through (no o+x), if any."""
    for parent in reversed(Path(path).parents):
        if parent != Path("/") and not os.stat(parent).st_mode & 0o001:
            return parent
    return None


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
