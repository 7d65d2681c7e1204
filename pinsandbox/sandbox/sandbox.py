"""A sandbox is one person's world: `<root>/<owner>/`. Nothing outside it is written on their behalf."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import shutil
import sys
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import filelock
import tomli_w

from pinsandbox import settings
from pinsandbox.errors import InvalidInput, NotFound, QuotaExceeded, SandboxBusy, SandboxEscape

OWNER_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
LAYOUT = ("artifacts", "runs", "notebooks", "home", "tmp")


@dataclass
class Limits:
    """Resource limits applied to code run on the sandbox's behalf (see isolation.py)."""

    quota_gb: float = 20.0  # disk used by the whole sandbox
    memory_gb: float = 12.0  # address space of each process (RLIMIT_AS)
    cpu_seconds: int = 4 * 3600  # CPU time of each process (RLIMIT_CPU)
    file_size_gb: float = 4.0  # largest single file a process may write (RLIMIT_FSIZE)
    timeout_s: int = 3 * 3600  # wall clock of one notebook run


def validate_owner(owner: str) -> str:
    if not isinstance(owner, str) or not OWNER_RE.match(owner):
        raise InvalidInput(
            f"invalid sandbox name {owner!r}: use 1-32 characters, lowercase letters, digits, '-' or '_', "
            "starting with a letter (e.g. 'alice')"
        )
    return owner


class Sandbox:
    """Handle on one existing sandbox. Get one with `create`, `open_sandbox` or `current_sandbox`."""

    def __init__(self, root: Path):
        self.root = root
        self.owner = root.name
        self._config = tomllib.loads((root / "sandbox.toml").read_text())
        self.limits = Limits(**self._config.get("limits", {}))

    def __repr__(self) -> str:
        return f"Sandbox({self.owner!r}, {str(self.root)!r})"

    # -- settings ---------------------------------------------------------------------------------
    @property
    def isolation(self) -> str:
        return self._config.get("isolation", "auto")

    @property
    def api_token(self) -> str:
        return self._config["api_token"]

    @property
    def created(self) -> str:
        return self._config["created"]

    # -- paths ------------------------------------------------------------------------------------
    def path(self, relative: str | os.PathLike = ".") -> Path:
        """Resolve `relative` inside the sandbox; refuse anything that would leave it.

        Absolute paths, `..` that climbs out and symlinks that point outside are all refused.
        """
        rel = Path(relative)
        if rel.is_absolute():
            raise SandboxEscape(f"absolute path {str(rel)!r} refused: give a path relative to sandbox {self.owner!r}")
        resolved = (self.root / rel).resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise SandboxEscape(
                f"path {str(rel)!r} leads outside sandbox {self.owner!r} (to {resolved}): "
                "keep paths inside the sandbox and do not follow symlinks out of it"
            )
        return resolved

    @property
    def catalog_dir(self) -> Path:
        return self.path("catalog")

    @property
    def runs_dir(self) -> Path:
        return self.path("runs")

    @property
    def artifacts(self):
        from pinsandbox.sandbox.artifacts import ArtifactStore

        return ArtifactStore(self)

    # -- disk quota -------------------------------------------------------------------------------
    def disk_usage(self) -> int:
        """Bytes used by regular files in the sandbox (symlinks not followed)."""
        total = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                with contextlib.suppress(OSError):
                    st = os.lstat(os.path.join(dirpath, name))
                    total += st.st_size
        return total

    def check_quota(self, adding_bytes: int = 0) -> None:
        used = self.disk_usage() + adding_bytes
        quota = int(self.limits.quota_gb * 1e9)
        if used > quota:
            raise QuotaExceeded(
                f"sandbox {self.owner!r} uses {used / 1e9:.2f} GB, over its {self.limits.quota_gb:g} GB quota: "
                "delete old runs or artifacts, or raise quota_gb in its sandbox.toml"
            )

    # -- lock ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, holder: str, wait: bool = True):
        """Hold the sandbox's run lock. Waits (saying so on stderr) or raises SandboxBusy if `wait` is False."""
        lock = filelock.FileLock(self.root / ".lock")
        holder_file = self.root / ".lock.holder"
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            current = holder_file.read_text().strip() if holder_file.exists() else "another run"
            if not wait:
                raise SandboxBusy(
                    f"sandbox {self.owner!r} is busy with {current}: wait for it to finish, or run without --no-wait"
                ) from None
            print(f"sandbox {self.owner!r} is busy with {current}; waiting for it to finish…", file=sys.stderr)
            lock.acquire()
        try:
            holder_file.write_text(f"{holder} (pid {os.getpid()})\n")
            yield
        finally:
            holder_file.unlink(missing_ok=True)
            lock.release()


