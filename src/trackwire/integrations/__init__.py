"""Small, optional integrations with the frameworks trackwire runs in.

Each module imports its framework only when imported itself; none adds a dependency to
trackwire's core. Every one takes a *factory* (``lambda: trackwire.Segment(KEY)``) rather than
a client, so that the client is built in the process that uses it, after any fork:

- :mod:`.django`: an app config and a request-context middleware.
- :mod:`.starlette`: a lifespan that opens and drains the client (FastAPI too), a dependency,
  and an ASGI request-context middleware.
- :mod:`.flask`: an extension with ``init_app``.
- :mod:`.celery`: a client per worker process, drained at worker shutdown.
- :mod:`.aws_lambda`: a decorator that flushes before the handler returns.
- :mod:`.gunicorn`: server hooks for pre-fork servers (and the uWSGI recipe).
- :mod:`.context`: the request context (ip, user agent, page) the web integrations add.
"""

from __future__ import annotations

from trackwire.integrations._process import ClientLike, ProcessClient

__all__ = ["ClientLike", "ProcessClient"]
