"""Starlette and FastAPI: a lifespan that opens and drains the client, a dependency, and
request context.

::

    from typing import Annotated

    from fastapi import Depends, FastAPI
    import trackwire
    from trackwire.integrations.starlette import RequestContextMiddleware, get_client, lifespan

    app = FastAPI(lifespan=lifespan(lambda: trackwire.Segment("WRITE_KEY")))
    app.add_middleware(RequestContextMiddleware)

    @app.post("/signup")
    def signup(analytics: Annotated[trackwire.Segment, Depends(get_client)]) -> dict[str, str]:
        analytics.track("user-1", "Signed Up")  # returns at once; sent in the background
        return {"ok": "yes"}

The lifespan builds the client at startup (in the worker process, after any fork) and, when
the server stops, drains it within ``shutdown_timeout`` before the lifespan ends. uvicorn
re-raises its stop signal once the lifespan has finished, so draining there is what keeps the
queued events: the client's own exit-time drain would never run. An application with a
lifespan of its own nests :func:`client_lifespan` in it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from starlette.requests import Request

from trackwire.errors import ConfigError
from trackwire.integrations.context import add_request_context, from_asgi_scope, request_scope

__all__ = ["RequestContextMiddleware", "client_lifespan", "get_client", "lifespan"]

#: The ``app.state`` attribute the client is kept under.
STATE_NAME = "trackwire"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@asynccontextmanager
async def client_lifespan(
    app: Any,
    factory: Callable[[], Any],
    *,
    shutdown_timeout: float = 10.0,
    request_context: bool = True,
) -> AsyncIterator[Any]:
    """Build the client as ``app.state.trackwire`` for the block; drain it when it ends.

    Args:
        app: the Starlette or FastAPI application.
        factory: makes the client (any trackwire client or a FanOut).
        shutdown_timeout: seconds the drain may take at most.
        request_context: add request context (ip, user agent, page) to calls made while
            :class:`RequestContextMiddleware` serves a request.
    """
    client = factory()
    if request_context:
        client.add_middleware(add_request_context)
    setattr(app.state, STATE_NAME, client)
    try:
        yield client
    finally:
        await client.ashutdown(shutdown_timeout)


def lifespan(
    factory: Callable[[], Any], *, shutdown_timeout: float = 10.0, request_context: bool = True
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A ``lifespan=`` for ``Starlette(...)`` or ``FastAPI(...)`` (see :func:`client_lifespan`)."""

    @asynccontextmanager
    async def run(app: Any) -> AsyncIterator[None]:
        async with client_lifespan(
            app, factory, shutdown_timeout=shutdown_timeout, request_context=request_context
        ):
            yield

    return run


def get_client(request: Request) -> Any:
    """The application's client: a FastAPI dependency (``Depends(get_client)``), or call it
    with a Starlette request.

    Raises:
        ConfigError: the application was not started with the trackwire lifespan.
    """
    client = getattr(request.app.state, STATE_NAME, None)
    if client is None:
        raise ConfigError(
            "no trackwire client on app.state: create the app with "
            "lifespan=trackwire.integrations.starlette.lifespan(factory)"
        )
    return client


class RequestContextMiddleware:
    """ASGI middleware: calls made while a request is served carry its ip, user agent and page.

    Args:
        app: the ASGI application to wrap.
        trust_forwarded: take the client ip from ``X-Forwarded-For`` (behind your own proxy
            only).
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], *,
                 trust_forwarded: bool = False) -> None:  # fmt: skip
        self.app = app
        self.trust_forwarded = trust_forwarded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        with request_scope(from_asgi_scope(scope, trust_forwarded=self.trust_forwarded)):
            await self.app(scope, receive, send)
