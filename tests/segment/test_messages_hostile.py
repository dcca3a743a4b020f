"""Segment calls on hostile input: each call returns a receipt or raises a ValidationError naming
the field, at a bounded cost in the caller (the issue's cases, then a hypothesis search over
every argument of every call)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trackwire
from tests import hostile
from trackwire.errors import TrackwireError, ValidationError
from trackwire.testing import RecordingTransport


@pytest.fixture(scope="module")
def analytics() -> Iterator[trackwire.Segment]:
    client = trackwire.Segment(
        "WRITE_KEY",
        transport=RecordingTransport(),
        send_first_immediately=False,
        flush_at=100,
        on_full="drop_oldest",
    )
    yield client
    client.shutdown(timeout=5)


def call(fn: Any) -> tuple[Any, int]:
    """(the call's receipt or the exception it raised, the peak memory it allocated)."""
    tracemalloc.start()
    try:
        try:
            result: Any = fn()
        except BaseException as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


EDGE = datetime.max.replace(tzinfo=timezone(-timedelta(hours=23, minutes=59)))


@pytest.mark.parametrize(
    ("method", "kwargs", "field"),
    [
        ("track", {"user_id": 10**5000, "event": "E"}, "user_id"),
        ("track", {"anonymous_id": -(10**30), "event": "E"}, "anonymous_id"),
        ("group", {"user_id": "u", "group_id": 10**5000}, "group_id"),
        ("alias", {"previous_id": 10**5000, "user_id": "u"}, "previous_id"),
        ("track", {"user_id": "u", "event": "E", "timestamp": EDGE}, "timestamp"),
        (
            "track",
            {"user_id": "u", "event": "E", "timestamp": datetime.min.replace(
                tzinfo=hostile.EXTREME_OFFSET)},
            "timestamp",
        ),
        (
            "track",
            {"user_id": "u", "event": "E", "timestamp": datetime(2020, 1, 1,
                                                                   tzinfo=hostile.RaisingTZ())},
            "timestamp",
        ),
        ("track", {"user_id": "u", "event": "E", "timestamp": "2" * 1_000_000}, "timestamp"),
        ("track", {"user_id": "u", "event": hostile.RaisingEq()}, "event"),
        ("page", {"user_id": "u", "name": hostile.RaisingEq()}, "name"),
        ("track", {"user_id": hostile.RaisingRepr(), "event": "E"}, "user_id"),
        ("track", {"user_id": "u", "event": "E", "message_id": hostile.RaisingEq()}, "message_id"),
        ("track", {"user_id": "u", "event": "E", "properties": hostile.RaisingIterMapping()},
         "properties"),
        ("track", {"user_id": "u", "event": "E", "properties": hostile.EndlessMapping()},
         "properties"),
        ("identify", {"user_id": "u", "traits": hostile.RaisingIterMapping()}, "traits"),
        ("track", {"user_id": "u", "event": "E", "context": hostile.EndlessMapping()}, "context"),
        ("track", {"user_id": "u", "event": "E", "properties": {"p": Decimal("1e999999999")}},
         "properties.p"),
        ("track", {"user_id": "u", "event": "E", "properties": {"p": 10**5000}}, "properties.p"),
        ("track", {"user_id": "u", "event": "E", "properties": {"p": hostile.RaisingRepr()}},
         "properties.p"),
        ("track", {"user_id": "u", "event": "E", "properties": {"b": b"x"}}, "properties.b"),
        ("track", {"user_id": "u", "event": b"E"}, "event"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else "",  # no repr() of hostile values
)  # fmt: skip
def test_hostile_arguments_are_refused_naming_the_field(
    analytics: trackwire.Segment, method: str, kwargs: dict[str, Any], field: str
) -> None:
    error, peak = call(lambda: getattr(analytics, method)(**kwargs))

    assert isinstance(error, ValidationError), error
    assert error.field == field
    assert peak < 5_000_000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"user_id": hostile.HostileStr("user-1"), "event": hostile.HostileStr("Signed Up")},
        {"user_id": "u", "event": "E", "properties": hostile.deeply_nested(10)},
        {"user_id": "u", "event": "E", "timestamp": hostile.HostileStr("2024-01-01T00:00:00Z")},
        {"user_id": 2**64 - 1, "event": "E"},
    ],
    ids=["str-subclasses", "nested", "str-subclass-timestamp", "largest-int-id"],
)
def test_odd_but_valid_arguments_are_sent_as_plain_values(
    kwargs: dict[str, Any],
) -> None:
    transport = RecordingTransport()
    client = trackwire.Segment("KEY", transport=transport, send_first_immediately=False)
    try:
        receipt = client.track(**kwargs)
        assert client.flush(timeout=10)
    finally:
        client.shutdown(timeout=5)

    assert receipt.ok
    (message,) = transport.messages()
    assert type(message["userId"]) is str and type(message["event"]) is str


def test_message_ids_come_from_the_engine() -> None:
    from trackwire._engine import ids
    from trackwire.segment import messages

    assert messages.new_message_id is ids.new_message_id


_args = st.one_of(hostile.ids, hostile.values)
POSITIONAL = {"track": 3, "identify": 2, "page": 4, "screen": 4, "group": 3, "alias": 2}


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(["track", "identify", "page", "screen", "group", "alias"]),
    first=_args,
    second=_args,
    third=_args,
    fourth=_args,
    timestamp=st.one_of(st.none(), hostile.leaves),
    message_id=st.one_of(st.none(), hostile.ids),
    context=st.one_of(st.none(), hostile.values),
)
def test_every_call_returns_a_receipt_or_raises_a_trackwire_error(
    analytics: trackwire.Segment,
    method: str,
    first: Any,
    second: Any,
    third: Any,
    fourth: Any,
    timestamp: Any,
    message_id: Any,
    context: Any,
) -> None:
    positional = [first, second, third, fourth][: POSITIONAL[method]]
    options = {"timestamp": timestamp, "message_id": message_id, "context": context}

    result, peak = call(lambda: getattr(analytics, method)(*positional, **options))

    assert isinstance(result, trackwire.Receipt | TrackwireError), type(result)
    assert peak < 50_000_000
