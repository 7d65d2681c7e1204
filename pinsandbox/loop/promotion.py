"""Champion and challenger: promote the gated challenger, roll back, and the append-only promotion log.

The champion is what serving and evaluation read: `tastegraph/taste-graph` (and `embeddings/proprietary` when the
challenger came with refreshed vectors; a full retrain's also `embeddings/encoder` and `vlm/navigator-lora`). A
retrain publishes the challenger beside it (`tastegraph/challenger`, `embeddings/proprietary-challenger`,
`embeddings/encoder-challenger`, `vlm/navigator-challenger`) and its verdict (`loop/verdict`). Promotion first archives the champion as
`loop/champion-NNNN-<role>` (one name per promotion), then publishes the challenger's files as the champion's
next version: each swap is the artifact store's atomic link swap. Rollback publishes the archived files back.
The archives of the last `ARCHIVES_KEPT` promotions not rolled back are kept, so that many rollbacks in a row
are possible; older ones are deleted after each promotion (the log still names them). Every decision is one JSON line in `<sandbox>/loop/promotions.jsonl`, appended and fsynced,
never rewritten.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil

from pinsandbox.errors import InvalidInput, NotFound

# role -> the artifact serving and the next stages read; a full retrain's challenger has all four
CHAMPION = {"tastegraph": ("tastegraph", "taste-graph"), "vectors": ("embeddings", "proprietary"),
            "encoder": ("embeddings", "encoder"), "navigator": ("vlm", "navigator-lora")}
LOG = "loop/promotions.jsonl"
ARCHIVES_KEPT = 10  # promotions whose previous champion stays archived: how far back rollbacks can go
_STANDARD = {"id", "stage", "name", "created", "run_id", "params", "inputs", "files"}


@contextlib.contextmanager
def _locked(sb, shared: bool = False):
    """One promotion or rollback at a time per sandbox; `shared`: readers that must not see one half-done."""
    path = sb.path("loop/.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def settled(sb):
    """Held while reading the champion's artifacts (serving's swap): no promotion or rollback runs meanwhile, so
    the taste graph and the vectors read are the same champion's."""
    return _locked(sb, shared=True)


def promotion_log(sandbox=None) -> list[dict]:
    """Every entry of the sandbox's promotion log, oldest first (promote, rollback, refused)."""
    from pinsandbox.sandbox import resolve

    path = resolve(sandbox).path(LOG)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _append(sb, entry: dict) -> dict:
    entry = {"seq": len(promotion_log(sb)) + 1, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
             "run_id": os.environ.get("PINSANDBOX_RUN_ID"), **entry}
    path = sb.path(LOG)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def _copy(sb, art, stage: str, name: str, metadata: dict | None = None) -> str:
    """Publish `art`'s files (config included) as a new version of `<stage>/<name>`, its manifest's own keys and
    `metadata` added; returns its id."""
    with sb.artifacts.write(stage, name, params=art.manifest.get("params"), inputs=[art.id]) as w:
        for item in art.path.iterdir():
            if item.name == "manifest.json":
                continue
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, w.path / item.name)
        w.metadata.update({k: v for k, v in art.manifest.items() if k not in _STANDARD})
        w.metadata.update(metadata or {})
    return sb.artifacts.current_id(stage, name)


def _read_id(sb, artifact_id: str):
    """The artifact `artifact_id` if it is still the current version of its name."""
    stage, rest = artifact_id.split("/", 1)
    name = rest.split("@", 1)[0]
    if sb.artifacts.current_id(stage, name) != artifact_id:
        raise InvalidInput(f"{artifact_id} is no longer the current {stage}/{name} (a newer retrain replaced it): "
                           "run `pinsandbox retrain` again")
    return sb.artifacts.read(stage, name)


def log_refusal(sb, verdict_id: str, verdict: dict) -> dict:
    with _locked(sb):
        return _append(sb, {"action": "refused", "verdict": verdict_id, "challenger": verdict.get("challenger"),
                            "champion": verdict.get("champion"), "reasons": verdict.get("reasons", [])})


