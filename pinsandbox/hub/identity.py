"""The unprivileged identity each login's lab runs as, and handing its sandbox over to it.

A hub started as root gives every login a uid of its own, above UID_BASE and outside /etc/passwd, recorded once
in `<state>/identities.json` (the hub owns the mapping; no account is created on the host). Distinct uids mean
one person's processes cannot signal or read another's even outside their namespaces, and a lab's kernel is no
longer root: /etc/shadow, other homes and SSH keys stay unreadable. A hub started by an ordinary user runs the
labs as that user (bubblewrap in a user namespace); it has nothing more to drop.
"""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

import filelock

from pinsandbox.sandbox.artifacts import atomic_file

# High enough to be clear of real accounts (1000…), nobody (65534) and the usual /etc/subuid ranges.
UID_BASE = 2_000_000_000


def assign(state_dir: Path, login: str) -> tuple[int, int] | None:
    """(uid, gid) for `login`'s labs — the same one every time — or None when the hub is not root."""
    if os.geteuid() != 0:
        return None
    path = state_dir / "identities.json"
    with filelock.FileLock(str(path) + ".lock"):
        table = json.loads(path.read_text()) if path.exists() else {}
        if login not in table:
            uid = max(table.values(), default=UID_BASE) + 1
            while _taken(uid):
                uid += 1
            table[login] = uid
            with atomic_file(path) as tmp:
                tmp.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    return table[login], table[login]


def _taken(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def hand_over(root: Path, identity: tuple[int, int] | None) -> None:
    """Make everything under `root` (a sandbox, or a lab's runtime folder) owned by `identity`, without
    following symlinks: files written meanwhile by root (an admin's `pinsandbox run`) become the owner's again."""
    if identity is None:
        return
    uid, gid = identity
    for dirpath, dirs, files in os.walk(root):
        for name in [".", *dirs, *files]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if (st.st_uid, st.st_gid) != (uid, gid):
                os.lchown(path, uid, gid)
