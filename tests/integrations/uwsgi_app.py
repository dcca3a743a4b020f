"""The WSGI module a real uWSGI serves in test_uwsgi, with the documented uWSGI recipe."""

from __future__ import annotations

import os
import socket

import uwsgi  # type: ignore[import-not-found]  # exists only inside a uWSGI process
from uwsgidecorators import postfork  # type: ignore[import-not-found]

from tests.integrations.wsgi_app import analytics, app
from trackwire.integrations.gunicorn import drain, warm_up

# The recipe: build each worker's client after the fork, drain it when the worker ends.
postfork(warm_up)
uwsgi.atexit = drain


@postfork  # type: ignore[misc]
def _say_ready() -> None:
    """Tell the test this worker is up: it waits for these connections, not on a clock."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(os.environ["READY_SOCKET"])
        conn.sendall(str(os.getpid()).encode())


__all__ = ["analytics", "app"]
