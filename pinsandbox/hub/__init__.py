"""`pinsandbox hub`: a team server. JupyterHub in front; each login gets its own sandbox and a JupyterLab confined
to it by bubblewrap, running as an unprivileged identity of its own.

- `spawner.py`  SandboxSpawner: login → sandbox → a bwrap'd `jupyterhub-singleuser` (the hub owns the mapping).
- `identity.py` the unprivileged uid each login's lab runs as, and handing its sandbox over to it.
- `relay.py`    byte relays between TCP and Unix sockets: a lab has no network, only two sockets to the hub.
- `inside.py`   what runs inside the sandbox: its end of the relays, then the single-user server.
- `busy.py`     a server extension: a kernel busy computing counts as activity, so the idle culler spares it.
- `jupyterhub_config.py` the hub's configuration; `cli.py` the command; `client.py` a hub started for scripts/tests.
"""
