"""The fast path of ``Amplitude.track`` sends exactly what the general path sends.

Each test sends the same event through two clients on recording transports, one that takes
the fast path and one forced onto the general path (a pass-through middleware), with the
clock and the id maker fixed, and compares the request bodies byte for byte. Whether the fast
path took the event is asked of the client's encoder itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest

import trackwire
from trackwire._engine.transport import HTTPResult
from trackwire.amplitude import BaseEvent, answers, wire
from trackwire.amplitude import client as client_module
from trackwire.amplitude import fast as fast_module
from trackwire.errors import MessageTooLargeError, ValidationError
from trackwire.testing import RecordingTransport

KEY = "unit-key"
OK = HTTPResult(status=200, body=orjson.dumps(answers.success_body(1, 1, 1)))
NOW_MS = 1_767_225_600_123
INSERT_ID = "0f0e0d0c-0b0a-4908-a706-050403020100"


@pytest.fixture(autouse=True)
def fixed_clock_and_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both paths read the same time and make the same insert id."""
    monkeypatch.setattr(client_module, "_time_ns", lambda: NOW_MS * 1_000_000 + 456)
    monkeypatch.setattr(client_module, "new_message_id", lambda: INSERT_ID)
    monkeypatch.setattr(fast_module, "new_message_id", lambda: INSERT_ID)


def make(**options: Any) -> tuple[trackwire.Amplitude, RecordingTransport]:
    transport = RecordingTransport(default=OK)
    amp = trackwire.Amplitude(
        KEY, transport=transport, upload_interval=60, send_first_immediately=False, **options
    )
    return amp, transport


@pytest.fixture
def pair() -> Iterator[tuple[trackwire.Amplitude, trackwire.Amplitude, list[RecordingTransport]]]:
    """A client on the fast path and one on the general path (a middleware that changes
    nothing), and their transports."""
    fast, fast_transport = make()
    general, general_transport = make(middleware=[lambda event: event])
    yield fast, general, [fast_transport, general_transport]
    fast.shutdown()
    general.shutdown()


def bodies(
    clients: tuple[trackwire.Amplitude, trackwire.Amplitude], transports: list[RecordingTransport]
) -> list[bytes]:
    for amp in clients:
        assert amp.flush(timeout=10)
    return [b"".join(request.body for request in t.requests) for t in transports]


def properties() -> dict[str, Any]:
    return {
        "order_id": "order-000001",
        "quantity": 2,
        "revenue": 11.25,
        "price": Decimal("10.10"),
        "gift": False,
        "note": None,
        "tags": ["summer", "sale", ("a", 1)],
        "shipping": {"method": "ground", "eta": datetime(2026, 1, 1, 12, tzinfo=timezone.utc)},
        "city": 'Zürich ☃ "quoted" \\ back',
    }


