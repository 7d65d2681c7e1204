"""A memory cgroup per lab, where the machine lets the hub make one.

rlimits cap each process's address space, but a lab is several processes (server, kernels, their children),
and a hog that stays under its own rlimit can still crowd out everyone else's memory. A cgroup caps the lab as
a whole, and when it is full the kernel's OOM killer ends the biggest process in it — the runaway kernel, which
Jupyter then restarts — while the other labs never notice. cgroup v2 (memory.max) or v1
(memory.limit_in_bytes), made under the hub's own cgroup; where neither is writable (`create` returns None) the
per-process rlimits still hold and a hog gets a MemoryError instead.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def _candidates() -> list[tuple[Path, str]]:
    """(folder to make lab cgroups in, the file holding their memory limit), most modern first."""
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "" and "memory" in (ROOT / "cgroup.controllers").read_text().split():
                found.insert(0, (ROOT / path.lstrip("/"), "memory.max"))  # v2, unified at the root
            elif "memory" in controllers.split(","):
                found.append((ROOT / "memory" / path.lstrip("/"), "memory.limit_in_bytes"))  # v1
    return found


def create(name: str, limit_bytes: int) -> Path | None:
    """A fresh cgroup `name` (`pinsandbox-hub-<hub pid>-<login>`) limited to `limit_bytes`, or None where this
    machine allows none. Empty ones left by hubs that are gone are swept on the way."""
    for parent, limit_file in _candidates():
        _sweep(parent)
        child = parent / name
        try:
            child.mkdir(exist_ok=True)
            (child / limit_file).write_text(str(int(limit_bytes)))
            return child
        except OSError:
            with contextlib.suppress(OSError):
                child.rmdir()
    return None


def _sweep(parent: Path) -> None:
    with contextlib.suppress(OSError):
        for stale in parent.glob("pinsandbox-hub-*-*"):
            hub_pid = stale.name.split("-")[2]
            if hub_pid.isdigit() and not Path(f"/proc/{hub_pid}").exists():
                remove(stale)


def enter(cgroup: Path) -> None:
    """Move the calling process into `cgroup` (called in the child before exec: all it starts stays inside)."""
    (cgroup / "cgroup.procs").write_text(str(os.getpid()))


def remove(cgroup: Path | None) -> bool:
    """Remove a lab's cgroup once its processes are gone; True while it is still there (busy: try again)."""
    if cgroup is None:
        return False
    try:
        cgroup.rmdir()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return False