def create(owner: str, *, isolation: str = "auto", limits: Limits | None = None, exist_ok: bool = False) -> Sandbox:
    """Create sandbox `owner` under the sandboxes root (with its API token and limits)."""
    validate_owner(owner)
    if isolation not in ("auto", "bwrap", "process"):
        raise InvalidInput(f"unknown isolation {isolation!r}: use auto, bwrap or process")
    root = settings.sandboxes_root() / owner
    if (root / "sandbox.toml").exists():
        if exist_ok:
            return Sandbox(root)
        raise InvalidInput(f"sandbox {owner!r} already exists at {root}: open it, or delete it first")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = root.parent / f".creating-{owner}-{secrets.token_hex(4)}"
    staging.mkdir()
    for sub in LAYOUT:
        (staging / sub).mkdir()
    config = {
        "owner": owner,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "isolation": isolation,
        "api_token": secrets.token_urlsafe(24),
        "limits": asdict(limits or Limits()),
    }
    (staging / "sandbox.toml").write_text(tomli_w.dumps(config))
    os.chmod(staging / "sandbox.toml", 0o600)  # it holds the API token
    try:
        staging.rename(root)
    except OSError:
        shutil.rmtree(staging)
        if (root / "sandbox.toml").exists() and exist_ok:
            return Sandbox(root)
        raise InvalidInput(f"cannot create sandbox {owner!r}: {root} already exists and is not a sandbox") from None
    return Sandbox(root)


def open_sandbox(owner: str) -> Sandbox:
    validate_owner(owner)
    root = settings.sandboxes_root() / owner
    if not (root / "sandbox.toml").is_file():
        raise NotFound(f"no sandbox {owner!r} under {root.parent}: create it with `pinsandbox sandbox create {owner}`")
    return Sandbox(root)


def list_sandboxes() -> list[Sandbox]:
    base = settings.sandboxes_root()
    if not base.is_dir():
        return []
    return [Sandbox(p) for p in sorted(base.iterdir()) if (p / "sandbox.toml").is_file() and OWNER_RE.match(p.name)]


def delete(owner: str) -> None:
    sb = open_sandbox(owner)
    with sb.lock(f"deleting {owner}", wait=False):
        trash = sb.root.parent / f".deleting-{owner}-{secrets.token_hex(4)}"
        sb.root.rename(trash)  # the name disappears at once; the slow removal happens after
    shutil.rmtree(trash)


def current_sandbox() -> Sandbox:
    """The sandbox a notebook runs for: PINSANDBOX_SANDBOX (set by the runner and by `pinsandbox lab`)."""
    where = os.environ.get("PINSANDBOX_SANDBOX")
    if not where:
        raise NotFound(
            "no current sandbox: run this notebook with `pinsandbox run … --sandbox NAME` or inside `pinsandbox lab`, "
            "or pass a sandbox name explicitly"
        )
    root = Path(where)
    if not (root / "sandbox.toml").is_file():
        raise NotFound(f"PINSANDBOX_SANDBOX={where} is not a sandbox folder")
    return Sandbox(root.resolve())


def resolve(sandbox: Sandbox | str | None) -> Sandbox:
    """Accept a Sandbox, an owner name, or None (the current sandbox) — the API's one way in."""
    if isinstance(sandbox, Sandbox):
        return sandbox
    if sandbox is None:
        return current_sandbox()
    return open_sandbox(sandbox)
