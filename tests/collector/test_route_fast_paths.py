"""The routes' one-pass paths for common events give exactly what the general checks give.

Each vendor route accepts its common event in one pass (exact JSON types, each field read
once) and sends anything else through the general rules. These tests hold the two together:
whatever the one-pass path accepts, the general path accepts with the same stored message,
bytes, time and record; whatever it declines, it leaves untouched.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import orjson
import pytest

from trackwire.amplitude import wire as amplitude_wire
from trackwire.collector import records
from trackwire.collector.records import (
    amplitude_event_record,
    epoch_ms,
    mparticle_records,
    segment_record,
)
from trackwire.collector.routes import segment as segment_route
from trackwire.collector.store import EventRecord, SharedContext
from trackwire.mparticle import batch_checks
from trackwire.segment import wire as segment_wire

RECEIVED = datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=timezone.utc)

#: Values of the wrong JSON type, or empty, for any field.
ODD: list[Any] = [None, "", 0, 7, 1.5, True, False, [], {}, ["x"], {"a": 1}]
TEXTS = ["u-1", "\u00e9t\u00e9", '"q"', "a\\b", "\n", "x" * 40]


def cases(
    bases: list[dict[str, Any]], faults: dict[str, list[Any]], pairs: int = 1500
) -> Iterator[dict[str, Any]]:
    """Each valid base as it is, with every single fault, and with ``pairs`` random pairs of
    faults in two fields (seeded: the same cases every run)."""
    singles = [(name, value) for name, values in faults.items() for value in values]
    for base in bases:
        yield copy.deepcopy(base)
        for name, value in singles:
            yield {**copy.deepcopy(base), name: copy.deepcopy(value)}
    rnd = random.Random(15)
    for _ in range(pairs):
        (a, x), (b, y) = rnd.sample(singles, 2)
        yield {**copy.deepcopy(rnd.choice(bases)), a: copy.deepcopy(x), b: copy.deepcopy(y)}


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"n": value}
    return value


# --- Segment -----------------------------------------------------------------------------------

GOOD_TIMES = [
    "2026-01-02T03:04:05.123Z",
    "2026-01-02T03:04:05.123456+02:00",
    "2026-01-02T03:04:05",
    "1969-12-31T23:59:59.9995Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59.999-01:00",
    "2026-01-02",
]
BAD_TIMES = ["not a time", "", "2026-13-01T00:00:00Z", *ODD]
SEGMENT_BASES: list[dict[str, Any]] = [
    {
        "type": "track",
        "event": "Bought",
        "userId": "u-1",
        "messageId": "m-1",
        "timestamp": "2026-01-02T03:04:05.123Z",
        "properties": {"revenue": 3, "sku": "a"},
        "context": {"library": {"name": "x"}},
    },
    {"type": "page", "anonymousId": "a-1", "name": "Home", "properties": {}},
    {"type": "screen", "userId": "u-2", "timestamp": "2026-01-02T03:04:05.123456+02:00"},
    {"type": "identify", "userId": "u-3", "traits": {"plan": "pro"}, "messageId": "m" * 100},
]
SEGMENT_FAULTS: dict[str, list[Any]] = {
    "type": ["group", "alias", "bogus", "track", "page", "screen", "identify", *ODD],
    "userId": [*ODD, *TEXTS],
    "anonymousId": [*ODD, *TEXTS],
    "event": [*ODD, *TEXTS],
    "name": [*ODD, *TEXTS],
    "messageId": ["m" * 101, *ODD],
    "timestamp": [*GOOD_TIMES, *BAD_TIMES],
    "properties": ODD,
    "traits": ODD,
    "context": ODD,
    "integrations": ODD,
    "groupId": [*ODD, "g-1"],
    "previousId": [*ODD, "p-1"],
    "sentAt": [*GOOD_TIMES, *BAD_TIMES],
    "receivedAt": ["2026-01-02T03:04:05Z", *ODD],
    "originalTimestamp": ["2026-01-02T03:04:05Z", *ODD],
}


SHARED = SharedContext("segment_envelope", {"context": {"ip": "1.2.3.4"}})


def _plain(message: dict[str, Any], measure: bool, enrichment: segment_wire.Enrichment) -> Any:
    return segment_route._plain_record(message, measure, enrichment, "src", SHARED)


def _general(message: dict[str, Any], measure: bool, enrichment: segment_wire.Enrichment) -> Any:
    """What the route did before its one-pass path: the checks, _prepare, the record."""
    problem = segment_wire.check_message(message)
    prepared = problem or segment_route._prepare(message, measure=measure, enrichment=enrichment)
    if isinstance(prepared, segment_wire.WireError):
        return prepared
    stored, encoded, _ms = prepared
    # The record as it was built then: the time parsed back from the stored text.
    return segment_record(stored, stored["type"], "src", payload_json=encoded, context=SHARED)


def _same_record(fast: Any, general: Any) -> None:
    if isinstance(fast, segment_wire.WireError):
        assert fast == general
        return
    assert isinstance(general, EventRecord)
    assert fast == general  # every field
    assert list(fast.payload.items()) == list(general.payload.items())  # and the key order
    assert fast.payload_json == orjson.dumps(fast.payload)


@pytest.mark.parametrize(
    "sent_at", [None, "2026-01-02T03:04:00.500Z", "2026-01-02T05:04:00+02:00", "bad"]
)
@pytest.mark.parametrize("measure", [False, True])
def test_segment_plain_path_matches_the_checks(sent_at: str | None, measure: bool) -> None:
    enrichment = segment_wire.Enrichment(received_at=RECEIVED, sent_at=sent_at)
    taken = 0
    for message in cases(SEGMENT_BASES, SEGMENT_FAULTS):
        fast_copy = copy.deepcopy(message)
        fast = _plain(fast_copy, measure, enrichment)
        if fast is None:
            assert list(fast_copy.items()) == list(message.items())  # declined: left as it was
            continue
        taken += 1
        _same_record(fast, _general(copy.deepcopy(message), measure, enrichment))
    assert taken > 300  # the one-pass path was exercised


def test_segment_plain_path_takes_the_common_message() -> None:
    message = {
        "type": "track",
        "event": "Bought",
        "userId": "u-1",
        "messageId": "m-1",
        "timestamp": "2026-01-02T03:04:05.123Z",
        "properties": {"revenue": 3},
    }
    enrichment = segment_wire.Enrichment(received_at=RECEIVED, sent_at="2026-01-02T03:04:06Z")
    fast = _plain(copy.deepcopy(message), True, enrichment)
    assert fast is not None
    assert isinstance(fast, EventRecord)
    _same_record(fast, _general(copy.deepcopy(message), True, enrichment))


@pytest.mark.parametrize("server_field", [None, "receivedAt", "sentAt", "originalTimestamp"])
@pytest.mark.parametrize("timestamp", ["absent", None, "2026-01-02T03:04:05.123+02:00"])
def test_segment_size_as_sent_decided_exactly_at_the_limit(
    server_field: str | None, timestamp: str | None
) -> None:
    """Around 32 KB the one-pass path and the general one refuse exactly the messages whose
    encoding as sent is over the limit."""
    enrichment = segment_wire.Enrichment(received_at=RECEIVED, sent_at="2026-01-02T03:04:00Z")
    base: dict[str, Any] = {"type": "track", "event": "E", "userId": "u-1"}
    if timestamp != "absent":
        base["timestamp"] = timestamp
    if server_field is not None:
        base[server_field] = "x"
    overhead = len(orjson.dumps({**base, "properties": {"p": ""}}))
    for delta in range(-130, 10):
        message = {
            **base,
            "properties": {"p": "x" * (segment_wire.MAX_MESSAGE_BYTES - overhead + delta)},
        }
        as_sent = len(orjson.dumps(message))
        for path in ("plain", "general"):
            work = copy.deepcopy(message)
            if path == "plain":
                got = _plain(work, True, enrichment)
                if got is None:
                    continue
            else:
                got = _general(work, True, enrichment)
            too_large = isinstance(got, segment_wire.WireError)
            assert too_large == (as_sent > segment_wire.MAX_MESSAGE_BYTES), (path, delta)
            if too_large:
                assert got.code == "message_too_large"
                assert f"is {as_sent} bytes" in got.message


@pytest.mark.parametrize("timestamp", [1767225600000, ["x" * 100] * 400, {"t": "x" * 40_000}])
def test_segment_size_as_sent_measures_a_timestamp_that_is_no_string(timestamp: Any) -> None:
    """Enrichment replaces a timestamp that is no time, so the enriched encoding says nothing
    of its size as sent: such a message is measured in full (the routes refuse it earlier, as
    an invalid field, but the wire function is public)."""
    enrichment = segment_wire.Enrichment(received_at=RECEIVED, sent_at=None)
    message: dict[str, Any] = {"type": "track", "event": "E", "userId": "u-1"}
    message["timestamp"] = timestamp
    # The rest as large as it may be with a short timestamp: the enriched encoding is then
    # just under the limit, whatever the timestamp was.
    message["properties"] = {"p": ""}
    room = segment_wire.MAX_MESSAGE_BYTES - len(orjson.dumps({**message, "timestamp": "0"}))
    message["properties"] = {"p": "x" * (room - 200)}
    as_sent = len(orjson.dumps(message))
    enriched = dict(message)
    enrichment.stamp_into(enriched)
    encoded = orjson.dumps(enriched)
    problem = segment_wire.size_problem_as_sent(enriched, len(encoded), True, timestamp)
    assert (problem is not None) == (as_sent > segment_wire.MAX_MESSAGE_BYTES)
    if problem is not None:
        assert f"is {as_sent} bytes" in problem.message
    for path in (_plain, _general):
        refused = path(copy.deepcopy(message), True, enrichment)
        assert refused is None or isinstance(refused, segment_wire.WireError)


def test_segment_stamp_gives_the_time_its_text_names() -> None:
    """The enrichment's time and its ISO text (milliseconds, cut) give the same epoch ms."""
    texts = ["2026-01-02T03:04:05.123999Z", "1969-12-31T23:59:59.9995+01:30", "2026-01-02T03:04"]
    for sent_at in (None, "2026-01-02T03:04:00.000250Z", "2026-01-01T00:00:00-05:00"):
        enrichment = segment_wire.Enrichment(received_at=RECEIVED, sent_at=sent_at)
        for text in texts:
            stored, when = enrichment.stamp({"timestamp": text})
            parsed = segment_wire.parse_timestamp(stored["timestamp"])
            assert parsed is not None
            assert epoch_ms(when) == epoch_ms(parsed)
            assert stored == enrichment.apply({"timestamp": text})


