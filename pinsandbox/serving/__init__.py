"""Serving: a FastAPI app over one sandbox — similar pins, homefeed, events (durably logged, applied online),
Navigator — with a bearer token, Prometheus metrics and an event log replayed on restart.

    from pinsandbox.serving import ServingState, run_serving, start
    result = run_serving("alice")             # the stage: start, wait warm, bounded load test, stop; serving.* metrics
    with start("alice") as server:            # child process on a free loopback port
        server.client().get("/pinners/u0001/homefeed").json()
"""

from pinsandbox.lazy import lazy_exports

_EXPORTS = {"EventLog": "eventlog", "ServingConfig": "state", "ServingState": "state", "create_app": "app",
            "ServerProcess": "server", "free_port": "server", "run": "server", "start": "server",
            "run_serving": "stage", "ServingStageConfig": "stage", "ServingResult": "stage", "run_load": "load",
            "load_taste_graph": "state", "text_index": "state", "Navigator": "navigator",
            "retrieve_and_rank": "navigator"}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
