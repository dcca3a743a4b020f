"""Celery: a client per worker process, drained at worker shutdown.

::

    # tasks.py
    import trackwire
    from celery import Celery
    from trackwire.integrations.celery import setup

    app = Celery("tasks", broker="redis://localhost")
    analytics = setup(lambda: trackwire.Segment("WRITE_KEY"))

    @app.task
    def charge(user_id: str) -> None:
        ...
        analytics.get().track(user_id, "Charged")  # returns at once; sent in the background

With the prefork pool, each pool process builds its client at ``worker_process_init`` (after
the fork) and drains it at ``worker_process_shutdown``: pool processes end with ``os._exit``,
which runs no exit handlers, so without this their queued events would be lost. With the solo
or threads pool the client lives in the main process and is drained at ``worker_shutdown``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import signals

from trackwire.integrations._process import ProcessClient

__all__ = ["setup"]

logger = logging.getLogger("trackwire")


def setup(factory: Callable[[], Any], *, shutdown_timeout: float = 10.0) -> ProcessClient:
    """Hold a client per worker process, built after the fork and drained at shutdown.

    Args:
        factory: makes the client (any trackwire client or a FanOut).
        shutdown_timeout: seconds the drain may take at most (keep it under the time your
            process manager waits after SIGTERM).

    Returns:
        The holder: ``holder.get()`` is this process's client.
    """
    holder = ProcessClient(factory)

    def build(**_: Any) -> None:
        holder.get()

    def drain(**_: Any) -> None:
        if not holder.shutdown(shutdown_timeout):
            logger.warning("trackwire: a Celery worker stopped before every event was sent")

    # weak=False: these closures have no other reference and must live as long as the worker.
    signals.worker_process_init.connect(build, weak=False)
    signals.worker_process_shutdown.connect(drain, weak=False)
    signals.worker_shutdown.connect(drain, weak=False)
    return holder