def test_segment_iso_text_is_isoformat_cut_to_milliseconds() -> None:
    rnd = random.Random(16)
    zones = [timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
    for _ in range(5000):
        when = datetime(1, 1, 2, tzinfo=timezone.utc) + timedelta(
            microseconds=rnd.randrange(315_537_000_000_000_000)
        )
        when = when.astimezone(rnd.choice(zones))
        expected = when.astimezone(timezone.utc).isoformat(timespec="milliseconds")
        assert segment_wire._iso(when) == expected.replace("+00:00", "Z")


# --- epoch milliseconds ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "when",
    [
        datetime(1970, 1, 1, tzinfo=timezone.utc),
        datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=timezone.utc),
        datetime(1, 1, 1, 0, 0, 0, 1),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=-3))),
        datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=timezone(timedelta(minutes=330))),
    ],
)
def test_epoch_ms_floors_exactly(when: datetime) -> None:
    aware = when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
    reference = (aware - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1)
    assert epoch_ms(when) == reference


# --- Amplitude ---------------------------------------------------------------------------------

AMPLITUDE_BASES: list[dict[str, Any]] = [
    {
        "event_type": "Bought",
        "user_id": "user-1",
        "device_id": "device-1",
        "insert_id": "i-1",
        "time": 1767225600000,
        "session_id": 1767225600000,
        "event_properties": {"$price": 2, "n": {"m": [1]}},
        "platform": "Web",
        "price": 2.5,
    },
    {
        "event_type": "$identify",
        "device_id": "device-2",
        "user_properties": {"$set": {"a": 1}},
        "groups": {"org": ["a", "b"]},
        "plan": {"branch": "main"},
        "$skip_user_properties_sync": True,
    },
]
AMPLITUDE_FAULTS: dict[str, list[Any]] = {
    "event_type": ["", *ODD],
    # "UN\u212aNOWN" (a Kelvin sign) lower-cases to the blocked "unknown"; "\u0130" lower-cases
    # to two characters.
    "user_id": [
        "ab",
        "abcd",
        "null",
        "NULL",
        "N/A",
        "NuLl",
        "Undefined",
        "UN\u212aNOWN",
        "NUL\u0130",
        "x" * 1100,
        "",
        *ODD,
    ],
    "device_id": ["d", "0", "-1", "NIL", "Lmy47D", "y" * 1100, "", *ODD],
    "insert_id": ["i" * 1025, *ODD],
    "time": [2**70, *ODD],
    "session_id": [-1, *ODD],
    "event_properties": [_nested(45), {"a": _nested(38)}, *ODD],
    "user_properties": [{"$set": {"a": 1}, "b": 2}, {"$bogus": {}}, _nested(45), *ODD],
    "group_properties": [{"a": 1}, *ODD],
    "groups": [{"org": ["a", 1]}, {"org": 1}, *ODD],
    "plan": [{"branch": 1}, {"versionId": "v"}, *ODD],
    "ingestion_metadata": [{"sourceName": 1}, *ODD],
    "price": ODD,
    "revenue": [10, *ODD],
    "quantity": [2, 2.5, *ODD],
    "platform": ["w" * 1025, *ODD],
    "$skip_user_properties_sync": ODD,
    "unknown_field": ODD,
}