def promote(sandbox=None, *, force: bool = False) -> dict:
    """Promote the current challenger (the one `loop/verdict` judged) to champion; returns the log entry.

    Refused (InvalidInput, nothing changed) when there is no verdict, the gate refused it (unless `force`), the
    challenger was already promoted, or a newer retrain replaced it."""
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    if not sb.artifacts.exists("loop", "verdict"):
        raise NotFound(f"sandbox {sb.owner!r} has no challenger to promote: run `pinsandbox retrain --sandbox {sb.owner}` first")
    with _locked(sb):
        verdict_art = sb.artifacts.read("loop", "verdict")
        verdict = json.loads(verdict_art.file("verdict.json").read_text())
        if any(e["action"] == "promote" and e["verdict"] == verdict_art.id for e in promotion_log(sb)):
            raise InvalidInput(f"the challenger of {verdict_art.id} is already promoted: run `pinsandbox retrain` for a new one")
        if not verdict["passed"] and not force:
            raise InvalidInput("the gate refused this challenger (" + "; ".join(verdict["reasons"]) + "): retrain on "
                               "newer data, or pass --force to promote it anyway")
        challengers = {role: _read_id(sb, aid) for role, aid in verdict["challenger"].items()}
        seq = len(promotion_log(sb)) + 1
        before, archived, after = {}, {}, {}
        for role, art in challengers.items():
            stage, name = CHAMPION[role]
            if sb.artifacts.exists(stage, name):
                current = sb.artifacts.read(stage, name)
                before[role] = current.id
                archived[role] = _copy(sb, current, "loop", f"champion-{seq:04d}-{role}")
            # the taste graph holds the logged events up to this sequence number: serving replays only later ones
            extra = {"event_log_seq": verdict.get("event_log_seq", 0)} if role == "tastegraph" else None
            after[role] = _copy(sb, art, stage, name, extra)
        entry = _append(sb, {"action": "promote", "verdict": verdict_art.id, "forced": bool(force and not verdict["passed"]),
                             "champion_before": before, "archived": archived, "champion_after": after,
                             "reasons": verdict["reasons"], "gain": verdict["gain"], "interval": verdict["interval"]})
        _prune_archives(sb)
        return entry


def _live_promotions(log: list[dict]) -> list[dict]:
    """Promotions not rolled back, oldest first: the stack a rollback pops from."""
    undone = {e["undoes"] for e in log if e["action"] == "rollback"}
    return [e for e in log if e["action"] == "promote" and e["seq"] not in undone]


def _prune_archives(sb) -> list[str]:
    """Delete the archives no rollback can reach any more (all but the last ARCHIVES_KEPT live promotions');
    returns the archive names deleted."""
    keep = {f"champion-{e['seq']:04d}-" for e in _live_promotions(promotion_log(sb))[-ARCHIVES_KEPT:]}
    loop_dir = sb.artifacts.root / "loop"
    names = {p.name.split("@", 1)[0] for p in loop_dir.glob("champion-*")} if loop_dir.exists() else set()
    gone = sorted(n for n in names if not any(n.startswith(k) for k in keep))
    for name in gone:
        (loop_dir / name).unlink(missing_ok=True)  # the link first: a reader never follows it into a half-deleted folder
        for version in loop_dir.glob(f"{name}@*"):
            shutil.rmtree(version, ignore_errors=True)
    return gone


def rollback(sandbox=None) -> dict:
    """Go back to the champion before the latest promotion not yet rolled back; returns the log entry."""
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    with _locked(sb):
        live = _live_promotions(promotion_log(sb))
        if not live:
            raise InvalidInput(f"sandbox {sb.owner!r} has no promotion to roll back (see loop/promotions.jsonl)")
        last = live[-1]
        if not last["archived"]:
            raise InvalidInput(f"promotion {last['seq']} replaced no earlier champion: there is nothing to go back to")
        if not all(sb.artifacts.exists("loop", aid.split("/", 1)[1].split("@", 1)[0]) for aid in last["archived"].values()):
            raise InvalidInput(f"the champion before promotion {last['seq']} is no longer archived (only the last "
                               f"{ARCHIVES_KEPT} promotions' are kept): promote an earlier challenger again instead")
        restored = {}
        for role, aid in last["archived"].items():
            stage, name = CHAMPION[role]
            restored[role] = _copy(sb, sb.artifacts.read("loop", aid.split("/", 1)[1].split("@", 1)[0]), stage, name)
        return _append(sb, {"action": "rollback", "undoes": last["seq"], "champion_after": restored,
                            "restored_from": last["archived"], "reasons": [f"rollback of promotion {last['seq']}"]})
