"""How fast the team server comes up: `pinsandbox hub` answering, then two people's confined labs ready side by
side, then a first cell in each, and small cells through the proxy and the relays afterwards.

Prints one JSON object. The target is hub + two spawns up in at most 30 s (`within_target`). Needs root (the
per-login identities) and bubblewrap; the throwaway hub listens on 127.0.0.1 with no login at all (null
authenticator): the labs are started through the API with a service token of the benchmark's own.

    python benchmarks/bench_hub.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import tempfile
import textwrap
import threading
import time
from pathlib import Path

TARGET_S = 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer small cells")
    args = parser.parse_args()
    from pinsandbox.hub.client import HubProcess
    from pinsandbox.sandbox import isolation

    if os.geteuid() != 0 or not isolation.bwrap_works():
        print(json.dumps({"skipped": "needs root and a working bubblewrap"}))
        return
    base = Path(tempfile.mkdtemp(prefix="pinsandbox-bench-hub-"))
    token = secrets.token_hex(24)
    config = base / "bench_config.py"
    config.write_text(textwrap.dedent(f"""
        c.JupyterHub.authenticator_class = "null"  # nobody logs in; the benchmark starts labs through the API
        c.JupyterHub.services.append({{"name": "bench", "api_token": {token!r}}})
        c.JupyterHub.load_roles.append({{"name": "bench", "services": ["bench"],
            "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "list:users", "read:users"]}})
    """))
    users = ("alice", "bob")
    out: dict = {"labs": len(users), "target_s": TARGET_S}
    t0 = time.perf_counter()
    hub = HubProcess(base / "state", config=config, args=["--allow-all"], env={"PINSANDBOX_ROOT": str(base / "sandboxes")})
    try:
        out["hub_ready_s"] = round(time.perf_counter() - t0, 2)
        tokens = {u: hub.user_token(u, token) for u in users}
        t1 = time.perf_counter()
        spawn_s: dict = {}
        threads = [threading.Thread(target=lambda u=u: spawn_s.update({u: hub.start_server(u, tokens[u])})) for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out["two_spawns_ready_s"] = round(time.perf_counter() - t1, 2)
        out["hub_plus_two_spawns_s"] = round(time.perf_counter() - t0, 2)
        out["within_target"] = out["hub_plus_two_spawns_s"] <= TARGET_S
        for u in users:
            t2 = time.perf_counter()
            status, kernel = hub.lab(u, "POST", "/kernels", token=tokens[u], body={"name": "pinsandbox"})
            assert status == 201, kernel
            hub.execute(u, kernel["id"], "import pinsandbox", token=tokens[u], timeout_s=120)
            out[f"first_cell_{u}_s"] = round(time.perf_counter() - t2, 2)
        kernel_id = hub.lab("alice", "GET", "/kernels", token=tokens["alice"])[1][0]["id"]
        times = []
        for _ in range(10 if args.quick else 50):
            t3 = time.perf_counter()
            hub.execute("alice", kernel_id, "1 + 1", token=tokens["alice"])
            times.append((time.perf_counter() - t3) * 1000)
        times.sort()
        out["small_cell_p50_ms"] = round(times[len(times) // 2], 1)
        out["small_cell_p95_ms"] = round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 1)
    finally:
        hub.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