@pytest.mark.parametrize("min_length", [1, 5, 8])
def test_amplitude_clean_event_is_one_check_event_passes(min_length: int) -> None:
    taken = 0
    for event in cases(AMPLITUDE_BASES, AMPLITUDE_FAULTS):
        if amplitude_wire._clean_event(event, min_length):
            taken += 1
            assert amplitude_wire.check_event(event, min_id_length=min_length) == [], event
    assert taken > 50


def _reference_check(body: dict[str, Any]) -> dict[str, Any]:
    """check_upload's grouping as written before its one-pass path: from check_event alone."""
    groups: dict[str, dict[str, list[int]]] = {"invalid": {}, "missing": {}, "length": {}}
    valid, invalid, long = [], [], []
    for index, event in enumerate(body["events"]):
        problems = amplitude_wire.check_event(event)
        if any(problem.kind == "long" for problem in problems):
            long.append(index)
        refused = [p for p in problems if p.kind not in amplitude_wire.NOT_REFUSED]
        (invalid if refused else valid).append(index)
        for problem in refused:
            indices = groups[problem.kind].setdefault(problem.field, [])
            if not indices or indices[-1] != index:
                indices.append(index)
    return {"groups": groups, "valid": valid, "invalid": invalid, "long": long}


def test_amplitude_check_upload_matches_check_event() -> None:
    events = list(cases(AMPLITUDE_BASES, AMPLITUDE_FAULTS, pairs=500))
    for start in range(0, len(events), 7):
        body = {"api_key": "k", "events": events[start : start + 7]}
        check = amplitude_wire.check_upload(body)
        expected = _reference_check(body)
        assert check.events_with_invalid_fields == expected["groups"]["invalid"]
        assert check.events_with_missing_fields == expected["groups"]["missing"]
        assert check.events_with_invalid_id_lengths == expected["groups"]["length"]
        assert check.valid_indices == expected["valid"]
        assert check.invalid_indices == expected["invalid"]
        assert check.long_indices == expected["long"]


