"""The ASGI middleware that injects the :class:`~.injector.FaultInjector`'s faults."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio

from trackwire.collector.faults.bodies import FaultBody, default_fault_body
from trackwire.collector.faults.config import vendor_of_path
from trackwire.collector.faults.injector import FaultInjector

#: An ASGI application.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
#: Request body bytes kept for building an injected answer (Amplitude's 429 lists the events).
_KEEP_BODY: Final = 2 * 1024 * 1024
#: Most bytes of request body read and thrown away before answering a faulted request. Reading
#: the body first lets the client see the answer instead of a reset of a half-sent request.
_DRAIN_LIMIT: Final = 32 * 1024 * 1024


class FaultMiddleware:
    """ASGI middleware that injects the :class:`FaultInjector`'s faults before the app runs.

    It wraps the whole application, so it holds the server's own ``send``: closing a
    connection without an answer needs the server's transport, which uvicorn exposes as the
    ``transport`` attribute of the request cycle that ``send`` belongs to. Under a server
    without it, a drop becomes a response cut off after its headers.

    Args:
        app: the application to protect.
        injector: decides the faults.
        body: builds the vendor-styled answer to an injected status.
    """

    def __init__(
        self, app: ASGIApp, injector: FaultInjector, body: FaultBody = default_fault_body
    ) -> None:
        self.app = app
        self.injector = injector
        self._body = body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        vendor = vendor_of_path(scope["path"])
        fault = self.injector.decide(scope["path"]) if vendor is not None else None
        if fault is None or vendor is None:
            await self.app(scope, receive, send)
            return
        if fault.latency > 0:
            await anyio.sleep(fault.latency)
        if fault.drop:
            await _drain(receive)
            await _drop(receive, send)
        elif fault.status is not None:
            request_body = await _drain(receive)
            config = self.injector.config
            body, content_type, headers = self._body(
                vendor, scope["path"], fault.status, config, request_body
            )
            headers = [(b"content-length", str(len(body)).encode()), *headers]
            if content_type:
                headers.append((b"content-type", content_type.encode()))
            await send({"type": "http.response.start", "status": fault.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        else:
            await self.app(scope, receive, send)


async def _drain(receive: Any) -> bytes:
    """Read the request body; keep its first :data:`_KEEP_BODY` bytes, discard the rest."""
    kept: list[bytes] = []
    read = 0
    while read <= _DRAIN_LIMIT:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        if read < _KEEP_BODY:
            kept.append(chunk)
        read += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(kept)


async def _drop(receive: Any, send: Any) -> None:
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    close = getattr(transport, "close", None)
    if close is None:
        # No transport to close: start a response and never finish it; the server cuts it off.
        headers = [(b"content-length", b"1024")]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        return
    close()
    # Wait for the server to notice, so it does not try to answer on the closed connection.
    with anyio.move_on_after(5.0):
        while (await receive())["type"] != "http.disconnect":
            pass
