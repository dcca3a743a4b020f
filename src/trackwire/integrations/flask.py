"""Flask: an extension that builds the client per process, adds request context, and drains
the client at exit.

::

    from flask import Flask
    import trackwire
    from trackwire.integrations.flask import Trackwire

    analytics = Trackwire(factory=lambda: trackwire.Segment("WRITE_KEY"))
    app = Flask(__name__)
    analytics.init_app(app)          # or Trackwire(app, factory=...)

    @app.post("/signup")
    def signup() -> str:
        analytics.client.track("user-1", "Signed Up")  # returns at once
        return "ok"

The client is built on first use in each process (so a pre-fork server's workers each build
their own) and is drained at interpreter exit within ``shutdown_timeout``. Calls made while a
request is served carry its ip, user agent and page (see
:mod:`trackwire.integrations.context`).
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from typing import Any

from trackwire.errors import ConfigError
from trackwire.integrations._process import ProcessClient
from trackwire.integrations.context import WSGIRequestContext, add_request_context

__all__ = ["Trackwire"]


class Trackwire:
    """The Flask extension.

    Args:
        app: the application, or None to call :meth:`init_app` later.
        factory: makes the client (any trackwire client or a FanOut); when None, the app's
            ``TRACKWIRE_FACTORY`` config value is used.
        shutdown_timeout: seconds the drain at exit may take at most.
        request_context: add request context to calls made during a request.
        trust_forwarded: take the client ip from ``X-Forwarded-For`` (behind your own proxy
            only).
    """

    def __init__(
        self,
        app: Any = None,
        *,
        factory: Callable[[], Any] | None = None,
        shutdown_timeout: float = 10.0,
        request_context: bool = True,
        trust_forwarded: bool = False,
    ) -> None:
        self._factory = factory
        self.shutdown_timeout = shutdown_timeout
        self.request_context = request_context
        self.trust_forwarded = trust_forwarded
        self._process: ProcessClient | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Any) -> None:
        """Attach to ``app``: request context and the drain at exit.

        Raises:
            ConfigError: no factory was given and the app's config has no
                ``TRACKWIRE_FACTORY``.
        """
        factory = self._factory or app.config.get("TRACKWIRE_FACTORY")
        if factory is None:
            raise ConfigError(
                "Trackwire needs a client factory: Trackwire(factory=lambda: "
                "trackwire.Segment(KEY)) or app.config['TRACKWIRE_FACTORY']"
            )
        middleware = (add_request_context,) if self.request_context else ()
        self._process = ProcessClient(factory, middleware)
        if self.request_context:
            app.wsgi_app = WSGIRequestContext(app.wsgi_app, trust_forwarded=self.trust_forwarded)
        app.extensions["trackwire"] = self
        atexit.register(self.shutdown)

    @property
    def client(self) -> Any:
        """This process's client (built on first use).

        Raises:
            ConfigError: :meth:`init_app` was not called.
        """
        if self._process is None:
            raise ConfigError("call Trackwire.init_app(app) before using the client")
        return self._process.get()

    def flush(self, timeout: float | None = None) -> bool:
        """Flush this process's client, if it was built."""
        return True if self._process is None else self._process.flush(timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Drain and stop this process's client (``shutdown_timeout`` by default)."""
        if self._process is None:
            return True
        return self._process.shutdown(self.shutdown_timeout if timeout is None else timeout)
