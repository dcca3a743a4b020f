"""AWS Lambda: the decorator flushes before the handler returns, bounded by the invocation's
remaining time, for sync and async handlers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import trackwire
from tests.e2e.helpers import timed
from tests.sink import Action, Sink
from trackwire.errors import ConfigError
from trackwire.integrations.aws_lambda import flush_before_return, flush_budget


class LambdaContext:
    """The one method of the Lambda runtime's context object the decorator reads."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.mark.parametrize(
    ("context", "budget"),
    [(LambdaContext(3000), 2.5), (LambdaContext(300), 0.0), (LambdaContext(60_000), 10.0),
     (None, 10.0)],
)  # fmt: skip
def test_flush_budget(context: Any, budget: float) -> None:
    assert flush_budget(context, margin=0.5, max_flush=10.0) == budget


def _client(sink: Sink) -> trackwire.Segment:
    return trackwire.Segment(
        "k", host=sink.url, flush_interval=3600, send_first_immediately=False, max_retries=0
    )


def test_sync_handler_has_delivered_when_it_returns(sink: Sink) -> None:
    analytics = _client(sink)

    @flush_before_return(analytics)
    def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
        for n in range(3):
            analytics.track(event["user"], "Invoked", {"n": n})
        return {"statusCode": 200}

    assert handler({"user": "user-1"}, LambdaContext(5000)) == {"statusCode": 200}
    assert [m["properties"]["n"] for m in sink.delivered()] == [0, 1, 2]  # no waiting
    analytics.shutdown(timeout=5)


def test_async_handler_and_a_raising_one_are_flushed(sink: Sink) -> None:
    analytics = _client(sink)

    @flush_before_return(analytics)
    async def handler(event: dict[str, Any], context: Any) -> str:
        analytics.track("user-1", "Async")
        if event.get("fail"):
            raise RuntimeError("handler failed")
        return "done"

    assert asyncio.run(handler({}, LambdaContext(5000))) == "done"
    with pytest.raises(RuntimeError):
        asyncio.run(handler({"fail": True}, LambdaContext(5000)))
    assert [m["event"] for m in sink.delivered()] == ["Async", "Async"]
    analytics.shutdown(timeout=5)


def test_a_hanging_vendor_cannot_hold_the_invocation_past_its_deadline(
    sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    sink.default = Action(delay=60.0)
    analytics = _client(sink)

    @flush_before_return(analytics, margin=0.2)
    def handler(event: Any, context: Any) -> str:
        analytics.track("user-1", "Slow")
        return "returned"

    with caplog.at_level(logging.WARNING, logger="trackwire"):
        result, _ = timed(lambda: handler({}, LambdaContext(700)), limit=10)
    assert result == "returned"
    assert "did not finish within 0.50 s" in caplog.text
    analytics.shutdown(timeout=0.2)


def test_refuses_what_cannot_flush() -> None:
    with pytest.raises(ConfigError, match="flush"):
        flush_before_return(object())
