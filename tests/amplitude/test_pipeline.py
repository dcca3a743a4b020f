"""The one Amplitude chain: plugins, event middleware and shared middleware, fail closed."""

from __future__ import annotations

from typing import Any

import pytest

from trackwire.amplitude import BaseEvent
from trackwire.amplitude.pipeline import (
    Dropped,
    event_middleware_stage,
    plugin_stage,
    run_stages,
    shared_chain_stage,
)
from trackwire.middleware import MiddlewareChain

EVENT = {"event_type": "e", "user_id": "user-1", "insert_id": "id-1"}


class Rename:
    def execute(self, event: BaseEvent) -> BaseEvent:
        event.event_type = "renamed"
        return event


class Returns:
    def __init__(self, value: Any) -> None:
        self.value = value

    def execute(self, event: BaseEvent) -> Any:
        return self.value


class Raises:
    def execute(self, event: BaseEvent) -> BaseEvent:
        raise KeyError("secret value")


def _forward(payload: Any, next: Any) -> None:
    next(payload)


def _swallow(payload: Any, next: Any) -> None:
    return None


def _boom(event: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError("must not run")


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        ([plugin_stage([Rename()])], {**EVENT, "event_type": "renamed"}),
        ([plugin_stage([Returns(None)])], Dropped("filtered", "a plugin returned None")),
        (
            [plugin_stage([Returns("not an event")])],
            Dropped("middleware_error", "plugin Returns returned str, not the event or None"),
        ),
        ([plugin_stage([Raises()])], Dropped("middleware_error", "plugin Raises raised KeyError")),
        ([event_middleware_stage((_forward,))], EVENT),
        (
            [event_middleware_stage((_swallow,))],
            Dropped("filtered", "event middleware did not call next()"),
        ),
        (
            [shared_chain_stage(MiddlewareChain([lambda event: None]))],
            Dropped("filtered", "a middleware returned None"),
        ),
        (
            [plugin_stage([Returns(None)]), shared_chain_stage(MiddlewareChain([_boom]))],
            Dropped("filtered", "a plugin returned None"),  # later stages never run
        ),
    ],
)
def test_run_stages(stages: list[Any], expected: Any) -> None:
    assert run_stages(stages, dict(EVENT), None) == expected


def test_a_failing_shared_middleware_drops_unless_told_to_skip() -> None:
    def fail(event: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("bug")

    dropped = run_stages([shared_chain_stage(MiddlewareChain([fail]))], dict(EVENT), None)
    assert isinstance(dropped, Dropped) and dropped.reason == "middleware_error"
    skipped = run_stages([shared_chain_stage(MiddlewareChain([fail], "skip"))], dict(EVENT), None)
    assert skipped == EVENT


def test_a_stage_returning_something_else_than_a_dict_drops_the_event() -> None:
    dropped = run_stages([shared_chain_stage(MiddlewareChain([lambda event: [event]]))], {}, None)
    assert isinstance(dropped, Dropped) and dropped.reason == "middleware_error"


def test_the_failure_detail_never_holds_the_event() -> None:
    dropped = run_stages([plugin_stage([Raises()])], dict(EVENT), None)
    assert isinstance(dropped, Dropped) and "secret" not in dropped.detail
