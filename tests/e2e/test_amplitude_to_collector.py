"""trackwire's Amplitude client -> the collector: every call kind, read back, end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

import trackwire
from trackwire import amplitude
from trackwire.amplitude import (
    BaseEvent,
    EventOptions,
    Identify,
    MiddlewarePayload,
    Revenue,
)
from trackwire.collector.keys import fingerprint
from trackwire.collector.server import RunningCollector, start_collector

KEY = "amp-e2e-key"
#: The collector names a development source by a fingerprint of its key.
SOURCE = fingerprint(KEY)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    """A development-mode collector on 127.0.0.1 with a file database."""
    with start_collector(db=tmp_path / "c.db", port=0) as running:
        yield running


def events_of(url: str, **filters: str) -> list[dict[str, Any]]:
    """Stored Amplitude events, oldest first."""
    response = urllib3.request(
        "GET", url + "/events", fields={"vendor": "amplitude", "limit": "1000", **filters}
    )
    assert response.status == 200
    events: list[dict[str, Any]] = orjson.loads(response.data)["events"]
    return events[::-1]


def client(collector: RunningCollector, **options: Any) -> trackwire.Amplitude:
    return trackwire.Amplitude(KEY, server_url=collector.url + "/2/httpapi", **options)


def test_every_event_kind_arrives(collector: RunningCollector) -> None:
    with client(collector) as amp:
        receipts = [
            amp.track(BaseEvent("Song Played", user_id="user-0001", event_properties={"n": 1})),
            amp.track(
                {
                    "eventType": "Camel Event",
                    "userId": "user-0001",
                    "deviceId": "device-0001",
                    "sessionId": 1492789357923,
                    "eventProperties": {"k": "v"},
                    "appVersion": "1.2",
                    "osName": "linux",
                    "osVersion": "6",
                    "deviceBrand": "b",
                    "deviceManufacturer": "m",
                    "deviceModel": "x",
                    "locationLat": 37.77,
                    "locationLng": -122.39,
                }
            ),
            amp.identify(Identify().set("plan", "pro"), EventOptions(user_id="user-0001")),
            amp.identify(user_id="user-0002", user_properties={"city": "Paris"}),
            amp.group_identify("org", "acme", Identify().set("seats", 40)),
            amp.set_group("org", "acme", user_id="user-0001"),
            amp.revenue(Revenue(price=9.5, quantity=2, product_id="sku-1"), user_id="user-0001"),
        ]
        assert amp.flush(timeout=10)
    assert all(r.ok for r in receipts), [r.error for r in receipts]
    assert all(r.response is not None and r.response.status == 200 for r in receipts)
    stored = {e["dedup_key"]: e for e in events_of(collector.url)}
    assert set(stored) == {r.message_id for r in receipts}
    track = stored[receipts[0].message_id]
    assert (track["event_name"], track["user_id"]) == ("Song Played", "user-0001")
    assert track["payload"]["event_properties"] == {"n": 1}
    assert track["payload"]["library"] == f"trackwire/{trackwire.__version__}"
    assert isinstance(track["client_time_ms"], int)
    camel = stored[receipts[1].message_id]["payload"]
    assert camel["session_id"] == 1492789357923
    assert (camel["os_name"], camel["location_lng"], camel["device_model"]) == (
        "linux",
        -122.39,
        "x",
    )
    assert stored[receipts[2].message_id]["event_name"] == "$identify"
    assert stored[receipts[4].message_id]["payload"]["groups"] == {"org": "acme"}
    revenue = stored[receipts[6].message_id]["payload"]
    assert revenue["event_type"] == "revenue_amount"
    assert revenue["event_properties"] == {"$price": 9.5, "$quantity": 2, "$productId": "sku-1"}
    user = collector.store.user("amplitude", SOURCE, user_id="user-0001")
    assert user is not None and user.properties == {"plan": "pro", "org": "acme"}
    other = collector.store.user("amplitude", SOURCE, user_id="user-0002")
    assert other is not None and other.properties == {"city": "Paris"}
    assert collector.store.group("amplitude", SOURCE, "org", "acme") == {"seats": 40}


def test_identify_operations_apply_in_order(collector: RunningCollector) -> None:
    steps = [
        Identify().set("plan", "free").set("tags", ["a", "b"]).set("n", 1).set("gone", 1),
        Identify().add("n", 4).append("tags", "c").set_once("first", "x"),
        Identify().prepend("tags", "z").unset("gone").set_once("plan", "ignored"),
        Identify().pre_insert("tags", "a").post_insert("list", "p"),
        Identify().remove("tags", "b").set("plan", "pro"),
    ]
    with client(collector) as amp:
        for step in steps:
            amp.identify(step, user_id="user-ops-1")
        assert amp.flush(timeout=10)
    user = collector.store.user("amplitude", SOURCE, user_id="user-ops-1")
    assert user is not None
    assert user.properties == {
        "plan": "pro",
        "tags": ["z", "a", "c"],
        "n": 5,
        "first": "x",
        "list": ["p"],
    }
    with client(collector) as amp:
        amp.identify(Identify().clear_all(), user_id="user-ops-1")
        assert amp.flush(timeout=10)
    user = collector.store.user("amplitude", SOURCE, user_id="user-ops-1")
    assert user is not None and user.properties == {}


def test_middleware_enriches_and_filters(collector: RunningCollector) -> None:
    seen_extra: list[Any] = []

    def enrich(payload: MiddlewarePayload, next: Any) -> None:
        seen_extra.append(payload.extra)
        payload.event.setdefault("event_properties", {})["region"] = "eu-west"
        next(payload)

    def drop_internal(payload: MiddlewarePayload, next: Any) -> None:
        if not payload.event["event_type"].startswith("internal"):
            next(payload)

    def broken(payload: MiddlewarePayload, next: Any) -> None:
        if payload.event["event_type"] == "boom":
            raise RuntimeError("bug")
        next(payload)

    with client(collector) as amp:
        amp.add_event_middleware(enrich).add_event_middleware(drop_internal)
        amp.add_event_middleware(broken)
        kept = amp.track({"event_type": "Signed Up", "user_id": "user-mw-1"}, extra={"req": 7})
        filtered = amp.track({"event_type": "internal ping", "user_id": "user-mw-1"})
        failed = amp.track({"event_type": "boom", "user_id": "user-mw-1"})
        assert amp.flush(timeout=10)
        stats = amp.stats()
    assert kept.ok and seen_extra[0] == {"req": 7}
    assert filtered.error is not None and filtered.error.reason == "filtered"
    assert failed.error is not None and failed.error.reason == "middleware_error"
    assert stats["dropped"]["middleware_error"] == 1
    stored = events_of(collector.url)
    assert [e["event_name"] for e in stored] == ["Signed Up"]
    assert stored[0]["payload"]["event_properties"] == {"region": "eu-west"}


def test_plugins_and_callbacks(collector: RunningCollector) -> None:
    class Stamp:
        def execute(self, event: BaseEvent) -> BaseEvent | None:
            if event.event_type == "skip me":
                return None
            event.app_version = "9.9"
            return event

    calls: list[tuple[str, int, str | None]] = []

    def callback(event: Any, code: int, message: str | None) -> None:
        name = event.event_type if isinstance(event, BaseEvent) else event["event_type"]
        calls.append((name, code, message))

    with client(collector) as amp:
        amp.add(Stamp())
        amp.track(BaseEvent("Kept", user_id="user-pl-1", callback=callback))
        amp.track({"event_type": "Kept dict", "user_id": "user-pl-1"}, callback=callback)
        skipped = amp.track(BaseEvent("skip me", user_id="user-pl-1"))
        assert amp.flush(timeout=10)
    assert skipped.error is not None and skipped.error.reason == "filtered"
    assert sorted(calls) == [("Kept", 200, None), ("Kept dict", 200, None)]
    stored = events_of(collector.url)
    assert {e["payload"]["app_version"] for e in stored} == {"9.9"}


def test_min_id_length(collector: RunningCollector) -> None:
    with client(collector, min_id_length=3) as amp:
        short = amp.track({"event_type": "short ok", "user_id": "abc"})
        assert amp.flush(timeout=10)
    with client(collector) as amp:
        # The default minimum (5) removes the short user id; the device id carries the event.
        removed = amp.track(
            {"event_type": "short removed", "user_id": "abc", "device_id": "dev-77"}
        )
        with pytest.raises(trackwire.ValidationError, match="user_id"):
            amp.track({"event_type": "nothing left", "user_id": "abc"})
        assert amp.flush(timeout=10)
    assert short.ok and removed.ok
    stored = {e["event_name"]: e for e in events_of(collector.url)}
    assert stored["short ok"]["user_id"] == "abc"
    assert (stored["short removed"]["user_id"], stored["short removed"]["device_id"]) == (
        None,
        "dev-77",
    )


def test_opt_out_sends_nothing(collector: RunningCollector) -> None:
    with client(collector, opt_out=True) as amp:
        receipt = amp.track({"event_type": "private", "user_id": "user-oo-1"})
        assert amp.flush(timeout=10)
        assert amp.stats()["dropped"] == {"disabled": 1}
    assert receipt.error is not None and receipt.error.reason == "disabled"
    assert events_of(collector.url) == []


def test_named_instances_are_independent(collector: RunningCollector) -> None:
    url = collector.url + "/2/httpapi"
    first = amplitude.init("key-instance-a", server_url=url)
    second = amplitude.init("key-instance-b", instance_name="second", server_url=url)
    try:
        assert amplitude.get_instance() is first
        assert amplitude.get_instance("second") is second
        assert amplitude.init("ignored", server_url=url) is first
        amplitude.get_instance().track({"event_type": "a", "user_id": "user-in-1"})
        amplitude.get_instance("second").track({"event_type": "b", "user_id": "user-in-1"})
        assert first.flush(timeout=10) and second.flush(timeout=10)
    finally:
        first.shutdown()
        second.shutdown()
    with pytest.raises(trackwire.ConfigError, match="init"):
        amplitude.get_instance("never-made")
    by_source = {e["source"]: e["event_name"] for e in events_of(collector.url)}
    assert by_source == {fingerprint("key-instance-a"): "a", fingerprint("key-instance-b"): "b"}


def test_identify_through_the_form_api(collector: RunningCollector) -> None:
    with client(collector, use_identify_api=True) as amp:
        receipts = amp.identify(
            [
                {"userId": "user-form-1", "userProperties": {"plan": "pro"}},
                {"user_id": "user-form-2", "user_properties": {"$add": {"logins": 2}}},
            ]
        )
        builder = amp.identify(Identify().append("tags", "x"), user_id="user-form-1")
        event = amp.track({"event_type": "still an event", "user_id": "user-form-1"})
        assert amp.flush(timeout=10)
    assert all(r.ok for r in [*receipts, builder, event])
    stored = events_of(collector.url)
    # Identifications carry no event fields: they came through the form API, not as events.
    kinds = sorted((e["event_name"], "insert_id" in e["payload"]) for e in stored)
    assert kinds == [("$identify", False)] * 3 + [("still an event", True)]
    first = collector.store.user("amplitude", SOURCE, user_id="user-form-1")
    assert first is not None and first.properties == {"plan": "pro", "tags": ["x"]}
    second = collector.store.user("amplitude", SOURCE, user_id="user-form-2")
    assert second is not None and second.properties == {"logins": 2}


def test_a_client_with_a_secret_key_queries_what_it_sent(collector: RunningCollector) -> None:
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    with client(collector, secret_key="secret") as amp:
        for user in ("user-q-001", "user-q-002", "user-q-002"):
            amp.track({"event_type": "Song Played", "user_id": user})
        assert amp.flush(timeout=10)
        # From yesterday to tomorrow (UTC): the test may run across midnight.
        start = (now - timedelta(days=1)).strftime("%Y%m%d")
        end = (now + timedelta(days=1)).strftime("%Y%m%d")
        result = amp.event_segmentation("Song Played", start, end, metric="totals")
        assert len(result.x_values) == 3 and sum(result.series[0]) == 3
        uniques = amp.event_segmentation("Song Played", start, end)
        assert uniques.collapsed(0) == 2
        found = amp.user_search("user-q-002")
        assert found.type == "match_user_or_device_id" and len(found.matches) == 1
    with client(collector) as plain, pytest.raises(trackwire.ConfigError, match="secret_key"):
        plain.user_search("user-q-002")


def test_a_server_url_that_is_an_origin_reaches_the_collector(
    collector: RunningCollector,
) -> None:
    """``server_url="http://127.0.0.1:PORT"`` (no path) must not have every event 404'd."""
    with trackwire.Amplitude(KEY, server_url=collector.url) as amp:
        receipt = amp.track({"event_type": "Origin Only", "user_id": "user-origin-1"})
        assert amp.flush(timeout=10)
    assert receipt.ok, receipt.error
    assert [e["event_name"] for e in events_of(collector.url, user_id="user-origin-1")] == [
        "Origin Only"
    ]
