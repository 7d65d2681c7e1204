"""A hub started as a child process, and a small client for its REST API and its labs — for tests, benchmarks
and scripts. It talks to everything through the proxy, as a browser does.

    with HubProcess(state_dir, config="extra.py", args=["--allow-all"]) as hub:
        hub.api("POST", "/users/alice/server", token=admin_token)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from pinsandbox.hub.cli import free_port
from pinsandbox.lab import kernel_reply


class HubError(RuntimeError):
    pass


class HubProcess:
    def __init__(self, state_dir: Path, *, config: Path | None = None, args: tuple = (), port: int | None = None,
                 env: dict | None = None, timeout_s: float = 60):  # fmt: skip
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "pinsandbox", "hub", "--port", str(self.port), "--state-dir", str(self.state_dir),
                *(["--config", str(config)] if config else []), *args]  # fmt: skip
        self.log_path = self.state_dir / "hub.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                         start_new_session=True)  # fmt: skip
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.time() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise HubError(f"the hub exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if self.request("GET", "/hub/api/")[0] == 200:
                    self.settings = json.loads((self.state_dir / "settings.json").read_text())
                    return
            except OSError:
                pass
            if time.time() > deadline:
                raise TimeoutError(f"the hub did not answer within {timeout_s:g} s; see {self.log_path}")
            time.sleep(0.2)

    def request(self, method: str, path: str, *, token: str | None = None, body=None, timeout: float = 30):
        """(status, decoded JSON or text) of a request through the proxy; errors are answers too."""
        req = urllib.request.Request(f"{self.base}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {token}"} if token else {})  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode(errors="replace")

    def api(self, method: str, path: str, *, token: str, body=None):
        """The hub's REST API (`/hub/api` + path); the decoded answer, HubError on a failure status."""
        status, answer = self.request(method, f"/hub/api{path}", token=token, body=body)
        if status >= 400:
            raise HubError(f"{method} {path}: {status} {answer}")
        return answer

    def user_token(self, user: str, admin_token: str) -> str:
        """A token for `user` with what a login gets (their own server), issued through an admin service."""
        if self.request("GET", f"/hub/api/users/{user}", token=admin_token)[0] == 404:
            self.api("POST", f"/users/{user}", token=admin_token)
        return self.api("POST", f"/users/{user}/tokens", token=admin_token, body={"note": "pinsandbox client"})["token"]

    def server(self, user: str, admin_token: str) -> dict | None:
        """The user's default server as the hub sees it (ready, last_activity…), None when stopped."""
        return self.api("GET", f"/users/{user}", token=admin_token)["servers"].get("")

    def start_server(self, user: str, token: str, timeout_s: float = 120) -> float:
        """Ask for `user`'s lab and wait until it is ready; the seconds it took."""
        t0 = time.perf_counter()
        status, answer = self.request("POST", f"/hub/api/users/{user}/server", token=token)
        if status not in (201, 202, 400):  # 400: already running
            raise HubError(f"starting {user}'s server: {status} {answer}")
        while time.perf_counter() - t0 < timeout_s:
            s = self.api("GET", f"/users/{user}", token=token)["servers"].get("")
            if s and s["ready"]:
                return time.perf_counter() - t0
            if not s or not s.get("pending"):
                raise HubError(f"{user}'s server failed to start; see {self.state_dir / 'logs' / (user + '.log')}")
            time.sleep(0.2)
        raise TimeoutError(f"{user}'s server was not ready within {timeout_s:g} s")

    def lab(self, user: str, method: str, path: str, *, token: str, body=None):
        """The JupyterLab REST API of `user`'s lab: (status, answer)."""
        return self.request(method, f"/user/{user}/api{path}", token=token, body=body)

    def execute(self, user: str, kernel_id: str, code: str, *, token: str, timeout_s: float = 60) -> str:
        """Run `code` in a kernel of `user`'s lab over its websocket; the output (streams, `Name: message` for
        an error) once the kernel is idle again."""
        return asyncio.run(asyncio.wait_for(self._execute(user, kernel_id, code, token), timeout_s))

    async def _execute(self, user: str, kernel_id: str, code: str, token: str) -> str:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = f"{self.base.replace('http', 'ws')}/user/{user}/api/kernels/{kernel_id}/channels"
        ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": "execute_request", "username": user, "session": uuid.uuid4().hex,
                  "version": "5.3"}  # fmt: skip
        await ws.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "channel": "shell",
                                           "content": {"code": code, "silent": False}}))  # fmt: skip
        out = []
        try:
            while True:
                raw = await ws.read_message()
                if raw is None:
                    raise HubError(f"{user}'s kernel connection closed")
                msg = json.loads(raw)
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] in ("restarting", "dead"):
                    return "".join(out) + "KernelDied: the kernel died and is restarting\n"
                if kernel_reply(msg, msg_id, out):
                    return "".join(out)
        finally:
            ws.close()

    def stop(self) -> None:
        """SIGTERM: the hub stops every lab and the proxy, then exits; killed if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