@pytest.mark.parametrize(
    ("fields", "revenue"),
    [
        ({}, None),
        ({"revenue": 5}, 5.0),
        ({"price": 2, "quantity": 3}, 6.0),
        ({"price": 2.5}, 2.5),
        ({"revenue": "x", "price": 2, "quantity": 2}, 4.0),
        ({"revenue": True}, None),
        ({"event_properties": {"$revenue": 1.5, "revenue": 9}}, 1.5),
        ({"revenue": None, "event_properties": {"$price": 2, "$quantity": 2.5}}, 5.0),
        ({"price": "2", "event_properties": {"$revenue": 3}}, 3.0),
        ({"revenue": 1, "event_properties": {"$revenue": 3}}, 1.0),
        ({"event_properties": {"$quantity": 3}}, None),
        ({"event_properties": {"$price": False}}, None),
    ],
)
def test_amplitude_revenue(fields: dict[str, Any], revenue: float | None) -> None:
    record = amplitude_event_record({"event_type": "E", "user_id": "u-1", **fields}, "src")
    assert record.revenue == revenue


def test_amplitude_record_reads_non_json_types_as_before() -> None:
    """Values decoded JSON never holds (a bool time, a mapping that is no dict) take the
    general rules."""
    event = {
        "event_type": "E",
        "user_id": 12,
        "device_id": "",
        "time": True,
        "session_id": -1,
        "groups": MappingProxyType({"org": "a"}),
        "event_properties": MappingProxyType({"$price": 2, "$quantity": 3}),
        "user_properties": MappingProxyType({"plan": "pro"}),
    }
    record = amplitude_event_record(event, "src", endpoint="httpapi")
    assert (record.user_id, record.device_id, record.client_time_ms) == ("12", None, None)
    assert record.session_id is None
    assert record.groups == {"org": "a"}
    assert record.revenue == 6.0
    assert record.user_ops == (("$set", {"plan": "pro"}),)
    assert (record.dedup_scope, record.more_groups) == (None, ())


