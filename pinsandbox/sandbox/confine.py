"""`python -m pinsandbox.sandbox.confine [limits] -- CMD…`: set resource limits, then exec CMD.

The last step of every isolated launch (inside bubblewrap, or directly in `process` mode), so the limits
hold for the command and everything it starts. With `--uid/--gid` (started as root, e.g. by `pinsandbox hub`)
it also drops to that unprivileged identity, so host secrets such as /etc/shadow stay unreadable.
"""

import argparse
import ctypes
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38


def drop_privileges(uid: int, gid: int) -> None:
    """Become uid:gid for good (no supplementary groups). Root's capabilities go with the uid change, and
    no-new-privs keeps set-user-ID programs (su, sudo) from bringing them back."""
    if uid == 0 or gid == 0:
        raise SystemExit("pinsandbox.sandbox.confine: refusing to 'drop' to root")
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit(f"pinsandbox.sandbox.confine: could not drop to uid {uid}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="pinsandbox.sandbox.confine")
    p.add_argument("--memory-bytes", type=int, required=True)
    p.add_argument("--cpu-seconds", type=int, required=True)
    p.add_argument("--file-size-bytes", type=int, required=True)
    p.add_argument("--max-processes", type=int, help="RLIMIT_NPROC: processes and threads of the identity (with --uid)")
    p.add_argument("--uid", type=int, help="drop to this user id before running the command (needs root)")
    p.add_argument("--gid", type=int, help="and to this group id (default: the uid)")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("no command given after --")
    resource.setrlimit(resource.RLIMIT_AS, (args.memory_bytes, args.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (args.cpu_seconds, args.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (args.file_size_bytes, args.file_size_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if args.max_processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (args.max_processes, args.max_processes))
    if args.uid is not None:
        drop_privileges(args.uid, args.uid if args.gid is None else args.gid)
    # If whoever started us dies (even by SIGKILL), die too: no orphaned kernels outliving their run.
    # (Set after the uid change, which clears it.)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
