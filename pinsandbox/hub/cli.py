"""`pinsandbox hub`: start the team server (JupyterHub + proxy + idle culler) in the foreground."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
from pathlib import Path

from pinsandbox.errors import InvalidInput

CONFIG_FILE = Path(__file__).with_name("jupyterhub_config.py")
AUTHENTICATORS = {"pam": "pam", "native": "nativeauthenticator.NativeAuthenticator"}


def register(sub) -> None:
    p = sub.add_parser("hub", help="team server: JupyterHub, each login in its own bubblewrapped sandbox lab",
                       description="Start JupyterHub. Each login gets sandbox <login> and a JupyterLab confined to "
                                   "it (bubblewrap, an unprivileged identity, no network but the hub). Ctrl-C stops "
                                   "the hub and every lab.")  # fmt: skip
    p.add_argument("--ip", default="127.0.0.1", help="public address (default 127.0.0.1; another needs TLS)")
    p.add_argument("--port", type=int, default=8000, help="public port (default 8000)")
    p.add_argument("--allow", action="append", default=[], metavar="LOGIN", help="a login that may sign in (repeat)")
    p.add_argument("--allow-all", action="store_true", help="any login the authenticator accepts may sign in")
    p.add_argument("--admin", action="append", default=[], metavar="LOGIN", help="an admin login (repeat)")
    p.add_argument("--authenticator", choices=sorted(AUTHENTICATORS), default="pam",
                   help="pam: the server's accounts (default); native: sign-up with admin approval")  # fmt: skip
    p.add_argument("--cull-idle-s", type=int, default=3600, help="stop a lab idle this long (0: never; default 3600)")
    p.add_argument("--cull-every-s", type=int, default=300, help="how often to look for idle labs (default 300)")
    p.add_argument("--activity-interval-s", type=int, default=60, help="how often labs report activity (default 60)")
    p.add_argument("--memory-gb", type=float,
                   help="memory limit of each lab: a cgroup where possible, else per process (default: the sandbox's)")
    p.add_argument("--ssl-cert", help="TLS certificate (PEM) for a public address")
    p.add_argument("--ssl-key", help="its private key")
    p.add_argument("--state-dir", help="the hub's database, secrets, identities and logs (default <sandboxes>/.hub)")
    p.add_argument("--config", help="an extra JupyterHub config file, loaded last")
    p.set_defaults(handler=start)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settings_from(args) -> dict:
    """Check the arguments (one clear error each) and turn them into the settings jupyterhub_config.py reads."""
    from pinsandbox import settings
    from pinsandbox.sandbox import isolation
    from pinsandbox.sandbox.sandbox import validate_owner

    try:
        loopback = ipaddress.ip_address(args.ip).is_loopback
    except ValueError:
        raise InvalidInput(f"--ip {args.ip!r} is not an IP address: use 127.0.0.1 or this host's address") from None
    if bool(args.ssl_cert) != bool(args.ssl_key):
        raise InvalidInput("give both --ssl-cert and --ssl-key, or neither")
    for f in filter(None, (args.ssl_cert, args.ssl_key, args.config)):
        if not Path(f).is_file():
            raise InvalidInput(f"no such file: {f}")
    if not loopback and not args.ssl_cert:
        raise InvalidInput(f"serving logins on {args.ip} over plain HTTP would send passwords in clear: give "
                           "--ssl-cert and --ssl-key, or keep 127.0.0.1 behind a TLS reverse proxy")  # fmt: skip
    if args.authenticator == "native" and not args.allow:
        args.allow_all = True  # sign-up needs an admin's approval: that is the gate
    if not (args.allow or args.allow_all or args.config):
        raise InvalidInput("say who may sign in: --allow LOGIN (repeat) or --allow-all")
    for login in args.allow + args.admin:
        validate_owner(login)  # a login is a sandbox name
    if args.authenticator == "native":
        try:
            import nativeauthenticator  # noqa: F401
        except ImportError:
            raise InvalidInput("--authenticator native needs pip install jupyterhub-nativeauthenticator") from None
    if not isolation.bwrap_works():
        raise InvalidInput("the hub confines every lab with bubblewrap, which is missing or cannot create "
                           "namespaces here: apt-get install bubblewrap")  # fmt: skip
    if args.memory_gb is not None and args.memory_gb <= 0:
        raise InvalidInput("--memory-gb must be > 0")
    if args.cull_idle_s < 0 or args.cull_every_s <= 0 or args.activity_interval_s <= 0:
        raise InvalidInput("--cull-idle-s must be ≥ 0, --cull-every-s and --activity-interval-s > 0")
    state = Path(args.state_dir or settings.sandboxes_root() / ".hub").resolve()
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {
        "state_dir": str(state), "ip": args.ip, "port": args.port,
        "hub_port": free_port(), "proxy_api_port": free_port(),
        "authenticator": AUTHENTICATORS[args.authenticator],
        "users": args.allow, "admins": args.admin, "allow_all": args.allow_all,
        "cull_idle_s": args.cull_idle_s, "cull_every_s": args.cull_every_s,
        "activity_interval_s": args.activity_interval_s,
        "mem_limit": int(args.memory_gb * 2**30) if args.memory_gb else None,
        "ssl_cert": args.ssl_cert and str(Path(args.ssl_cert).resolve()),
        "ssl_key": args.ssl_key and str(Path(args.ssl_key).resolve()),
        "extra_config": args.config and str(Path(args.config).resolve()),
    }  # fmt: skip


def start(args) -> int:
    s = settings_from(args)
    scheme = "https" if s["ssl_cert"] else "http"
    print(f"JupyterHub for pinsandbox: {scheme}://{args.ip}:{args.port}/ (state in {s['state_dir']})", flush=True)
    # Where everything listens, for admins and scripts (no secret in it).
    (Path(s["state_dir"]) / "settings.json").write_text(json.dumps(s, indent=1) + "\n")
    env = {**os.environ, "PINSANDBOX_HUB_SETTINGS": json.dumps(s)}
    os.chdir(s["state_dir"])
    argv = [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG_FILE)]
    os.execve(argv[0], argv, env)  # become the hub: Ctrl-C and SIGTERM reach it, and it stops the labs