# --- mParticle ---------------------------------------------------------------------------------

MPARTICLE_BASES: list[dict[str, Any]] = [
    {
        "event_type": "custom_event",
        "data": {
            "event_name": "Hello",
            "custom_event_type": "other",
            "custom_attributes": {"a": "v", "b": 1, "c": 2.5, "d": True, "e": None},
            "timestamp_unixtime_ms": 10,
            "source_message_id": "m-1",
            "session_id": 5,
            "is_non_interactive": False,
        },
    },
    {"event_type": "screen_view", "data": {"screen_name": "Home", "unknown": [1]}},
    {"event_type": "crash_report", "data": {"severity": "fatal", "message": "boom"}},
]
MPARTICLE_DATA_FAULTS: dict[str, list[Any]] = {
    "event_name": ["", *ODD],
    "screen_name": ["", *ODD],
    "custom_event_type": ["purchase", "bogus", "navigation", *ODD],
    "custom_attributes": [{"a": [1]}, {"a": {}}, *ODD],
    "custom_flags": [{"a": "b"}, {"a": [{}]}, *ODD],
    "location": [{"latitude": 1, "longitude": 2}, {}, *ODD],
    "timestamp_unixtime_ms": [1767225600000, *ODD],
    "session_id": ODD,
    "severity": ["", *ODD],
    "message": ["", *ODD],
    "product_impressions": [[], *ODD],
    "product_action": [{"action": "purchase", "total_amount": 3}, *ODD],
}
MPARTICLE_EVENT_TYPES = ["screen_view", "session_start", "commerce_event", "profile", "bogus"]


def _mparticle_events() -> Iterator[Any]:
    for base in MPARTICLE_BASES:
        for data in cases([base["data"]], MPARTICLE_DATA_FAULTS, pairs=500):
            yield {**base, "data": data}
            for event_type in [*MPARTICLE_EVENT_TYPES, *ODD]:
                yield {"event_type": event_type, "data": data}
    yield from ODD
    for value in ODD:
        yield {"event_type": "custom_event", "data": value}


