"""AWS Lambda: flush before the handler returns, within the invocation's remaining time.

Lambda freezes the execution environment as soon as the handler returns: background threads
stop mid-batch and may never run again. This decorator flushes the client before returning,
bounded by what is left of the invocation (less a safety ``margin``), for sync and async
handlers, and also when the handler raises::

    import trackwire
    from trackwire.integrations.aws_lambda import flush_before_return

    analytics = trackwire.Segment("WRITE_KEY")  # built once per execution environment

    @flush_before_return(analytics)
    def handler(event, context):
        analytics.track(event["user_id"], "Invoked")
        return {"statusCode": 200}
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from trackwire.errors import ConfigError

__all__ = ["flush_before_return", "flush_budget"]

logger = logging.getLogger("trackwire")

_F = TypeVar("_F", bound=Callable[..., Any])


def flush_budget(context: Any, margin: float, max_flush: float) -> float:
    """Seconds a flush may take: the invocation's remaining time less ``margin``, at most
    ``max_flush`` (also used when ``context`` has no remaining time, as in local runs)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return max_flush
    return max(0.0, min(max_flush, float(remaining()) / 1000.0 - margin))


def flush_before_return(
    client: Any, *, margin: float = 0.5, max_flush: float = 10.0
) -> Callable[[_F], _F]:
    """Decorate a Lambda handler ``handler(event, context)`` (sync or ``async def``) so that
    ``client`` is flushed before it returns or raises.

    Args:
        client: any trackwire client or a FanOut (anything with ``flush``/``aflush``).
        margin: seconds kept free before the invocation's deadline.
        max_flush: the longest flush, and the flush's budget when there is no Lambda context.

    Raises:
        ConfigError: ``client`` cannot flush.
    """
    if not callable(getattr(client, "flush", None)):
        raise ConfigError("flush_before_return needs a trackwire client (with flush())")
    if margin < 0 or max_flush < 0:
        raise ConfigError("margin and max_flush are seconds >= 0")

    def said(done: bool, budget: float) -> None:
        if not done:
            logger.warning(
                "trackwire: the flush before the handler returned did not finish within %.2f s;"
                " undelivered events wait for the next invocation", budget
            )  # fmt: skip

    def decorate(handler: _F) -> _F:
        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def run_async(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    return await handler(event, context, *args, **kwargs)
                finally:
                    budget = flush_budget(context, margin, max_flush)
                    said(await client.aflush(budget), budget)

            return run_async  # type: ignore[return-value]

        @functools.wraps(handler)
        def run(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return handler(event, context, *args, **kwargs)
            finally:
                budget = flush_budget(context, margin, max_flush)
                said(client.flush(budget), budget)

        return run  # type: ignore[return-value]

    return decorate
