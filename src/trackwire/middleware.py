"""Middleware: callables that see every message before it is encoded.

A middleware takes the message dict (as it will go on the wire) and returns it, a replacement,
or None to drop it. Middlewares run in the order they were added, in the caller's thread,
before the message is encoded, so what they add is validated and counted like everything else.

The message's top level is trackwire's own copy; nested dicts (``properties``, ``traits``, ...)
are the caller's objects, so copy one before changing it.

A middleware that raises is skipped for that message (logged at ERROR with its name, counted
as ``middleware_error``) and the chain goes on with the message as it was: one broken enricher
never stops delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Middleware", "MiddlewareChain"]

logger = logging.getLogger("trackwire")

Message = dict[str, Any]
#: A function from a message to a message, or to None to drop it.
Middleware = Callable[[Message], Message | None]


class MiddlewareChain:
    """An ordered list of middlewares and the runner that isolates their failures."""

    __slots__ = ("_items", "errors")

    def __init__(self, items: Sequence[Middleware] = ()) -> None:
        self._items: list[Middleware] = []
        self.errors = 0
        for item in items:
            self.add(item)

    def __bool__(self) -> bool:
        return bool(self._items)

    def add(self, middleware: Middleware) -> None:
        """Append ``middleware`` to the chain."""
        if not callable(middleware):
            from trackwire.errors import ConfigError

            raise ConfigError("a middleware must be a callable taking and returning a message")
        self._items.append(middleware)

    def run(self, message: Message) -> Message | None:
        """Pass ``message`` through every middleware; None if one of them dropped it."""
        current = message
        for middleware in self._items:
            try:
                result = middleware(current)
            except Exception:
                self.errors += 1
                logger.exception(
                    "trackwire: middleware %s raised; skipped for this message",
                    getattr(middleware, "__qualname__", repr(middleware)),
                )
                continue
            if result is None:
                return None
            if not isinstance(result, dict):
                self.errors += 1
                logger.error(
                    "trackwire: middleware %s returned %s instead of a dict or None; skipped",
                    getattr(middleware, "__qualname__", repr(middleware)),
                    type(result).__name__,
                )
                continue
            current = result
        return current
