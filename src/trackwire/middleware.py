"""Middleware: callables that see every message before it is encoded.

A middleware takes the message dict (as it will go on the wire) and returns it, a replacement,
or None to drop it. Middlewares run in the order they were added, in the caller's thread,
before the message is encoded, so what they add is validated and counted like everything else.

The message's top level is trackwire's own copy; nested dicts (``properties``, ``traits``, ...)
are the caller's objects, so copy one before changing it.

**A failing middleware drops the message** (fail-closed): a middleware that raises or returns
something other than a dict or None may be the one that scrubs personal data, and sending the
message unscrubbed would leak it. The message's receipt fails with reason ``middleware_error``,
``stats()`` counts it, the ``drop`` hook hears of it and one ERROR line names the middleware.
A client made with ``on_middleware_error="skip"`` instead skips the failing middleware for
that message and goes on with the message as it was (for enrichers whose failure is harmless).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

from trackwire.errors import ConfigError, TrackwireError

__all__ = ["MIDDLEWARE_ERROR_POLICIES", "Middleware", "MiddlewareChain", "MiddlewareFailed"]

logger = logging.getLogger("trackwire")

Message = dict[str, Any]
#: A function from a message to a message, or to None to drop it.
Middleware = Callable[[Message], Message | None]
#: What a failing middleware does to its message: drop it (default) or skip the middleware.
OnMiddlewareError = Literal["drop", "skip"]
MIDDLEWARE_ERROR_POLICIES: Final = ("drop", "skip")


class MiddlewareFailed(TrackwireError):
    """A middleware raised or returned a non-dict; with the ``drop`` policy the message goes.

    Attributes:
        middleware: the failing middleware's name.
    """

    def __init__(self, middleware: str, problem: str) -> None:
        self.middleware = middleware
        super().__init__(f"middleware {middleware} {problem}")


def _name(middleware: object) -> str:
    return str(getattr(middleware, "__qualname__", None) or type(middleware).__name__)


class MiddlewareChain:
    """An ordered list of middlewares and the runner that applies the failure policy.

    Args:
        items: the middlewares, in order.
        on_error: ``"drop"`` (default) or ``"skip"``; see the module's documentation.
    """

    __slots__ = ("errors", "items", "on_error")

    def __init__(self, items: Sequence[Middleware] = (), on_error: OnMiddlewareError = "drop"):
        if on_error not in MIDDLEWARE_ERROR_POLICIES:
            raise ConfigError(f"on_middleware_error must be 'drop' or 'skip', got {on_error!r}")
        if isinstance(items, str | bytes | dict) or not isinstance(items, Sequence):
            raise ConfigError("middleware must be a list of callables taking a message dict")
        #: The middlewares, in order (an empty list is the cheap check of the hot path).
        self.items: list[Middleware] = []
        self.on_error = on_error
        self.errors = 0
        for item in items:
            self.add(item)

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, middleware: Middleware) -> None:
        """Append ``middleware`` to the chain."""
        if not callable(middleware):
            raise ConfigError("a middleware must be a callable taking and returning a message")
        self.items.append(middleware)

    def run(self, message: Message) -> Message | None:
        """Pass ``message`` through every middleware; None if one of them dropped it.

        Raises:
            MiddlewareFailed: a middleware failed and the policy is ``drop``.
        """
        current = message
        for middleware in self.items:
            try:
                result = middleware(current)
            except Exception as exc:
                problem = f"raised {type(exc).__name__}"
                self._failed(middleware, problem, exc)
                continue
            if result is None:
                return None
            if not isinstance(result, dict):
                problem = f"returned {type(result).__name__} instead of a dict or None"
                self._failed(middleware, problem, None)
                continue
            current = result
        return current

    def _failed(self, middleware: Middleware, problem: str, exc: Exception | None) -> None:
        self.errors += 1
        name = _name(middleware)
        action = "message dropped" if self.on_error == "drop" else "skipped for this message"
        # The exception's text may quote the message (an email in a KeyError): not logged.
        logger.error("trackwire: middleware %s %s; %s", name, problem, action)
        if exc is not None:
            logger.debug("trackwire: middleware %s failed here", name, exc_info=exc)
        if self.on_error == "drop":
            raise MiddlewareFailed(name, problem) from exc