def nested(levels: int) -> dict[str, Any]:
    """Properties ``levels`` levels deep, counting the properties object itself."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"in": value}
    return value


FAST_EVENTS: dict[str, Any] = {
    "user id and properties": {
        "event_type": "Order",
        "user_id": "user-1",
        "event_properties": properties(),
    },
    "properties first": {"event_properties": {"a": 1}, "event_type": "Order", "user_id": "user-1"},
    "device id only": {"event_type": "Open", "device_id": "device-1"},
    "both ids": {"user_id": "user-1", "device_id": "device-1", "event_type": "Open"},
    "empty properties": {"event_type": "Open", "user_id": "user-1", "event_properties": {}},
    "forty levels allowed": {
        "event_type": "Deep",
        "user_id": "user-1",
        "event_properties": nested(40),
    },
    "longest name": {"event_type": "e" * wire.MAX_STRING_LENGTH, "user_id": "user-1"},
    "session id": {"event_type": "Open", "user_id": "user-1", "session_id": 1_767_225_600_000},
    "time given": {"event_type": "Open", "user_id": "user-1", "time": 1_600_000_000_000},
    "insert id given": {"insert_id": "mine-123", "event_type": "Open", "user_id": "user-1"},
    "time and insert id given": {
        "event_type": "Open",
        "time": 1_600_000_000_000,
        "user_id": "user-1",
        "insert_id": "mine-123",
        "session_id": -1,
    },
}


@pytest.mark.parametrize("event", FAST_EVENTS.values(), ids=FAST_EVENTS.keys())
def test_the_fast_path_writes_what_the_general_path_writes(
    pair: tuple[trackwire.Amplitude, trackwire.Amplitude, list[RecordingTransport]],
    event: dict[str, Any],
) -> None:
    fast, general, transports = pair
    assert fast._fast_encode is not None and fast._fast_encode(event) is not None
    before = repr(event)
    receipts = [fast.track(event), general.track(event)]
    assert repr(event) == before  # the caller's dict is never changed
    insert_id = event.get("insert_id", INSERT_ID)
    assert [r.message_id for r in receipts] == [insert_id, insert_id]
    sent_fast, sent_general = bodies((fast, general), transports)
    assert sent_fast == sent_general
    (sent,) = orjson.loads(sent_fast)["events"]
    assert (sent["time"], sent["insert_id"]) == (event.get("time", NOW_MS), insert_id)
    assert sent["library"] == f"trackwire/{trackwire.__version__}"


def test_a_base_event_takes_the_fast_path_and_writes_the_same(
    pair: tuple[trackwire.Amplitude, trackwire.Amplitude, list[RecordingTransport]],
) -> None:
    fast, general, transports = pair
    event = BaseEvent("Order", user_id="user-1", event_properties=properties())
    assert fast._fast_encode is not None and fast._fast_encode(event.to_dict()) is not None
    fast.track(event)
    general.track(event)
    sent_fast, sent_general = bodies((fast, general), transports)
    assert sent_fast == sent_general
    assert event.insert_id is None and event.time is None  # the caller's event unchanged


SENT_BY_THE_GENERAL_PATH: dict[str, Any] = {
    "short user id removed": {"event_type": "Open", "user_id": "abc", "device_id": "device-1"},
    "a None left out": {"event_type": "Open", "user_id": None, "device_id": "device-1"},
    "camelCase key": {"eventType": "Open", "userId": "user-1"},
    "another field": {"event_type": "Open", "user_id": "user-1", "platform": "Web"},
    "empty insert id": {"event_type": "Open", "user_id": "user-1", "insert_id": ""},
    "long insert id truncated": {
        "event_type": "Open",
        "user_id": "user-1",
        "insert_id": "i" * 1025,
    },
    "a None among the rarer fields": {"event_type": "Open", "user_id": "user-1", "time": None},
    "long name truncated": {"event_type": "e" * (wire.MAX_STRING_LENGTH + 1), "user_id": "user-1"},
    "long id truncated": {"event_type": "Open", "user_id": "u" * (wire.MAX_STRING_LENGTH + 5)},
}


@pytest.mark.parametrize(
    "event", SENT_BY_THE_GENERAL_PATH.values(), ids=SENT_BY_THE_GENERAL_PATH.keys()
)
def test_events_the_fast_path_declines_are_sent_by_the_general_path(
    pair: tuple[trackwire.Amplitude, trackwire.Amplitude, list[RecordingTransport]],
    event: dict[str, Any],
) -> None:
    fast, general, transports = pair
    assert fast._fast_encode is not None and fast._fast_encode(event) is None
    fast.track(event)
    general.track(event)
    sent_fast, sent_general = bodies((fast, general), transports)
    assert sent_fast == sent_general
    (sent,) = orjson.loads(sent_fast)["events"]
    assert len(sent["event_type"]) <= wire.MAX_STRING_LENGTH


REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "blocked id": ({"event_type": "Open", "user_id": "null"}, "user_id"),
    "session id a bool": (
        {"event_type": "Open", "user_id": "user-1", "session_id": True},
        "session_id",
    ),
    "time a float": ({"event_type": "Open", "user_id": "user-1", "time": 1.6e12}, "time"),
    "blocked id in capitals": ({"event_type": "Open", "user_id": "UNDEFINED"}, "user_id"),
    "blocked device id": (
        {"event_type": "Open", "device_id": "00000000-0000-0000-0000-000000000000"},
        "device_id",
    ),
    "no id": ({"event_type": "Open", "event_properties": {"a": 1}}, "user_id"),
    "empty name": ({"event_type": "", "user_id": "user-1"}, "event_type"),
    "name not a str": ({"event_type": 7, "user_id": "user-1"}, "event_type"),
    "id not a str": ({"event_type": "Open", "user_id": 12345}, "user_id"),
    "properties not a dict": (
        {"event_type": "Open", "user_id": "user-1", "event_properties": [1]},
        "event_properties",
    ),
    "unknown key": (
        {"event_type": "Open", "user_id": "user-1", "event_propertys": {}},
        "event_propertys",
    ),
    "forty-one levels": (
        {"event_type": "Deep", "user_id": "user-1", "event_properties": nested(41)},
        "event_properties",
    ),
    "NaN": ({"event_type": "Open", "user_id": "user-1", "event_properties": {"x": math.nan}}, "x"),
    "an object JSON cannot hold": (
        {"event_type": "Open", "user_id": "user-1", "event_properties": {"x": object()}},
        "x",
    ),
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_what_the_rules_refuse_is_refused_naming_the_field(
    case: tuple[dict[str, Any], str],
) -> None:
    event, field = case
    amp, _ = make()
    try:
        assert amp._fast_encode is not None and amp._fast_encode(event) is None
        with pytest.raises(ValidationError) as raised:
            amp.track(event)
        assert field in str(raised.value)
        assert amp.stats()["enqueued"] == 0
    finally:
        amp.shutdown()


def test_an_event_over_the_size_limit_is_refused() -> None:
    amp, _ = make()
    event = {"event_type": "Big", "user_id": "user-1", "event_properties": {"x": "y" * 1_100_000}}
    try:
        assert amp._fast_encode is not None and amp._fast_encode(event) is None
        with pytest.raises(MessageTooLargeError):
            amp.track(event)
    finally:
        amp.shutdown()


class Tagger:
    """A plugin that marks every event it sees."""

    def execute(self, event: BaseEvent) -> BaseEvent:
        event.event_properties = {**(event.event_properties or {}), "tagged": True}
        return event


def test_plugins_middleware_callbacks_and_defaults_see_every_event() -> None:
    event = {"event_type": "Open", "user_id": "user-1"}
    seen: list[str] = []
    settled: list[int] = []
    amp, transport = make(middleware=[lambda e: {**e, "platform": "mw"}])
    amp.add(Tagger())
    amp.add_event_middleware(lambda payload, next_: (seen.append("event"), next_(payload)))
    amp.track(event, callback=lambda _event, code, _message: settled.append(code))
    defaults, default_transport = make(session_id=42)
    defaults.track(event)
    try:
        assert amp.flush(timeout=10) and defaults.flush(timeout=10)
        (sent,) = [e for r in transport.requests for e in orjson.loads(r.body)["events"]]
        assert sent["platform"] == "mw" and sent["event_properties"] == {"tagged": True}
        assert seen == ["event"] and settled == [200]
        (with_default,) = orjson.loads(default_transport.requests[0].body)["events"]
        assert with_default["session_id"] == 42
    finally:
        amp.shutdown()
        defaults.shutdown()


def test_a_middleware_that_fails_drops_the_event() -> None:
    def broken(event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("scrubber down")

    amp, transport = make(middleware=[broken])
    try:
        receipt = amp.track({"event_type": "Open", "user_id": "user-1"})
        assert amp.flush(timeout=10)
        assert receipt.error is not None and receipt.error.reason == "middleware_error"
        assert transport.requests == []
    finally:
        amp.shutdown()


def test_opted_out_and_disabled_clients_send_nothing() -> None:
    event = {"event_type": "Open", "user_id": "user-1"}
    opted, opted_transport = make(opt_out=True)
    disabled, disabled_transport = make(enable=False)
    try:
        receipts = [opted.track(event), disabled.track(event)]
        assert opted.flush(timeout=10) and disabled.flush(timeout=10)
        assert [r.error.reason if r.error else None for r in receipts] == ["disabled"] * 2
        assert opted_transport.requests == [] and disabled_transport.requests == []
    finally:
        opted.shutdown()
        disabled.shutdown()


def test_a_subclass_that_overrides_the_send_path_sees_every_event() -> None:
    seen: list[dict[str, Any]] = []

    class Recording(trackwire.Amplitude):
        def _submit(self, message: dict[str, Any], **options: Any) -> trackwire.Receipt:
            seen.append(message)
            return super()._submit(message, **options)

    amp = Recording(KEY, transport=RecordingTransport(default=OK), send_first_immediately=False)
    try:
        assert amp._fast_encode is None
        amp.track({"event_type": "Open", "user_id": "user-1"})
        assert [event["event_type"] for event in seen] == ["Open"]
    finally:
        amp.shutdown()
