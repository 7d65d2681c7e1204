"""`python -m pinsandbox.hub.inside --hub-port H --lab-port P --runtime DIR -- [singleuser args]`

What a hub lab runs inside its bubblewrap sandbox, already as the lab's unprivileged identity: the sandbox end
of the two relays (see relay.py), then `jupyterhub-singleuser` in this same process. The lab listens on
127.0.0.1:P of its own network namespace and finds the hub's API at 127.0.0.1:H there — the same numbers as on
the hub's side, so none of the URLs JupyterHub hands the server needs rewriting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading

from pinsandbox.hub import relay


def start_relays(hub_port: int, lab_port: int, runtime: str) -> None:
    """Start both relays on a loop of their own (a daemon thread) and return once they listen."""
    ready = threading.Event()
    failed: list[BaseException] = []

    def serve():
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(relay.unix_to_tcp(os.path.join(runtime, "lab.sock"), lab_port))
            loop.run_until_complete(relay.tcp_to_unix(hub_port, os.path.join(runtime, "hub.sock")))
        except BaseException as e:  # reported by the main thread
            failed.append(e)
            ready.set()
            return
        ready.set()
        loop.run_forever()

    threading.Thread(target=serve, name="pinsandbox-relays", daemon=True).start()
    ready.wait(30)
    if failed or not ready.is_set():
        raise SystemExit(f"pinsandbox.hub.inside: relays did not start: {failed[0] if failed else 'timeout'}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="pinsandbox.hub.inside")
    p.add_argument("--hub-port", type=int, required=True)
    p.add_argument("--lab-port", type=int, required=True)
    p.add_argument("--runtime", required=True)
    p.add_argument("singleuser_args", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    start_relays(args.hub_port, args.lab_port, args.runtime)
    from jupyterhub.singleuser import main as singleuser

    rest = args.singleuser_args[1:] if args.singleuser_args[:1] == ["--"] else args.singleuser_args
    sys.argv = ["jupyterhub-singleuser", *rest]
    return singleuser()


if __name__ == "__main__":
    sys.exit(main())
