"""Artifacts: immutable folders of files with a manifest, published atomically.

Layout inside a sandbox::

    artifacts/<stage>/<name>@<version>/   the files + manifest.json (sha256 of each file, run, params, inputs)
    artifacts/<stage>/<name>  ->  <name>@<version>    symlink to the current version, swapped atomically

A writer fills a hidden staging folder; only when it is complete is it renamed into place and the
`<name>` link swapped (rename(2) of a symlink is atomic). A crash at any point leaves the previous
version where readers look.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from pinsandbox.errors import CorruptArtifact, InvalidInput, NotFound

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
KEEP_VERSIONS = 3  # older versions than this are pruned when a new one is published
MANIFEST = "manifest.json"
CONFIG = "config.json"  # the config dataclass that made the artifact, beside its files


@contextlib.contextmanager
def atomic_file(path: Path):
    """Yield a temporary path beside `path`; on clean exit it is renamed onto `path` (rename(2) is atomic), on an
    error it is removed. Readers see the old file or the whole new one, never half of it. The one way every
    single file in a sandbox (run records, metrics, shards, reports) is written; whole artifacts use
    `ArtifactStore.write`."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{secrets.token_hex(4)}{path.suffix}")  # keeps the suffix (np.save, pandas)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_name(kind: str, value: str) -> str:
    if not NAME_RE.match(value or ""):
        raise InvalidInput(f"invalid artifact {kind} {value!r}: use lowercase letters, digits, '.', '_' or '-'")
    return value


@dataclass(frozen=True)
class Artifact:
    """One published, verified artifact version."""

    id: str  # "<stage>/<name>@<version>"
    path: Path
    manifest: dict

    @property
    def params(self) -> dict:
        return self.manifest.get("params", {})

    def config(self):
        """The config dataclass this artifact was made with (saved by `ArtifactStore.write(config=...)`)."""
        from pinsandbox.config import load_config

        if CONFIG not in self.manifest["files"]:
            raise NotFound(f"artifact {self.id} was published without a config: re-run the stage that makes it")
        saved = json.loads(self.file(CONFIG).read_text())
        return load_config(saved["class"], saved["values"])

    def file(self, relative: str) -> Path:
        if relative not in self.manifest["files"]:
            raise NotFound(f"artifact {self.id} has no file {relative!r} (it has: {', '.join(sorted(self.manifest['files']))})")
        return self.path / relative


class ArtifactWriter:
    """Yielded by `ArtifactStore.write`: put files under `.path`; they are published on clean exit."""

    def __init__(self, path: Path):
        self.path = path
        self.metadata: dict = {}  # extra manifest fields, e.g. {"encoder": "..."}


def _remove_abandoned_staging(stage_dir: Path) -> None:
    """Delete staging folders whose writer died (SIGKILL, power loss): nobody holds their lock any more. They
    would otherwise count against the sandbox's quota forever."""
    for staging in stage_dir.glob(".staging-*"):
        try:
            fd = os.open(staging, os.O_RDONLY)
        except FileNotFoundError:  # published or cleaned up meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(staging, ignore_errors=True)
        except BlockingIOError:  # a live writer holds it
            pass
        finally:
            os.close(fd)


