"""The spliced fast path of ``track`` writes exactly what the general path writes.

Each test sends one message through a client with a recording transport, cuts the message's
bytes out of the request body, and compares them with the message the general path builds
(``messages.common`` + ``encoding.encode``) from the same values, id and timestamp.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest

import trackwire
from trackwire._engine.encoding import encode
from trackwire.errors import MessageTooLargeError, ValidationError
from trackwire.segment import fast, wire
from trackwire.segment.messages import common
from trackwire.testing import RecordingTransport

_HEAD = b'{"batch":['
_TAIL = b'],"sentAt":"'


def client(**options: Any) -> tuple[trackwire.Segment, RecordingTransport]:
    transport = RecordingTransport()
    segment = trackwire.Segment(
        "WRITE_KEY",
        transport=transport,
        gzip=False,
        send_first_immediately=False,
        flush_at=1000,
        **options,
    )
    return segment, transport


def sent_bytes(transport: RecordingTransport) -> bytes:
    """The one message of the one request, as it was on the wire."""
    (request,) = transport.requests
    body = request.body
    assert body.startswith(_HEAD)
    return body[len(_HEAD) : body.rindex(_TAIL)]


def general_path(user_id: str, event: str, properties: Any, sent: bytes) -> bytes:
    """The bytes the general path makes for the same call, id and timestamp."""
    decoded = orjson.loads(sent)
    message = {"type": "track", "event": event, "properties": properties or {}}
    common(
        message,
        user_id=user_id,
        anonymous_id=None,
        context=None,
        integrations=None,
        timestamp=decoded["timestamp"],
        message_id=decoded["messageId"],
    )
    return encode(message)


PROPERTIES: list[dict[str, Any] | None] = [
    None,
    {},
    {"revenue": 39.95, "currency": "USD", "count": 3, "gift": False},
    {"nothing": None, "list": [1, "two", None], "nested": {"deep": {"deeper": [{}]}}},
    {
        "naive": datetime(2025, 6, 1, 12, 0, 0, 123456),
        "utc": datetime(1, 1, 1, tzinfo=timezone.utc),
        "offset": datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        "amount": Decimal("12.50"),
        "tags": {"a"},
    },
    {"text": 'quote " backslash \\ newline \n unicode é ✓ 😀'},
]


@pytest.mark.parametrize("properties", PROPERTIES)
def test_the_fast_path_writes_the_general_paths_bytes(properties: Any) -> None:
    segment, transport = client()
    receipt = segment.track(user_id="user-1", event="Order Completed", properties=properties)
    assert segment.flush(5)
    assert receipt.ok
    sent = sent_bytes(transport)
    assert sent == general_path("user-1", "Order Completed", properties, sent)
    assert receipt.message_id == orjson.loads(sent)["messageId"]


def test_the_fast_path_is_taken_for_the_common_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = fast.encode_track

    def spy(user_id: str, event: str, properties: Any) -> Any:
        calls.append(event)
        return original(user_id, event, properties)

    monkeypatch.setattr("trackwire.segment.client.encode_track", spy)
    segment, _ = client()
    segment.track(user_id="u", event="Plain", properties={"a": 1})
    segment.track(user_id="u", event="With context", context={"ip": "1.2.3.4"})
    segment.track(user_id=5, event="Int id")
    assert calls == ["Plain"]


def test_a_middleware_sees_every_message_even_the_common_call() -> None:
    seen: list[str] = []

    def middleware(message: dict[str, Any]) -> dict[str, Any]:
        seen.append(message["event"])
        message["properties"]["enriched"] = True
        return message

    segment, transport = client(middleware=[middleware])
    segment.track(user_id="u", event="E", properties={"a": 1})
    assert segment.flush(5)
    assert seen == ["E"]
    assert transport.messages()[0]["properties"] == {"a": 1, "enriched": True}


@pytest.mark.parametrize(
    ("properties", "field"),
    [
        ({"score": math.nan}, "properties.score"),
        ({"nested": {"inf": [1.0, -math.inf]}}, "properties.nested.inf[1]"),
        ({"when": object()}, "properties.when"),
        ({1: "int key"}, "properties.1"),
    ],
)
def test_values_the_encoder_refuses_name_their_field_from_the_root(
    properties: dict[Any, Any], field: str
) -> None:
    segment, transport = client()
    with pytest.raises(ValidationError) as caught:
        segment.track(user_id="u", event="E", properties=properties)
    assert caught.value.field == field
    assert segment.flush(5)
    assert transport.requests == []


def test_a_message_over_32kb_is_refused_at_the_call() -> None:
    segment, transport = client()
    with pytest.raises(MessageTooLargeError):
        segment.track(user_id="u", event="E", properties={"blob": "x" * wire.MAX_MESSAGE_BYTES})
    segment.track(user_id="u", event="E", properties={"blob": "x" * 1000})
    assert segment.flush(5)
    assert len(transport.messages()) == 1


def test_a_lone_surrogate_takes_the_general_path_and_its_error() -> None:
    segment, _ = client()
    with pytest.raises(ValidationError):
        segment.track(user_id="u", event="bad \ud800 name")


def test_a_disabled_client_sends_nothing_on_the_fast_path() -> None:
    segment, transport = client(enable=False)
    receipt = segment.track(user_id="u", event="E", properties={"a": 1})
    assert receipt.error is not None and receipt.error.reason == "disabled"
    assert segment.flush(5)
    assert transport.requests == []


def test_ids_are_unique_and_timestamps_are_utc_milliseconds() -> None:
    segment, transport = client()
    receipts = [segment.track(user_id="u", event=f"E{i}") for i in range(200)]
    assert segment.flush(5)
    messages = transport.messages()
    assert len({m["messageId"] for m in messages}) == 200
    assert [m["messageId"] for m in messages] == [r.message_id for r in receipts]
    for message in messages:
        stamp = message["timestamp"]
        assert len(stamp) == 24 and stamp.endswith("Z")
        assert wire.parse_timestamp(stamp) is not None


def test_a_subclass_that_reads_every_message_dict_still_gets_it() -> None:
    seen: list[dict[str, Any]] = []

    class Watching(trackwire.Segment):
        def _enqueue(self, message: dict[str, Any], **options: Any) -> Any:
            seen.append(message)
            return super()._enqueue(message, **options)

    transport = RecordingTransport()
    segment = Watching("WRITE_KEY", transport=transport, send_first_immediately=False)
    segment.track(user_id="u", event="E", properties={"a": 1})
    assert segment.flush(5)
    assert [m["event"] for m in seen] == ["E"]
    assert transport.messages()[0]["messageId"] == seen[0]["messageId"]


def test_event_names_are_encoded_once_and_the_cache_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fast, "_event_json", {})
    names = [f'Event {i} ✓ "quoted"' for i in range(fast._EVENT_CACHE_SIZE + 5)]
    for name in names + names[:3]:
        encoded = fast.encode_track("u", name, None)
        assert encoded is not None
        assert orjson.loads(encoded[1])["event"] == name  # cached or not, the same bytes
    assert len(fast._event_json) <= fast._EVENT_CACHE_SIZE
    assert fast._event_json[names[2]] == orjson.dumps(names[2])
    assert fast.encode_track("u", "lone \ud800 surrogate", None) is None  # not cached
    assert "lone \ud800 surrogate" not in fast._event_json
