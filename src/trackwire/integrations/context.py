"""Request context (ip, user agent, page) added to every call made while a request is served.

A web integration opens a :func:`request_scope` around each request; the
:func:`add_request_context` middleware, which the integrations add to the client, copies the
context into each message made in that scope, in the vendor's own fields:

- Segment: ``context.ip``, ``context.userAgent``, ``context.page`` (``url``, ``path``,
  ``referrer``, ``search``);
- Amplitude: ``ip``, ``user_agent``;
- mParticle: the batch's ``ip`` and ``device_info.http_header_user_agent``.

A value the call set itself is never replaced. The scope is a :mod:`contextvars` variable, so it
follows the request through threads and asyncio tasks and never leaks into the next request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RequestContext",
    "WSGIRequestContext",
    "add_request_context",
    "current",
    "from_asgi_scope",
    "from_wsgi_environ",
    "request_scope",
]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What trackwire adds of the request being served."""

    ip: str | None = None
    user_agent: str | None = None
    url: str | None = None
    path: str | None = None
    referrer: str | None = None
    search: str | None = None

    def page(self) -> dict[str, str]:
        """Segment's ``context.page`` of the request."""
        fields = {"url": self.url, "path": self.path, "referrer": self.referrer,
                  "search": self.search}  # fmt: skip
        return {name: value for name, value in fields.items() if value}


_current: ContextVar[RequestContext | None] = ContextVar("trackwire_request", default=None)


def current() -> RequestContext | None:
    """The context of the request being served, or None outside one."""
    return _current.get()


@contextmanager
def request_scope(context: RequestContext) -> Iterator[RequestContext]:
    """Make ``context`` the current request's for the calls made inside the block."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def _first_forwarded(value: str | None) -> str | None:
    return value.split(",")[0].strip() or None if value else None


def from_wsgi_environ(
    environ: Mapping[str, Any], *, trust_forwarded: bool = False
) -> RequestContext:
    """The context of a WSGI request (Django, Flask).

    Args:
        environ: the WSGI environ.
        trust_forwarded: take the client ip from ``X-Forwarded-For`` (only behind a proxy you
            run: anyone can send that header).
    """
    ip = environ.get("REMOTE_ADDR") or None
    if trust_forwarded:
        ip = _first_forwarded(environ.get("HTTP_X_FORWARDED_FOR")) or ip
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or ""
    scheme = environ.get("wsgi.url_scheme", "http")
    path = (environ.get("SCRIPT_NAME") or "") + (environ.get("PATH_INFO") or "") or "/"
    query = environ.get("QUERY_STRING") or ""
    return RequestContext(
        ip=ip,
        user_agent=environ.get("HTTP_USER_AGENT") or None,
        url=f"{scheme}://{host}{path}" + (f"?{query}" if query else "") if host else None,
        path=path,
        referrer=environ.get("HTTP_REFERER") or None,
        search=f"?{query}" if query else None,
    )


def from_asgi_scope(scope: Mapping[str, Any], *, trust_forwarded: bool = False) -> RequestContext:
    """The context of an ASGI HTTP request (Starlette, FastAPI); see :func:`from_wsgi_environ`."""
    headers = {key.decode("latin-1").lower(): value.decode("latin-1")
               for key, value in scope.get("headers") or ()}  # fmt: skip
    client = scope.get("client")
    ip = client[0] if client else None
    if trust_forwarded:
        ip = _first_forwarded(headers.get("x-forwarded-for")) or ip
    path = (scope.get("root_path") or "") + (scope.get("path") or "/")
    query = (scope.get("query_string") or b"").decode("latin-1")
    host = headers.get("host")
    url = f"{scope.get('scheme', 'http')}://{host}{path}" + (f"?{query}" if query else "")
    return RequestContext(
        ip=ip,
        user_agent=headers.get("user-agent"),
        url=url if host else None,
        path=path,
        referrer=headers.get("referer"),
        search=f"?{query}" if query else None,
    )


def add_request_context(message: dict[str, Any]) -> dict[str, Any]:
    """Client middleware: the current request's context into ``message``, in its vendor's
    fields (see the module's documentation); outside a request, the message as it is."""
    context = _current.get()
    if context is None:
        return message
    if "messageId" in message and "type" in message:  # Segment
        given = message.get("context")
        merged: dict[str, Any] = dict(given) if isinstance(given, Mapping) else {}
        if context.ip:
            merged.setdefault("ip", context.ip)
        if context.user_agent:
            merged.setdefault("userAgent", context.user_agent)
        page = context.page()
        if page and message["type"] != "screen":
            merged.setdefault("page", page)
        message["context"] = merged
    elif "event_type" in message:  # Amplitude
        if context.ip:
            message.setdefault("ip", context.ip)
        if context.user_agent:
            message.setdefault("user_agent", context.user_agent)
    elif "user_identities" in message or "events" in message:  # mParticle
        if context.ip:
            message.setdefault("ip", context.ip)
        if context.user_agent:
            given = message.get("device_info")
            device: dict[str, Any] = dict(given) if isinstance(given, Mapping) else {}
            device.setdefault("http_header_user_agent", context.user_agent)
            message["device_info"] = device
    return message


class WSGIRequestContext:
    """WSGI middleware: calls made while a request is served carry its ip, user agent, page.

    Args:
        app: the WSGI application to wrap (``app.wsgi_app`` in Flask).
        trust_forwarded: take the client ip from ``X-Forwarded-For`` (behind your own proxy
            only).
    """

    def __init__(self, app: Any, *, trust_forwarded: bool = False) -> None:
        self.app = app
        self.trust_forwarded = trust_forwarded

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        context = from_wsgi_environ(environ, trust_forwarded=self.trust_forwarded)
        with request_scope(context):
            return self.app(environ, start_response)
