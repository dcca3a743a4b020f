"""The vendors' own Python SDKs, unchanged, pointed at the collector: everything they send lands.

These packages are test-only dependencies. If a collector answer ever stops satisfying one of
them (a missing ``code`` in an Amplitude body, a wrong status for mParticle), these tests fail.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from segment.analytics import Client as SegmentClient

import mparticle
from amplitude import Amplitude, BaseEvent, Config, EventOptions, Identify, Revenue
from tests.collector.conftest import skew_corrected_ms
from trackwire.collector.keys import fingerprint
from trackwire.collector.server import RunningCollector, start_collector
from trackwire.collector.store import StoredEvent


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    """A development-mode collector on 127.0.0.1 with a file database."""
    with start_collector(db=tmp_path / "official.db") as running:
        yield running


def _by_name(events: list[StoredEvent]) -> dict[str | None, StoredEvent]:
    return {event.event_name or event.type: event for event in events}


# --- Segment: segment-analytics-python -------------------------------------------------------


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_segment_analytics_python_every_call(collector: RunningCollector, gzip: bool) -> None:
    errors: list[Any] = []
    client = SegmentClient(
        write_key="seg-write-key",
        host=collector.url,
        gzip=gzip,
        upload_interval=0.05,
        max_retries=0,
        on_error=lambda error, batch: errors.append(error),
    )
    when = datetime(2026, 11, 22, 20, 48, 20, 2000, tzinfo=timezone.utc)
    client.identify(user_id="user-1", traits={"plan": "pro", "name": "Ada"}, timestamp=when)
    client.track(user_id="user-1", event="Item Purchased",
                 properties={"revenue": 39.95, "sku": "ü-1"}, message_id="msg-track")  # fmt: skip
    client.page(user_id="user-1", category="Docs", name="Pricing", properties={"path": "/p"})
    client.screen(user_id="user-1", name="Home", properties={"tab": 2})
    client.group(user_id="user-1", group_id="acme", traits={"employees": 40})
    client.alias(previous_id="anon-9", user_id="user-1")
    client.track(anonymous_id="anon-9", event="Anonymous Thing")
    client.flush()
    client.shutdown()

    assert errors == []
    events = collector.store.events(vendor="segment")
    assert len(events) == 7
    assert {e.source for e in events} == {fingerprint("seg-write-key")}
    by_type: dict[str, list[StoredEvent]] = {}
    for event in events:
        by_type.setdefault(event.type, []).append(event)
    assert sorted(by_type) == ["alias", "group", "identify", "page", "screen", "track"]
    identify = by_type["identify"][0]
    assert identify.payload["originalTimestamp"].startswith("2026-11-22T20:48:20.002")
    assert identify.client_time_ms == skew_corrected_ms(identify.payload)
    tracks = {e.event_name: e for e in by_type["track"]}
    purchased = tracks["Item Purchased"]
    assert purchased.dedup_key == "msg-track"
    assert purchased.user_id == "user-1"
    assert purchased.payload["properties"] == {"revenue": 39.95, "sku": "ü-1"}
    assert purchased.payload["context"]["library"]["name"] == "analytics-python"
    anonymous = tracks["Anonymous Thing"]
    assert (anonymous.user_id, anonymous.device_id) == (None, "anon-9")
    assert by_type["page"][0].event_name == "Pricing"
    assert by_type["screen"][0].event_name == "Home"
    assert by_type["alias"][0].payload["previousId"] == "anon-9"
    user = collector.store.user("segment", fingerprint("seg-write-key"), user_id="user-1")
    assert user is not None and user.properties == {"plan": "pro", "name": "Ada"}
    assert collector.store.group("segment", fingerprint("seg-write-key"), "group", "acme") == {
        "employees": 40
    }


# --- Amplitude: amplitude-analytics ----------------------------------------------------------


class _Responses:
    """Collects the status codes the Amplitude SDK reports through its callback."""

    def __init__(self) -> None:
        self.codes: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, event: Any, code: int, message: str | None = None) -> None:
        with self._lock:
            self.codes.append(code)


def _amplitude(url: str, responses: _Responses, **options: Any) -> Amplitude:
    config = Config(
        server_url=url,
        flush_queue_size=100,
        flush_interval_millis=50,
        flush_max_retries=1,
        callback=responses,
        logger=logging.getLogger("amplitude-test"),
        **options,
    )
    return Amplitude("amp-api-key", configuration=config)


def test_amplitude_analytics_track_identify_group_revenue(collector: RunningCollector) -> None:
    responses = _Responses()
    client = _amplitude(collector.url + "/2/httpapi", responses)
    client.track(
        BaseEvent(
            event_type="Song Played",
            user_id="user-001",
            device_id="device-001",
            time=1_795_380_500_123,
            event_properties={"title": "Blue", "seconds": 215},
            insert_id="insert-song",
        )
    )
    options = EventOptions(user_id="user-001", device_id="device-001")
    client.identify(Identify().set("plan", "pro").add("logins", 3).append("tags", "new"), options)
    client.identify(Identify().add("logins", 2).set_once("first", "2026"), options)
    client.group_identify("org", "acme", Identify().set("tier", "gold"), options)
    client.revenue(Revenue(price=9.99, quantity=2, product_id="sku-1"), options)
    client.shutdown()

    assert responses.codes and set(responses.codes) == {200}
    events = _by_name(collector.store.events(vendor="amplitude"))
    song = events["Song Played"]
    assert song.type == "event"
    assert (song.user_id, song.device_id) == ("user-001", "device-001")
    assert song.client_time_ms == 1_795_380_500_123
    assert song.dedup_key == "insert-song"
    assert song.payload["event_properties"] == {"title": "Blue", "seconds": 215}
    assert song.payload["library"].startswith("amplitude-python/")
    assert events["$identify"].type == "identify"
    assert events["$groupidentify"].type == "groupidentify"
    revenue = events["revenue_amount"]
    assert revenue.payload["event_properties"]["$price"] == 9.99
    assert revenue.payload["event_properties"]["$productId"] == "sku-1"
    user = collector.store.user("amplitude", fingerprint("amp-api-key"), user_id="user-001")
    assert user is not None
    assert user.properties == {"plan": "pro", "logins": 5, "tags": ["new"], "first": "2026"}
    assert collector.store.group("amplitude", fingerprint("amp-api-key"), "org", "acme") == {
        "tier": "gold"
    }


def test_amplitude_analytics_batch_endpoint(collector: RunningCollector) -> None:
    responses = _Responses()
    client = _amplitude(collector.url + "/batch", responses, use_batch=True)
    for n in range(30):
        client.track(BaseEvent(event_type="Tick", user_id="user-002", event_properties={"n": n}))
    client.shutdown()

    assert set(responses.codes) == {200}
    events = collector.store.events(vendor="amplitude", event_name="Tick")
    assert sorted(e.payload["event_properties"]["n"] for e in events) == list(range(30))
    assert all(e.dedup_key for e in events)  # the SDK stamps insert_id


# --- mParticle: mparticle (EventsApi) --------------------------------------------------------


def _mparticle_batch(customer_id: str, name: str, stamp: int) -> mparticle.Batch:
    batch = mparticle.Batch()
    batch.environment = "development"
    batch.source_request_id = f"req-{customer_id}"
    identities = mparticle.UserIdentities()
    identities.customerid = customer_id
    identities.email = f"{customer_id}@example.com"
    batch.user_identities = identities
    batch.user_attributes = {"plan": "pro", "tags": ["a", "b"]}
    event = mparticle.AppEvent(
        event_name=name,
        custom_event_type="navigation",
        timestamp_unixtime_ms=stamp,
        source_message_id=f"msg-{customer_id}-{name}",
        custom_attributes={"button": "ok"},
    )
    screen = mparticle.ScreenViewEvent(screen_name="Home", timestamp_unixtime_ms=stamp + 1)
    product = mparticle.Product(id="sku-1", name="Hat", price=20.5, quantity=2)
    action = mparticle.ProductAction(
        action="purchase", transaction_id="t-1", total_amount=41.0, products=[product]
    )
    commerce = mparticle.CommerceEvent(product_action=action, timestamp_unixtime_ms=stamp + 2)
    batch.events = [event, screen, commerce]
    consent = mparticle.ConsentState()
    consent.gdpr = {
        "analytics": mparticle.GDPRConsentState(
            document="v1", consented=True, timestamp_unixtime_ms=stamp, location="web"
        )
    }
    consent.ccpa = {
        "data_sale_opt_out": mparticle.CCPAConsentState(
            consented=False, timestamp_unixtime_ms=stamp
        )
    }
    batch.consent_state = consent
    return batch


def _events_api(url: str) -> mparticle.EventsApi:
    configuration = mparticle.Configuration()
    configuration.api_key = "mp-key"
    configuration.api_secret = "mp-secret"
    configuration.host = url + "/v2"
    return mparticle.EventsApi(configuration)


def test_mparticle_events_api_upload_and_bulk(collector: RunningCollector) -> None:
    api = _events_api(collector.url)
    stamp = 1_795_380_500_000

    api.upload_events(_mparticle_batch("cust-1", "Hello", stamp))
    api.bulk_upload_events(
        [_mparticle_batch("cust-2", "Bulk A", stamp), _mparticle_batch("cust-3", "Bulk B", stamp)]
    )
    # A retried upload (same source_request_id and message ids) stores nothing twice.
    api.upload_events(_mparticle_batch("cust-1", "Hello", stamp))

    events = collector.store.events(vendor="mparticle")
    assert len(events) == 9
    hello = next(e for e in events if e.event_name == "Hello")
    assert hello.type == "custom_event"
    assert hello.user_id == "cust-1"
    assert hello.client_time_ms == stamp
    assert hello.dedup_key == "msg-cust-1-Hello"
    assert hello.source == fingerprint("mp-key")
    data = hello.payload["events"][0]["data"]
    assert data["custom_attributes"] == {"button": "ok"}
    consent = hello.payload["consent_state"]
    assert consent["gdpr"]["analytics"]["consented"] is True
    assert consent["ccpa"]["data_sale_opt_out"]["consented"] is False
    kinds = {(e.user_id, e.type) for e in events}
    for customer in ("cust-1", "cust-2", "cust-3"):
        assert {(customer, t) for t in ("custom_event", "screen_view", "commerce_event")} <= kinds
    purchase = next(e for e in events if e.type == "commerce_event" and e.user_id == "cust-2")
    assert purchase.payload["events"][0]["data"]["product_action"]["total_amount"] == 41.0
    user = collector.store.user("mparticle", fingerprint("mp-key"), user_id="cust-3")
    assert user is not None and user.properties == {"plan": "pro", "tags": ["a", "b"]}
