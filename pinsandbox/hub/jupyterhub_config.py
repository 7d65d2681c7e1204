"""The hub's configuration, read by JupyterHub itself (`jupyterhub -f` this file); `pinsandbox hub` passes the
settings it parsed in PINSANDBOX_HUB_SETTINGS (JSON). An admin's own config file, if given, is loaded last.
"""

import json
import os
import sys
from pathlib import Path

from pinsandbox.sandbox.sandbox import OWNER_RE

c = get_config()  # noqa: F821 — provided by JupyterHub when it loads this file
s = json.loads(os.environ["PINSANDBOX_HUB_SETTINGS"])
state = Path(s["state_dir"])
bin_dir = Path(sys.executable).parent

# Where it listens: the public address (127.0.0.1 unless told), the hub's API and the proxy's API on loopback.
scheme = "https" if s.get("ssl_cert") else "http"
c.JupyterHub.bind_url = f"{scheme}://{s['ip']}:{s['port']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{s['hub_port']}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [str(bin_dir / "configurable-http-proxy")]
if s.get("ssl_cert"):
    c.JupyterHub.ssl_cert = s["ssl_cert"]
    c.JupyterHub.ssl_key = s["ssl_key"]

c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True

# Who may log in. The login is the sandbox name, so only names a sandbox may have are accepted.
c.JupyterHub.authenticator_class = s["authenticator"]
c.Authenticator.username_pattern = OWNER_RE.pattern
c.Authenticator.admin_users = set(s["admins"])
c.Authenticator.allowed_users = set(s["users"])
c.Authenticator.allow_all = bool(s["allow_all"])

# Each login's lab in its own sandbox (spawner.py); one server per person, no named servers.
c.JupyterHub.spawner_class = "pinsandbox.hub.spawner.SandboxSpawner"
c.SandboxSpawner.state_dir = str(state)
c.Spawner.default_url = "/lab/tree/notebooks"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
if s.get("mem_limit"):
    c.Spawner.mem_limit = s["mem_limit"]
# Activity reaches the hub often enough for the culler to judge within one of its intervals.
c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": str(s["activity_interval_s"])}
c.JupyterHub.last_activity_interval = s["activity_interval_s"]

# Idle labs are stopped; a busy kernel counts as activity (busy.py), so long computations are spared.
if s["cull_idle_s"]:
    c.JupyterHub.services = [{
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                    f"--timeout={s['cull_idle_s']}", f"--cull-every={s['cull_every_s']}"],
    }]  # fmt: skip
    c.JupyterHub.load_roles = [{
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }]  # fmt: skip

if s.get("extra_config"):
    load_subconfig(s["extra_config"])  # noqa: F821 — the admin's own settings win