class ArtifactStore:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.root = sandbox.path("artifacts")

    @contextlib.contextmanager
    def write(self, stage: str, name: str, *, config=None, params: dict | None = None, inputs: list[str] = (),
              link_at: str | None = None):
        """Write a new version of `<stage>/<name>`; `link_at` also points a sandbox-level link (e.g. `catalog`) at it.

        `config` (the stage's config dataclass) is saved as `config.json` and comes back from `Artifact.config()`;
        its values are also the manifest's `params`, merged with any extra `params`."""
        _check_name("stage", stage)
        _check_name("name", name)
        stage_dir = self.root / stage
        stage_dir.mkdir(parents=True, exist_ok=True)
        staging = stage_dir / f".staging-{name}-{secrets.token_hex(6)}"
        stage_fd = os.open(stage_dir, os.O_RDONLY)
        try:  # under the stage's lock, so a sweep never sees a new staging folder before its writer locks it
            fcntl.flock(stage_fd, fcntl.LOCK_EX)
            _remove_abandoned_staging(stage_dir)
            staging.mkdir()
            # Held while writing; the kernel drops it if the writer is killed, which marks the folder abandoned.
            held = os.open(staging, os.O_RDONLY)
            fcntl.flock(held, fcntl.LOCK_EX)
        finally:
            os.close(stage_fd)
        writer = ArtifactWriter(staging)
        try:
            if config is not None:
                from pinsandbox.config import class_path, config_to_dict

                values = config_to_dict(config)
                (staging / CONFIG).write_text(json.dumps({"class": class_path(type(config)), "values": values}, indent=1))
                params = {**values, **(params or {})}
            yield writer
            self.sandbox.check_quota()
            version = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%f") + "-" + secrets.token_hex(2)  # sorts by time
            files = {}
            for p in sorted(staging.rglob("*")):
                if p.is_symlink():
                    raise InvalidInput(f"artifact {stage}/{name} may not contain symlinks ({p.relative_to(staging)})")
                if p.is_file():
                    files[str(p.relative_to(staging))] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            manifest = {
                "id": f"{stage}/{name}@{version}",
                "stage": stage,
                "name": name,
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "run_id": os.environ.get("PINSANDBOX_RUN_ID"),
                "params": params or {},
                "inputs": list(inputs),
                **writer.metadata,
                "files": files,
            }
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
            final = stage_dir / f"{name}@{version}"
            staging.rename(final)
            _swap_link(stage_dir / name, final.name)
            if link_at:
                _swap_link(self.sandbox.path(".") / link_at, os.path.relpath(final, self.sandbox.root))
            _note_in_run("outputs.json", manifest["id"])
            self._prune(stage, name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            os.close(held)

    def read(self, stage: str, name: str, *, verify: bool = True) -> Artifact:
        """The current version of `<stage>/<name>`, checked against its manifest; recorded as a run input."""
        link = self.root / _check_name("stage", stage) / _check_name("name", name)
        if not link.exists():
            raise NotFound(
                f"sandbox {self.sandbox.owner!r} has no artifact {stage}/{name}: run the stage that makes it first"
            )
        path = self.sandbox.path(link.relative_to(self.sandbox.root))  # refuses a link pointing out
        artifact = load(path, verify=verify)
        _note_in_run("inputs.json", artifact.id)
        return artifact

    def exists(self, stage: str, name: str) -> bool:
        return (self.root / stage / name).exists()

    def current_id(self, stage: str, name: str) -> str | None:
        link = self.root / stage / name
        return f"{stage}/{os.readlink(link)}" if link.is_symlink() else None

    def list(self, stage: str | None = None) -> list[dict]:
        """Current artifacts as dicts: id, stage, name, created, run_id."""
        out = []
        stages = [self.root / stage] if stage else sorted(p for p in self.root.iterdir() if p.is_dir())
        for sdir in stages:
            if not sdir.is_dir():
                continue
            for link in sorted(p for p in sdir.iterdir() if p.is_symlink()):
                m = json.loads((link / MANIFEST).read_text())
                out.append({k: m.get(k) for k in ("id", "stage", "name", "created", "run_id")})
        return out

    def _prune(self, stage: str, name: str) -> None:
        stage_dir = self.root / stage
        current = os.readlink(stage_dir / name)
        versions = sorted(p for p in stage_dir.glob(f"{name}@*") if p.is_dir())
        linked = {current} | _sandbox_links_into(self.sandbox.root, stage_dir)
        for old in versions[:-KEEP_VERSIONS]:
            if old.name not in linked:
                shutil.rmtree(old, ignore_errors=True)


def load(path: Path, *, verify: bool = True) -> Artifact:
    """Load the artifact folder at `path`, checking each file's sha256 when `verify`."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise CorruptArtifact(f"{path} has no {MANIFEST}: it is not a complete artifact; re-run the stage that makes it")
    manifest = json.loads(manifest_path.read_text())
    if verify:
        for rel, info in manifest["files"].items():
            f = path / rel
            if not f.is_file() or sha256_file(f) != info["sha256"]:
                raise CorruptArtifact(
                    f"artifact {manifest['id']}: file {rel} is missing or changed since it was written; "
                    "re-run the stage that makes it"
                )
    return Artifact(manifest["id"], path, manifest)


def _swap_link(link: Path, target: str) -> None:
    tmp = link.with_name(f".{link.name}.link-{secrets.token_hex(4)}")
    os.symlink(target, tmp)
    os.replace(tmp, link)


def _sandbox_links_into(sandbox_root: Path, stage_dir: Path) -> set[str]:
    """Names of versions in `stage_dir` that a sandbox-level link (like `catalog`) points at."""
    names = set()
    for p in sandbox_root.iterdir():
        if p.is_symlink():
            target = (sandbox_root / os.readlink(p)).resolve()
            if target.parent == stage_dir.resolve():
                names.add(target.name)
    return names


def _note_in_run(filename: str, artifact_id: str) -> None:
    """Inside a run, remember which artifact versions it read and wrote (run-all skips unchanged stages)."""
    run_dir = os.environ.get("PINSANDBOX_RUN_DIR")
    if not run_dir:
        return
    path = Path(run_dir) / filename
    seen = json.loads(path.read_text()) if path.exists() else []
    if artifact_id not in seen:
        seen.append(artifact_id)
        write_text_atomic(path, json.dumps(seen, indent=1))
