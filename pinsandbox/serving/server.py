"""Run the API: in this process (`run`, what `pinsandbox serve` does) or as a child process (`start`, for
notebooks, tests and the load benchmark), always on loopback unless told otherwise. A running server follows
promotions and rollbacks by itself (`ServingState.watch`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from pinsandbox.errors import InvalidInput, PinsandboxError


def run(sandbox=None, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning") -> None:
    """Load the sandbox's state (snapshot + event-log replay) and serve it with uvicorn until interrupted."""
    import uvicorn

    from pinsandbox.sandbox import resolve
    from pinsandbox.serving.app import create_app
    from pinsandbox.serving.state import ServingState

    if not 0 < int(port) < 65536:
        raise InvalidInput(f"port must be between 1 and 65535, got {port}")
    sb = resolve(sandbox)
    one_thread_per_operation()
    state = ServingState.load(sb, navigator_worker=True)
    threading.Thread(target=state.warm, name="warm-homefeeds", daemon=True).start()
    stop = threading.Event()  # the watcher follows promotions and rollbacks: no restart to serve a new champion
    threading.Thread(target=state.watch, args=(stop,), name="watch-champion", daemon=True).start()
    print(f"pinsandbox serve: sandbox {sb.owner!r} on http://{host}:{port} (taste graph: {state.taste_source}; "
          f"{state.replayed} logged events replayed; ranker: {state.nav.name})", file=sys.stderr, flush=True)
    try:
        uvicorn.run(create_app(state, sb.api_token), host=host, port=int(port), log_level=log_level, access_log=False)
    finally:
        stop.set()
        state.nav.close()


def one_thread_per_operation() -> None:
    """Requests run side by side (event loop, thread pool, Navigator's worker); BLAS or torch spreading one small
    matrix product over both cores only makes them spin against each other. Measured on 2 busy cores: /similar
    1.6 → 0.3 ms of CPU, a homefeed recompute 7.5 → 2.4 ms, a Navigator encode 430 → 40 ms of wall time."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    # The event loop takes the GIL back from a thread-pool thread (an event's fsync and refresh) after 0.5 ms
    # instead of 5: a cached read waits less behind a write.
    sys.setswitchinterval(0.0005)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    """A server running as a child process. `stop()` ends it; `kill()` is SIGKILL (for fault tests)."""

    process: subprocess.Popen
    url: str
    token: str
    log_path: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def client(self, **kwargs):
        import httpx

        return httpx.Client(base_url=self.url, headers=self.headers, timeout=30, **kwargs)

    def stop(self, timeout: float = 10) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait_warm(self, timeout: float = 300) -> dict:
        """Wait until the server has precomputed every pinner's homefeed (or `timeout`); returns /healthz."""
        deadline = time.monotonic() + timeout
        with self.client() as c:
            while True:
                health = c.get("/healthz").json()
                if health.get("warm") or time.monotonic() > deadline:
                    return health
                time.sleep(0.5)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start(sandbox=None, port: int | None = None, host: str = "127.0.0.1", timeout: float = 180) -> ServerProcess:
    """Start `python -m pinsandbox.serving` for the sandbox and wait until /healthz answers."""
    import httpx

    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    port = port or free_port(host)
    log_path = sb.path("serving/server.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PINSANDBOX_ROOT": str(sb.root.parent)}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "pinsandbox.serving", "--sandbox", sb.owner, "--host", host,
                                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
            raise PinsandboxError(f"the server for sandbox {sb.owner!r} exited with {proc.returncode}: {' | '.join(tail)}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return ServerProcess(proc, url, sb.api_token, str(log_path))
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise PinsandboxError(f"the server for sandbox {sb.owner!r} did not answer within {timeout:.0f} s (log: {log_path})")
