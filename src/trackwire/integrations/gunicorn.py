"""Pre-fork servers: gunicorn server hooks and the uWSGI recipe.

trackwire's engines are fork-safe on their own (a forked worker starts with an empty queue and
fresh threads, and never sends its parent's events). What a pre-fork server needs is that each
worker builds its own client and drains it when the worker ends. Hold the client in a
:class:`~trackwire.integrations.ProcessClient` and let these hooks do both::

    # myapp/analytics.py
    import trackwire
    from trackwire.integrations import ProcessClient

    analytics = ProcessClient(lambda: trackwire.Segment("WRITE_KEY"))
    # in a view: analytics.get().track("user-1", "Signed Up")

    # gunicorn.conf.py
    from trackwire.integrations.gunicorn import post_fork, post_worker_init, worker_exit

``post_worker_init`` (after the worker loaded the application) and ``post_fork`` (for
``--preload``, where the application is loaded before the fork) build every holder's client in
the new worker, so the first request does not pay for it; ``worker_exit`` drains them within
``TRACKWIRE_SHUTDOWN_TIMEOUT`` seconds (default
10; keep it under gunicorn's ``graceful_timeout``). A worker that ends normally also drains at
interpreter exit; the hook makes the drain explicit, bounded by your timeout, and logged when it
falls short. The Django and Flask integrations hold their
clients the same way, so these hooks cover them too.

uWSGI runs no Python threads unless told to: start it with ``--enable-threads`` (or trackwire
cannot send in the background), and drain at worker exit::

    # in the WSGI module
    import uwsgi
    from uwsgidecorators import postfork
    from trackwire.integrations.gunicorn import drain, warm_up

    postfork(warm_up)
    uwsgi.atexit = drain

Stop uWSGI gracefully (``--master-fifo`` and its ``q`` command, or ``SIGHUP`` for a graceful
reload) so each worker runs ``uwsgi.atexit``: ``SIGINT``, and ``SIGTERM`` with
``--die-on-term``, kill the workers after a short grace that a drain under load can outlast.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from trackwire.integrations._process import build_all, shutdown_all

__all__ = ["drain", "post_fork", "post_worker_init", "warm_up", "worker_exit"]

logger = logging.getLogger("trackwire")


def _timeout() -> float:
    try:
        return float(os.environ.get("TRACKWIRE_SHUTDOWN_TIMEOUT", "10"))
    except ValueError:
        logger.warning("trackwire: TRACKWIRE_SHUTDOWN_TIMEOUT is not a number; using 10 s")
        return 10.0


def warm_up() -> None:
    """Build every held client in this (new) worker process."""
    build_all()


def drain() -> bool:
    """Drain every client built in this process within ``TRACKWIRE_SHUTDOWN_TIMEOUT`` s."""
    return shutdown_all(_timeout())


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn's ``post_fork`` hook: build the worker's clients."""
    warm_up()


def post_worker_init(worker: Any) -> None:
    """gunicorn's ``post_worker_init`` hook: build the clients the application holds."""
    warm_up()


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn's ``worker_exit`` hook: drain the worker's clients before it ends."""
    if not drain():
        logger.warning("trackwire: worker %s exited before every event was sent", os.getpid())
