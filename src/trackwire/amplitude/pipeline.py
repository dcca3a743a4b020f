"""The one chain an Amplitude event passes through between the call and the queue.

Amplitude users bring three kinds of middleware: plugins in the official Python SDK's shape
(``execute(event)`` on a :class:`~.models.BaseEvent`), event middleware in the Node SDK's
shape (``fn(payload, next)``) and the shared ``middleware=[fn]`` every trackwire client takes
(``fn(event_dict)``). Each becomes a :class:`Stage` through an adapter, and
:func:`run_stages` runs them in that order with one failure policy, fail closed: a stage that
raises drops the event (reason ``middleware_error``), one that returns None drops it (reason
``filtered``). The event is a wire dict between stages; it becomes a :class:`BaseEvent` only
for the plugins, and only when a plugin is installed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from trackwire.amplitude.middleware import (
    EventMiddleware,
    MiddlewareFailure,
    run_event_middleware,
)
from trackwire.amplitude.models import BaseEvent, Plugin
from trackwire.middleware import MiddlewareChain, MiddlewareFailed

__all__ = [
    "Dropped",
    "Stage",
    "StageFailure",
    "Step",
    "event_middleware_stage",
    "plugin_stage",
    "run_stages",
    "shared_chain_stage",
]

logger = logging.getLogger("trackwire.amplitude")

#: A stage's step: takes the event dict and the call's ``extra``, returns the event (changed
#: or not) or None to drop it; raises :class:`StageFailure` to drop it as failed.
Step = Callable[[dict[str, Any], Any], "dict[str, Any] | None"]


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of the chain: a step, and what it means when the step drops the event.

    Attributes:
        step: the adapter around the user's middleware.
        filtered: the detail of a ``filtered`` drop (which kind of middleware dropped it).
    """

    step: Step
    filtered: str


class StageFailure(Exception):
    """A stage's middleware failed; the message names it, never the event's content."""


@dataclass(frozen=True, slots=True)
class Dropped:
    """Why :func:`run_stages` did not return an event.

    Attributes:
        reason: ``filtered`` or ``middleware_error`` (the counters' reasons).
        detail: which middleware, and what happened.
    """

    reason: str
    detail: str


def plugin_stage(plugins: Sequence[Plugin]) -> Stage:
    """Plugins' ``execute(event)``, in order, on a :class:`BaseEvent` made from the dict."""
    from trackwire.amplitude.events import event_from_dict  # events imports this package's wire

    def run(event: dict[str, Any], extra: Any) -> dict[str, Any] | None:
        current: BaseEvent | None = event_from_dict(event)
        for plugin in plugins:
            try:
                current = plugin.execute(current)  # type: ignore[arg-type]
            except Exception as exc:
                raise StageFailure(
                    f"plugin {type(plugin).__name__} raised {type(exc).__name__}"
                ) from exc
            if current is None:
                return None
            if not isinstance(current, BaseEvent):
                raise StageFailure(
                    f"plugin {type(plugin).__name__} returned {type(current).__name__}, "
                    "not the event or None"
                )
        assert current is not None
        return current.to_dict()

    return Stage(run, "a plugin returned None")


def event_middleware_stage(chain: tuple[EventMiddleware, ...]) -> Stage:
    """Node-shaped ``fn(payload, next)`` middleware; ``payload.extra`` is the call's ``extra``."""

    def run(event: dict[str, Any], extra: Any) -> dict[str, Any] | None:
        try:
            return run_event_middleware(chain, event, extra)
        except MiddlewareFailure as failure:
            raise StageFailure(str(failure)) from failure

    return Stage(run, "event middleware did not call next()")


def shared_chain_stage(chain: MiddlewareChain) -> Stage:
    """The client's ``middleware=[fn]`` chain (its ``on_middleware_error`` decides a failure)."""

    def run(event: dict[str, Any], extra: Any) -> dict[str, Any] | None:
        try:
            return chain.run(event)
        except MiddlewareFailed as failure:
            raise StageFailure(str(failure)) from failure

    return Stage(run, "a middleware returned None")


def run_stages(
    stages: Sequence[Stage], event: dict[str, Any], extra: Any
) -> dict[str, Any] | Dropped:
    """Run ``stages`` in order on ``event``: the event to check and send, or why it was dropped.

    A drop is logged as a warning naming the middleware (never the event).
    """
    for stage in stages:
        try:
            result = stage.step(event, extra)
        except StageFailure as failure:
            logger.warning("amplitude: event dropped: %s", failure)
            return Dropped("middleware_error", str(failure))
        if result is None:
            return Dropped("filtered", stage.filtered)
        if type(result) is not dict:
            detail = f"a middleware returned {type(result).__name__}, not the event dict"
            logger.warning("amplitude: event dropped: %s", detail)
            return Dropped("middleware_error", detail)
        event = result
    return event
