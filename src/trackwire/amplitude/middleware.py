"""Event middleware in Amplitude's Node SDK shape: ``fn(payload, next)``.

Each middleware receives a :class:`MiddlewarePayload` (``payload.event``, the wire dict, and
``payload.extra``, whatever the caller passed with ``extra=``) and calls ``next(payload)`` to
continue; not calling it drops the event. Middleware run in the order they were added, in the
caller's thread, before the event is encoded. Plugins in the official Python SDK's shape
(``execute(event)`` returning the event or None) run before them, on the event object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["EventMiddleware", "MiddlewareFailure", "MiddlewarePayload", "run_event_middleware"]


@dataclass(slots=True)
class MiddlewarePayload:
    """What a middleware receives: the event (a dict, wire field names) and the caller's extra."""

    event: dict[str, Any]
    extra: Any = None


#: ``fn(payload, next)``; call ``next(payload)`` to continue the chain.
EventMiddleware = Callable[[MiddlewarePayload, Callable[[MiddlewarePayload], None]], None]


class MiddlewareFailure(Exception):
    """A middleware raised or passed something that is not a payload; the event is dropped.

    The message names the middleware and the exception type, never the event's content.
    """


def _name(fn: object) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def run_event_middleware(
    chain: tuple[EventMiddleware, ...], event: dict[str, Any], extra: Any
) -> dict[str, Any] | None:
    """Run ``chain`` on ``event``: the event to send, or None when a middleware dropped it.

    Raises:
        MiddlewareFailure: a middleware raised, or called ``next`` with something other than a
            payload whose ``event`` is a dict (fail-closed: the caller drops the event).
    """
    result: list[dict[str, Any]] = []

    def call(index: int, payload: MiddlewarePayload) -> None:
        if index == len(chain):
            result.append(payload.event)
            return
        fn = chain[index]

        def next_(given: MiddlewarePayload) -> None:
            if not isinstance(given, MiddlewarePayload) or not isinstance(given.event, dict):
                raise MiddlewareFailure(
                    f"{_name(fn)} called next() without a payload holding an event dict"
                )
            call(index + 1, given)

        try:
            fn(payload, next_)
        except MiddlewareFailure:
            raise
        except Exception as exc:
            raise MiddlewareFailure(f"{_name(fn)} raised {type(exc).__name__}") from exc

    call(0, MiddlewarePayload(event, extra))
    return result[0] if result else None
