"""FanOut without a network: the documented mappings, tables, filters, refusals, options."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

import pytest

import trackwire
from trackwire.errors import ConfigError, ValidationError
from trackwire.fanout import amplitude_events, mparticle_batch
from trackwire.fanout.spec import build_message, timestamp_ms
from trackwire.testing import RecordingTransport

WHEN = datetime(2026, 1, 5, 10, 30, tzinfo=timezone.utc)
WHEN_MS = int(WHEN.timestamp() * 1000)


def message(kind: str, **fields: Any) -> dict[str, Any]:
    shared = {"anonymous_id": None, "context": None, "integrations": None,
              "timestamp": WHEN, "message_id": "mid-1"}  # fmt: skip
    user_id = fields.pop("user_id", "user-1")
    for name in list(shared):
        if name in fields:
            shared[name] = fields.pop(name)
    return build_message(kind, fields, user_id=user_id, **shared)


# ---------------------------------------------------------------- the Segment message


def test_the_message_is_segments_wire_shape() -> None:
    built = message("track", event="Played", properties={"a": 1}, anonymous_id=42)
    assert built == {
        "type": "track", "userId": "user-1", "anonymousId": "42", "event": "Played",
        "properties": {"a": 1}, "messageId": "mid-1", "timestamp": "2026-01-05T10:30:00.000Z",
        "context": {}, "integrations": {},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        ("track", {"user_id": None}, "user_id"),
        ("track", {}, "event"),
        ("track", {"event": "x", "properties": [1]}, "properties"),
        ("track", {"event": "x", "timestamp": "yesterday"}, "timestamp"),
        ("track", {"event": "x", "timestamp": 5}, "timestamp"),
        ("group", {}, "group_id"),
        ("alias", {}, "previous_id"),
        ("page", {"name": 3}, "name"),
        ("identify", {"user_id": True}, "user_id"),
    ],
)
def test_caller_mistakes_name_the_field(kind: str, fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        message(kind, **fields)
    assert info.value.field == field


def test_timestamps_naive_is_utc_and_text_is_read() -> None:
    assert timestamp_ms("2026-01-05T10:30:00Z") == WHEN_MS
    assert timestamp_ms("2026-01-05T11:30:00+01:00") == WHEN_MS
    assert timestamp_ms("2026-01-05T10:30:00") == WHEN_MS
    naive = message("track", event="x", timestamp=datetime(2026, 1, 5, 10, 30))
    assert naive["timestamp"] == "2026-01-05T10:30:00.000Z"


# ---------------------------------------------------------------- the default mappings


def test_track_to_amplitude_carries_revenue_and_context() -> None:
    context = {
        "ip": "203.0.113.9",
        "userAgent": "UA/1",
        "locale": "fr-FR",
        "os": {"name": "iOS"},
        "location": {"country": "FR"},
        "device": {"model": 3},
    }
    properties = {"revenue": 10, "quantity": 2, "productId": "p-1", "ok": True}
    built = message(
        "track", event="Order Completed", anonymous_id="anon-77", context=context,
        properties=properties,
    )  # fmt: skip
    assert amplitude_events(built) == [{
        "time": WHEN_MS, "user_id": "user-1", "device_id": "anon-77", "ip": "203.0.113.9",
        "user_agent": "UA/1", "language": "fr-FR", "os_name": "iOS", "country": "FR",
        "event_type": "Order Completed", "insert_id": "mid-1",
        "event_properties": {"revenue": 10, "quantity": 2, "productId": "p-1", "ok": True},
        "revenue": 10.0, "quantity": 2, "productId": "p-1",
    }]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "fields", "event_type"),
    [
        ("page", {"name": "Pricing"}, "Viewed Pricing Page"),
        ("page", {}, "Loaded a Page"),
        ("screen", {"name": "Home"}, "Viewed Home Screen"),
        ("screen", {"category": "x"}, "Loaded a Screen"),
    ],
)
def test_views_to_amplitude(kind: str, fields: dict[str, Any], event_type: str) -> None:
    events = amplitude_events(message(kind, **fields))
    assert events is not None and events[0]["event_type"] == event_type


def test_identify_group_alias_to_amplitude() -> None:
    identify = amplitude_events(message("identify", traits={"plan": "pro"}))
    assert identify is not None
    assert identify[0]["user_properties"] == {"$set": {"plan": "pro"}}
    group = amplitude_events(message("group", group_id="acme", traits={"size": 3}), "org")
    assert group is not None
    assert [e["event_type"] for e in group] == ["$identify", "$groupidentify"]
    assert group[0]["groups"] == {"org": "acme"} == group[1]["groups"]
    assert group[1]["group_properties"] == {"$set": {"size": 3}}
    assert "user_id" not in group[1] and group[1]["insert_id"] == "mid-1:group"
    no_traits = amplitude_events(message("group", group_id="acme"))
    assert no_traits is not None and len(no_traits) == 1
    assert amplitude_events(message("alias", previous_id="anon-1")) is None


def test_mparticle_batches() -> None:
    properties = {"n": 1, "tags": ["x"], "deep": {"k": 1}}
    track = mparticle_batch(
        message("track", event="Played", anonymous_id="a-1", properties=properties)
    )
    assert track == {
        "source_request_id": "mid-1",
        "user_identities": {"customer_id": "user-1", "other": "a-1"},
        "events": [{"event_type": "custom_event", "data": {
            "event_name": "Played", "custom_event_type": "other",
            "custom_attributes": {"n": 1, "tags": '["x"]', "deep": '{"k":1}'},
            "timestamp_unixtime_ms": WHEN_MS, "source_message_id": "mid-1"}}],
    }  # fmt: skip
    identify = mparticle_batch(
        message("identify", traits={"email": "e@x.io", "age": 30, "tags": ["a", 1]})
    )
    assert identify is not None and "events" not in identify
    assert identify["user_attributes"] == {"email": "e@x.io", "age": "30", "tags": ["a", "1"]}
    assert identify["user_identities"]["email"] == "e@x.io"
    page = mparticle_batch(message("page", context={"userAgent": "UA", "ip": "198.51.100.1"}))
    assert page is not None and page["events"][0]["data"]["screen_name"] == "Loaded a Page"
    assert page["device_info"] == {"http_header_user_agent": "UA"} and page["ip"] == "198.51.100.1"
    group = mparticle_batch(message("group", group_id="acme", traits={"x": 1}), "company")
    assert group is not None and group["user_attributes"] == {"company": "acme"}
    alias = mparticle_batch(message("alias", previous_id="anon-1"))
    assert alias is not None
    data = alias["events"][0]["data"]
    assert (data["old"]["identity"], data["new"]["identity"]) == ("anon-1", "user-1")


# ---------------------------------------------------------------- FanOut on recording transports


@pytest.fixture
def transports() -> dict[str, RecordingTransport]:
    return {name: RecordingTransport() for name in ("segment", "amplitude", "mparticle")}


def make(transports: dict[str, RecordingTransport], **options: Any) -> trackwire.FanOut:
    return trackwire.FanOut(
        segment=trackwire.Segment("k", transport=transports["segment"]),
        amplitude=trackwire.Amplitude("k", transport=transports["amplitude"]),
        mparticle=trackwire.MParticle("k", "s", transport=transports["mparticle"]),
        **options,
    )


def test_tables_rename_and_drop_per_destination(transports: dict[str, RecordingTransport]) -> None:
    table = {"event": {"Order Completed": "purchase", "Debug": None},
             "properties": {"revenue": "amount"}}  # fmt: skip
    with make(transports, mappings={"amplitude": {"track": table}}) as fanout:
        kept = fanout.track("user-1", "Order Completed", {"revenue": 5})
        dropped = fanout.track("user-1", "Debug")
        assert fanout.flush(timeout=10)
    assert kept.wait(5) and dropped.wait(5)
    assert dropped.skipped == {"amplitude": "filtered"} and set(dropped.results) == {
        "segment", "mparticle",
    }  # fmt: skip
    amplitude = transports["amplitude"].messages()
    assert [(e["event_type"], e["event_properties"]) for e in amplitude] == [
        ("purchase", {"amount": 5})
    ]
    assert [m["event"] for m in transports["segment"].messages()] == ["Order Completed", "Debug"]
    assert fanout.stats()["amplitude"]["skipped"] == {"filtered": 1}


def test_a_callable_mapping_and_filters(transports: dict[str, RecordingTransport]) -> None:
    def to_amplitude(msg: dict[str, Any]) -> dict[str, Any] | None:
        if msg["type"] != "track":
            return None
        return {"event_type": msg["event"].lower(), "user_id": msg["userId"]}

    fanout = make(
        transports,
        mappings={"amplitude": to_amplitude},
        filters={"mparticle": {"identify"}, "segment": lambda msg: msg["type"] == "track"},
    )
    track = fanout.track("user-1", "Signed Up")
    identify = fanout.identify("user-1", {"plan": "pro"})
    assert fanout.shutdown(timeout=10)
    assert track.skipped == {"mparticle": "filtered"}
    assert identify.skipped == {"amplitude": "no_mapping", "segment": "filtered"}
    assert track.ok and identify.ok
    assert [e["event_type"] for e in transports["amplitude"].messages()] == ["signed up"]
    assert [b["user_attributes"] for b in transports["mparticle"].messages()] == [{"plan": "pro"}]


def test_segment_integrations_object_is_honoured(transports: dict[str, RecordingTransport]) -> None:
    fanout = make(transports)
    off = fanout.track("user-1", "A", integrations={"All": False, "Segment": True})
    one = fanout.track("user-1", "B", integrations={"Amplitude": False})
    assert fanout.shutdown(timeout=10)
    assert off.skipped == {"amplitude": "integrations", "mparticle": "integrations"}
    assert one.skipped == {"amplitude": "integrations"}


def test_a_refusing_vendor_fails_only_its_own_result(
    transports: dict[str, RecordingTransport], caplog: pytest.LogCaptureFixture
) -> None:
    fanout = make(transports)
    # "u-1" is shorter than Amplitude's min_id_length: Amplitude cannot take it, others can.
    with caplog.at_level(logging.WARNING, logger="trackwire"):
        receipt = fanout.track("u-1", "Clicked", {"secret": "s3cr3t-value"})
    assert fanout.shutdown(timeout=10)
    assert receipt.results["segment"].ok and receipt.results["mparticle"].ok
    error = receipt.errors["amplitude"]
    assert error.reason == "rejected" and "user_id" in str(error)
    assert fanout.stats()["amplitude"]["refused"] == 1
    assert "amplitude refused a track call" in caplog.text
    assert "s3cr3t-value" not in caplog.text


def test_a_raising_mapping_drops_only_its_destination(
    transports: dict[str, RecordingTransport],
) -> None:
    def broken(msg: dict[str, Any]) -> Any:
        raise KeyError("scrubber failed")

    fanout = make(transports, mappings={"mparticle": {"track": broken}})
    receipt = fanout.track("user-1", "Clicked")
    assert fanout.shutdown(timeout=10)
    assert receipt.errors["mparticle"].reason == "middleware_error"
    assert receipt.results["amplitude"].ok and receipt.results["segment"].ok
    assert transports["mparticle"].messages() == []
    assert fanout.stats()["mparticle"]["skipped"] == {"mapping_error": 1}


def test_when_every_vendor_refuses_the_call_raises() -> None:
    fanout = trackwire.FanOut(amplitude=trackwire.Amplitude("k", transport=RecordingTransport()))
    with pytest.raises(ValidationError):
        fanout.track("u-1", "Clicked")
    fanout.shutdown(timeout=5)


def test_hooks_and_stats_by_destination(transports: dict[str, RecordingTransport]) -> None:
    seen: list[tuple[str, int]] = []
    fanout = make(transports)
    fanout.on("flush", lambda name, report: seen.append((name, report.count)))
    receipt = fanout.track("user-1", "Clicked")
    assert fanout.flush(timeout=10) and receipt.ok
    assert sorted(name for name, _ in seen) == ["amplitude", "mparticle", "segment"]
    stats = fanout.stats()
    assert {name: s["delivered"] for name, s in stats.items()} == {
        "segment": 1, "amplitude": 1, "mparticle": 1,
    }  # fmt: skip
    assert fanout.shutdown(timeout=10) and fanout.closed


def test_await_receipt_and_async_with(transports: dict[str, RecordingTransport]) -> None:
    async def main() -> bool:
        async with make(transports) as fanout:
            receipt = fanout.screen("user-1", None, "Home")
            assert await fanout.aflush(timeout=10)
            return await receipt

    assert asyncio.run(main())


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({}, "at least one client"),
        ({"amplitude": 1, "mappings": {"mixpanel": {}}}, "unknown destination"),
        ({"amplitude": 1, "mappings": {"segment": {}}}, "no segment client"),
        ({"amplitude": 1, "mappings": {"amplitude": {"purchase": {}}}}, "unknown call"),
        ({"amplitude": 1, "mappings": {"amplitude": {"track": {"name": {}}}}}, "unknown table"),
        ({"amplitude": 1, "mappings": {"amplitude": {"track": {"event": {"a": 1}}}}}, "str"),
        ({"amplitude": 1, "mappings": {"amplitude": 3}}, "must be a function"),
        ({"amplitude": 1, "filters": {"amplitude": "track"}}, "must be a function fn"),
        ({"amplitude": 1, "group_type": ""}, "group_type"),
    ],
)
def test_bad_options_say_what_to_do(options: dict[str, Any], text: str) -> None:
    with pytest.raises(ConfigError, match=text):
        trackwire.FanOut(**options)


def test_a_segment_mapping_and_done_callbacks(transports: dict[str, RecordingTransport]) -> None:
    def scrub(msg: dict[str, Any]) -> dict[str, Any]:
        traits = {k: v for k, v in msg.get("traits", {}).items() if k != "email"}
        return {**msg, "traits": traits}

    fanout = make(transports, mappings={"segment": {"identify": scrub}})
    done: list[bool] = []
    receipt = fanout.identify("user-1", {"email": "a@b.io", "plan": "pro"})
    receipt.add_done_callback(lambda r: done.append(r.ok))
    assert fanout.shutdown(timeout=10)
    assert done == [True] and receipt.done
    [segment] = transports["segment"].messages()
    assert segment["traits"] == {"plan": "pro"} and segment["messageId"] == receipt.message_id
    [amplitude] = transports["amplitude"].messages()
    assert amplitude["user_properties"] == {"$set": {"email": "a@b.io", "plan": "pro"}}
    assert amplitude["insert_id"] == receipt.message_id
