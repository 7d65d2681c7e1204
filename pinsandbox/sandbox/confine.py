"""`python -m pinsandbox.sandbox.confine [limits] -- CMD…`: set resource limits, then exec CMD.

The last step of every isolated launch (inside bubblewrap, or directly in `process` mode), so the limits
hold for the command and everything it starts.
"""

import argparse
import ctypes
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv=None):
    p = argparse.ArgumentParser(prog="pinsandbox.sandbox.confine")
    p.add_argument("--memory-bytes", type=int, required=True)
    p.add_argument("--cpu-seconds", type=int, required=True)
    p.add_argument("--file-size-bytes", type=int, required=True)
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("no command given after --")
    resource.setrlimit(resource.RLIMIT_AS, (args.memory_bytes, args.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (args.cpu_seconds, args.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (args.file_size_bytes, args.file_size_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # If whoever started us dies (even by SIGKILL), die too: no orphaned kernels outliving their run.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
