"""The collector's ASGI entry: vendor ingestion POSTs straight to their endpoint.

Through the full stack, an ingestion request passes the access log, fault injection, refusal
recording, Starlette's error and exception middlewares and its router, each a frame wrapping
``send`` and ``receive``. At ~1 ms of event-loop CPU per 400-event request that is a measured
share of the collector's CPU, so :class:`IngestFront` does what they do in one frame for a
``POST`` to one of the vendors' exact ingestion paths:

- the access log's line (:func:`~.access.log_request`), formatted only when it is written;
- fault injection: while the injector would inject anything, every request takes the full
  stack, so faults behave exactly as there;
- refusal recording: the start of the body as received and a 4xx answer go to the refused log
  (:func:`~.inspection.record_refusal`), as :class:`~.inspection.RefusalRecorder` keeps them;
- an exception out of the endpoint is answered ``500 Internal Server Error`` (when nothing was
  sent yet) and raised on for the server to log, as Starlette's ``ServerErrorMiddleware`` does.

Everything else (other paths or methods, the collector's own endpoints, a path with a trailing
slash that Starlette redirects, a mounted ``root_path``) takes the full stack unchanged.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from trackwire.collector.access import log_request, logging_requests
from trackwire.collector.faults import FaultInjector
from trackwire.collector.faults.config import vendor_of_path
from trackwire.collector.inspection import record_refusal, refusal_vendor
from trackwire.collector.refused import MAX_BODY_BYTES, RefusedLog

__all__ = ["IngestFront"]

#: An ASGI application.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
#: A Starlette endpoint: a request in, a response out.
Endpoint = Callable[[Request], Awaitable[Response]]

#: What Starlette's ``ServerErrorMiddleware`` answers an exception with (debug off).
_SERVER_ERROR: Final = b"Internal Server Error"
_SERVER_ERROR_HEADERS: Final = [
    (b"content-length", str(len(_SERVER_ERROR)).encode()),
    (b"content-type", b"text/plain; charset=utf-8"),
]


def ingest_endpoints(app: Starlette) -> dict[str, tuple[str, Endpoint]]:
    """The vendors' ingestion routes of ``app`` by exact path: their vendor and endpoint.

    A route qualifies when it is a plain :class:`~starlette.routing.Route` answering ``POST``
    on a path without parameters, with a coroutine endpoint, on a vendor path that both fault
    injection and refusal recording know, and is the route Starlette's router picks for a
    ``POST`` to that path.
    """
    found: dict[str, tuple[str, Endpoint]] = {}
    for route in app.routes:
        if type(route) is not Route or route.param_convertors or route.path in found:
            continue
        vendor = refusal_vendor(route.path)
        if (
            vendor is None
            or vendor_of_path(route.path) is None
            or not _is_coroutine_endpoint(route.endpoint)
        ):
            continue
        probe = {
            "type": "http",
            "path": route.path,
            "root_path": "",
            "method": "POST",
            "headers": [],
        }
        chosen = next(r for r in app.routes if r.matches(probe)[0] == Match.FULL)
        if chosen is route:
            found[route.path] = (vendor, route.endpoint)
    return found


def _is_coroutine_endpoint(endpoint: Any) -> bool:
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    return inspect.iscoroutinefunction(endpoint)


class IngestFront:
    """ASGI application: a vendor ingestion POST handled in one frame, all else by ``full``.

    Args:
        starlette: the collector's Starlette application (its routes are looked up once).
        full: the full stack (access log, faults, refusal recorder, Starlette).
        faults: the fault injector; while its configuration is active, all goes to ``full``.
        refused: where refused ingestion requests are kept.
    """

    def __init__(
        self, starlette: Starlette, full: ASGIApp, faults: FaultInjector, refused: RefusedLog
    ) -> None:
        self._starlette = starlette
        self._full = full
        self._faults = faults
        self._refused = refused
        self._endpoints = ingest_endpoints(starlette)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Handle one ASGI call."""
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and not scope.get("root_path")
            and not self._faults.config.active
        ):
            found = self._endpoints.get(scope["path"])
            if found is not None:
                await self._ingest(scope, receive, send, found[0], found[1])
                return
        await self._full(scope, receive, send)

    async def _ingest(
        self, scope: Any, receive: Any, send: Any, vendor: str, endpoint: Endpoint
    ) -> None:
        start = time.perf_counter()
        # The body's first chunks as received, kept by reference (not copied) for a refusal.
        chunks: list[bytes] = []
        kept = 0

        async def receiving() -> Any:
            nonlocal kept
            message = await receive()
            if kept <= MAX_BODY_BYTES and message["type"] == "http.request":
                chunk = message.get("body", b"")
                chunks.append(chunk)
                kept += len(chunk)
            return message

        status = 0
        answer = b""
        scope["app"] = self._starlette
        try:
            try:
                response = await endpoint(Request(scope, receiving, send))
            except Exception:
                status = 500
                headers = _SERVER_ERROR_HEADERS
                await send({"type": "http.response.start", "status": 500, "headers": headers})
                await send({"type": "http.response.body", "body": _SERVER_ERROR})
                raise
            status = response.status_code
            if 400 <= status < 500:
                answer = bytes(response.body)
            await response(scope, receiving, send)
        finally:
            if 400 <= status < 500:
                record_refusal(self._refused, vendor, scope, status, answer, b"".join(chunks))
            if logging_requests():
                log_request(scope, status, start)
