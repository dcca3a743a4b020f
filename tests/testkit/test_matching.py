"""Expectations: what matches, how a near miss is described, and which misses come first."""

from __future__ import annotations

from typing import Any

from trackwire.collector.matching import Expectation, nearest
from trackwire.collector.store import StoredEvent


def stored(event_id: int, **fields: Any) -> StoredEvent:
    values: dict[str, Any] = {
        "id": event_id,
        "vendor": "segment",
        "source": "src",
        "type": "track",
        "event_name": "Song Played",
        "user_id": "u1",
        "device_id": "d1",
        "amplitude_id": 1,
        "client_time_ms": None,
        "received_time_ms": 0,
        "dedup_key": None,
        "payload": {"event": "Song Played", "properties": {"n": 1, "ok": True}},
    }
    values.update(fields)
    return StoredEvent(**values)


def test_an_empty_expectation_matches_anything() -> None:
    assert Expectation().matches(stored(1))


def test_each_field_narrows_the_match() -> None:
    event = stored(1)
    assert Expectation(vendor="segment", event="Song Played", user="u1").matches(event)
    assert Expectation(user="d1").matches(event)  # the device id is the user too
    assert Expectation(vendor="amplitude").mismatches(event) == ["vendor 'segment'"]
    assert Expectation(source="other").mismatches(event) == ["source 'src'"]
    assert Expectation(type="identify").mismatches(event) == ["type 'track'"]
    assert Expectation(user="u2").mismatches(event) == ["user 'u1' / device 'd1'"]


def test_properties_match_by_value_and_type() -> None:
    event = stored(1)
    assert Expectation(properties={"n": 1}).matches(event)
    assert Expectation(properties={"n": 1.0}).matches(event)  # JSON has one number type
    assert Expectation(properties={"ok": True}).matches(event)
    assert Expectation(properties={"ok": 1}).mismatches(event) == ["properties.ok=True"]
    assert Expectation(properties={"n": True}).mismatches(event) == ["properties.n=1"]
    assert Expectation(properties={"x": 1}).mismatches(event) == ["properties.x missing"]
    assert Expectation(traits={"plan": "pro"}).mismatches(event) == ["traits.plan missing"]


def test_nearest_puts_fewer_differences_first_then_similar_names() -> None:
    wanted = Expectation(vendor="segment", event="Song Played", user="u1")
    events = [
        stored(1, vendor="amplitude", event_name="Other", user_id="u9", device_id=None),
        stored(2, event_name="Song Playd"),
        stored(3, event_name="Zebra"),
        stored(4, event_name="Song Played", user_id="u2", device_id=None, vendor="amplitude"),
    ]
    ranked = [(event.id, differences) for event, differences in nearest(wanted, events, 3)]
    assert ranked == [
        (2, ["event 'Song Playd'"]),
        (3, ["event 'Zebra'"]),
        (4, ["vendor 'amplitude'", "user 'u2' / device None"]),
    ]


def test_describe_reads_like_the_expectation() -> None:
    text = Expectation(
        vendor="amplitude", event="Song Played", user="u1", properties={"n": 1}
    ).describe()
    assert text == "amplitude event 'Song Played' for user 'u1' with properties {'n': 1}"