@pytest.mark.parametrize("historical", [False, True])
def test_mparticle_plain_event_is_one_the_checks_pass(historical: bool) -> None:
    before = 1_000_000 if historical else None
    taken = 0
    for event in _mparticle_events():
        if batch_checks._plain_event(event, before):
            taken += 1
            checker = batch_checks._Checker("", None)
            batch_checks._check_event(checker, event, "events[0]", before)
            assert checker.problems == [], event
    assert taken > 100


def test_mparticle_record_of_data_that_is_no_dict_follows_the_general_rules() -> None:
    batch = {
        "source_request_id": "r-1",
        "user_identities": {"customer_id": "u-1"},
        "events": [
            {"event_type": "custom_event", "data": MappingProxyType({"session_id": 4})},
            {
                "event_type": "custom_event",
                "data": {"event_name": "E", "source_message_id": "m", "session_id": True},
            },
        ],
    }
    first, second = mparticle_records(batch, "src")
    assert (first.dedup_key, first.event_name, first.session_id) == (
        "request:r-1:0",
        "custom_event",
        4,
    )
    assert (second.dedup_key, second.event_name, second.session_id) == ("m", "E", None)
    assert first.context is second.context and second.ops_once


@pytest.mark.parametrize("request_id", ["r-1", None])
def test_mparticle_record_one_pass_matches_the_general_rules(request_id: str | None) -> None:
    """The per-event record of a plain ``data`` dict, field for field, against the general
    rules (whatever the event's type and ``data`` hold)."""
    compared = 0
    for event in _mparticle_events():
        if event.__class__ is not dict or event.get("data").__class__ is not dict:
            continue
        if "event_type" not in event:
            continue
        batch = {
            "source_request_id": request_id,
            "user_identities": {"customer_id": "u-1"},
            "events": [{"event_type": "session_start", "data": {}}, event],
        }
        fast = mparticle_records(batch, "src")[1]
        assert fast.context is not None
        general = records._mparticle_record(
            event, "src", "u-1", None, request_id, 1, tuple(fast.user_ops), fast.context
        )
        assert fast == general, event
        compared += 1
    assert compared > 1000


MPARTICLE_DEVICES: list[dict[str, Any]] = [
    {"platform": "Android"},
    {
        "platform": "iOS",
        "is_tablet": False,
        "att_authorization_status": "authorized",
        "att_timestamp_unixtime_ms": 5,
        "ios_idfv": "123e4567-e89b-12d3-a456-426614174000",
        "brand": "x",
    },
]
MPARTICLE_DEVICE_FAULTS: dict[str, list[Any]] = {
    "platform": ["iOS", "Web", "bogus", "android", *ODD],
    "att_authorization_status": ["denied", "bogus", *ODD],
    "is_tablet": ODD,
    "limit_ad_tracking": ODD,
    "att_timestamp_unixtime_ms": [2**40, *ODD],
    "ios_idfv": ["123E4567-E89B-12D3-A456-426614174000", "not-a-uuid", *ODD],
    "roku_publisher_id": ["123e4567-e89b-12d3-a456-42661417400", *ODD],
    "brand": ODD,
}


def test_mparticle_plain_device_is_one_the_check_passes() -> None:
    taken = 0
    for device in cases(MPARTICLE_DEVICES, MPARTICLE_DEVICE_FAULTS, pairs=500):
        if batch_checks._plain_device(device):
            taken += 1
            checker = batch_checks._Checker("", None)
            batch_checks._check_device_fields(checker, device)
            assert checker.problems == [], device
    assert taken > 50


def test_segment_plain_record_is_the_class_call() -> None:
    """The Segment fast path's record equals the record built from the same fields by name."""
    message = {"type": "track", "event": "e", "userId": "u", "properties": {"revenue": 2}}
    fast = records.segment_plain_record(
        message, "track", "e", "u", None, "m-1", "src", 5, b"{}", None
    )
    slow = EventRecord(
        "segment", "src", "track", "e", "u", None, 5, "m-1", message,
        revenue=2.0, payload_json=b"{}", dedup_scope="*",
    )  # fmt: skip
    assert type(fast) is EventRecord
    assert fast == slow
