"""Django: an app that builds the client per process and drains it at worker exit, and a
middleware that adds request context.

::

    # settings.py
    INSTALLED_APPS = [..., "trackwire.integrations.django.TrackwireConfig"]
    MIDDLEWARE = [..., "trackwire.integrations.django.TrackwireMiddleware"]
    TRACKWIRE = {
        "CLIENT": "myproject.analytics.make_client",  # a function returning the client
        "SHUTDOWN_TIMEOUT": 10.0,                      # seconds the drain at exit may take
        "TRUST_X_FORWARDED_FOR": False,                # True only behind your own proxy
    }

    # views.py
    from trackwire.integrations.django import get_client

    def signup(request):
        get_client().track(str(request.user.pk), "Signed Up")  # returns at once
        ...

``get_client()`` builds the client on first use in each process: a pre-fork server (gunicorn,
uWSGI) imports Django in its master and forks workers, and each worker builds its own. The
client is drained at interpreter exit (a worker's normal exit); see
:mod:`trackwire.integrations.gunicorn` for servers whose workers end otherwise. Calls made while
a request is served carry its ip, user agent and page (:mod:`trackwire.integrations.context`).
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.utils.module_loading import import_string

from trackwire.errors import ConfigError
from trackwire.integrations._process import ProcessClient
from trackwire.integrations.context import add_request_context, from_wsgi_environ, request_scope

__all__ = ["TrackwireConfig", "TrackwireMiddleware", "get_client", "shutdown"]

_process: ProcessClient | None = None


def _options() -> dict[str, Any]:
    options = getattr(settings, "TRACKWIRE", None)
    if not isinstance(options, dict) or not options.get("CLIENT"):
        raise ConfigError(
            "settings.TRACKWIRE must be a dict with 'CLIENT': the dotted path of a function "
            "returning the client (e.g. 'myproject.analytics.make_client')"
        )
    return options


def _holder() -> ProcessClient:
    global _process
    if _process is None:
        factory = _options()["CLIENT"]
        if isinstance(factory, str):
            factory = import_string(factory)
        _process = ProcessClient(factory, (add_request_context,))
    return _process


def get_client() -> Any:
    """This process's client, built on first use from ``settings.TRACKWIRE["CLIENT"]``.

    Raises:
        ConfigError: ``settings.TRACKWIRE`` is missing or has no ``CLIENT``.
    """
    return _holder().get()


def shutdown(timeout: float | None = None) -> bool:
    """Drain and stop this process's client (``TRACKWIRE["SHUTDOWN_TIMEOUT"]``, default 10 s)."""
    if _process is None:
        return True
    if timeout is None:
        timeout = float(_options().get("SHUTDOWN_TIMEOUT", 10.0))
    return _process.shutdown(timeout)


class TrackwireConfig(AppConfig):  # type: ignore[misc]  # Django ships no type hints
    """The Django app: checks the settings at startup and drains the client at exit."""

    name = "trackwire.integrations.django"
    label = "trackwire"
    verbose_name = "trackwire"

    def ready(self) -> None:
        _holder()  # a settings mistake fails at startup, not at the first event
        atexit.register(shutdown)


class TrackwireMiddleware:
    """Calls made while a request is served carry its ip, user agent and page."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.trust_forwarded = bool(
            (getattr(settings, "TRACKWIRE", None) or {}).get("TRUST_X_FORWARDED_FOR", False)
        )

    def __call__(self, request: Any) -> Any:
        context = from_wsgi_environ(request.META, trust_forwarded=self.trust_forwarded)
        with request_scope(context):
            return self.get_response(request)
