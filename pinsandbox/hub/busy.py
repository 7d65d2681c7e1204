"""A Jupyter server extension: a kernel busy computing counts as activity.

The single-user server tells the hub when it was last active (requests, kernel messages). A kernel crunching
through a long cell sends no messages, so its lab would look idle and jupyterhub-idle-culler would stop it
mid-computation. Every few seconds this marks the server active while any kernel is busy, through the
`*_last_activity` hook jupyter_server's `last_activity()` reads.
"""

from __future__ import annotations

CHECK_EVERY_MS = 2000


def _jupyter_server_extension_points():
    return [{"module": "pinsandbox.hub.busy"}]


def _load_jupyter_server_extension(serverapp):
    from jupyter_server._tz import utcnow
    from tornado.ioloop import PeriodicCallback

    kernels = serverapp.kernel_manager
    hooked: set[str] = set()

    def on_auto_restart(kernel_id):
        # A kernel that died (say, OOM-killed mid-cell) and was restarted keeps its last state, "busy", and its
        # dead activity stream: it would look busy for ever and its lab would never be culled. Start afresh.
        try:
            kernels.get_kernel(kernel_id).execution_state = "starting"
            kernels.stop_watching_activity(kernel_id)
            kernels.start_watching_activity(kernel_id)
        except Exception:
            serverapp.log.warning("pinsandbox.hub.busy: could not follow restarted kernel %s", kernel_id, exc_info=True)

    def mark_busy():
        ids = kernels.list_kernel_ids()
        for kernel_id in set(ids) - hooked:
            kernels.add_restart_callback(kernel_id, lambda k=kernel_id: on_auto_restart(k), "restart")
            hooked.add(kernel_id)
        hooked.intersection_update(ids)
        if any(getattr(kernels.get_kernel(k), "execution_state", None) == "busy" for k in ids):
            serverapp.web_app.settings["pinsandbox_busy_last_activity"] = utcnow()

    PeriodicCallback(mark_busy, CHECK_EVERY_MS).start()
