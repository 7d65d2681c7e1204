"""Serving: a FastAPI app over one sandbox — similar pins, homefeed, events (durably logged, applied online),
Navigator — with a bearer token, Prometheus metrics and an event log replayed on restart.

    from pinsandbox.serving import ServingState, start
    with start("alice") as server:            # child process on a free loopback port
        server.client().get("/pinners/u0001/homefeed").json()
"""

from pinsandbox.lazy import lazy_exports

_EXPORTS = {"EventLog": "eventlog", "ServingConfig": "state", "ServingState": "state", "create_app": "app",
            "ServerProcess": "server", "free_port": "server", "run": "server", "start": "server"}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
