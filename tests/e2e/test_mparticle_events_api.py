"""EventsApi -> the collector -> ``/events``: the seed's examples, single and bulk, and retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

from trackwire._engine.transport import HTTPRequest, HTTPResult, Urllib3Transport
from trackwire.collector.faults import FaultConfig
from trackwire.collector.keys import parse_keys
from trackwire.collector.server import RunningCollector, start_collector
from trackwire.config import RetryConfig
from trackwire.mparticle import (
    AppEvent,
    AuthenticationError,
    Batch,
    CCPAConsentState,
    CommerceEvent,
    Configuration,
    ConsentState,
    DeviceInformation,
    EventsApi,
    GDPRConsentState,
    Product,
    ProductAction,
    SessionEndEvent,
    SessionStartEvent,
    UserIdentities,
)

T0 = 1_795_380_500_000
NO_WAIT = RetryConfig(max_retries=3, initial_backoff=0.0, max_backoff=0.0, max_retry_after=0.0)


class Recorder:
    """The real urllib3 transport, keeping each request it sends (to read retried bodies)."""

    def __init__(self) -> None:
        self.inner = Urllib3Transport()
        self.requests: list[HTTPRequest] = []
        self.lock = threading.Lock()

    def send(self, request: HTTPRequest) -> HTTPResult:
        with self.lock:
            self.requests.append(request)
        return self.inner.send(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    with start_collector(db=tmp_path / "c.db", port=0) as running:
        yield running


def events(url: str, auth: tuple[str, str] | None = None, **filters: str) -> list[dict[str, Any]]:
    # A collector with keys answers only a source's own credentials (or an admin token).
    headers = urllib3.make_headers(basic_auth=":".join(auth)) if auth else None
    response = urllib3.request(
        "GET", url + "/events", fields=filters, headers=headers, retries=False
    )
    assert response.status == 200
    found: list[dict[str, Any]] = orjson.loads(response.data)["events"]
    return found


def seed_batch(customer: str = "123456") -> Batch:
    """The Node SDK page's examples, in one batch, written the create-then-assign way."""
    batch = Batch(Batch.Environment.development)
    batch.user_identities = UserIdentities()
    batch.user_identities.customerid = customer
    device = DeviceInformation()
    device.ios_advertising_id = "07d2ebaa-e956-407e-a1e6-f05f871bf4e2"
    device.android_advertising_id = "a26f9736-c262-47ea-988b-0b0504cee874"
    batch.device_info = device
    batch.user_attributes = {"Account type": "trial", "TrialEndDate": "2016-12-01"}
    event = AppEvent("Hello World", AppEvent.CustomEventType.navigation)
    event.custom_attributes = {"foo": "bar"}
    event.timestamp_unixtime_ms = T0
    batch.add_event(event)
    product = Product()
    product.name, product.id, product.price = "Example Product", "sample-sku", 19.99
    action = ProductAction("purchase")
    action.products = [product]
    action.tax_amount, action.total_amount = 1.50, 21.49
    commerce = CommerceEvent()
    commerce.product_action = action
    commerce.timestamp_unixtime_ms = T0 + 1
    batch.add_event(commerce)
    start = SessionStartEvent()
    start.session_id = 12345678
    start.timestamp_unixtime_ms = T0 + 2
    end = SessionEndEvent()
    end.session_id = start.session_id
    end.session_duration_ms = 5000
    end.timestamp_unixtime_ms = T0 + 5002
    batch.events += [start, end]
    ccpa = CCPAConsentState(
        document="document_agreement.v3", consented=True, timestamp_unixtime_ms=T0,
        location="mparticle.test/signup", hardware_id="IDFA:a5d96n32-224a-3b11-1088-a202695bc710",
    )  # fmt: skip
    gdpr = GDPRConsentState(
        document="document_agreement.v2", consented=True, timestamp_unixtime_ms=T0,
        location="dtmgbank.com/signup", hardware_id="IDFA:a5d934n0-232f-4afc-2e9a-3832d95zc702",
    )  # fmt: skip
    batch.consent_state = ConsentState(ccpa={"data_sale_opt_out": ccpa}, gdpr={"My Purpose": gdpr})
    return batch


def check_seed_records(records: list[dict[str, Any]], customer: str) -> None:
    mine = [r for r in records if r["user_id"] == customer]
    by_type = {r["type"]: r for r in mine}
    assert sorted(by_type) == ["commerce_event", "custom_event", "session_end", "session_start"]
    assert len(mine) == 4
    custom = by_type["custom_event"]
    assert custom["event_name"] == "Hello World"
    assert custom["client_time_ms"] == T0
    payload = custom["payload"]
    assert payload["user_identities"] == {"customer_id": customer}
    assert payload["device_info"]["ios_advertising_id"] == "07d2ebaa-e956-407e-a1e6-f05f871bf4e2"
    assert payload["user_attributes"] == {"Account type": "trial", "TrialEndDate": "2016-12-01"}
    assert payload["events"][0]["data"]["custom_attributes"] == {"foo": "bar"}
    consent = payload["consent_state"]
    assert consent["ccpa"]["data_sale_opt_out"]["consented"] is True
    assert consent["gdpr"]["My Purpose"]["document"] == "document_agreement.v2"
    purchase = by_type["commerce_event"]["payload"]["events"][0]["data"]["product_action"]
    assert purchase == {
        "action": "purchase", "tax_amount": 1.5, "total_amount": 21.49,
        "products": [{"id": "sample-sku", "name": "Example Product", "price": 19.99}],
    }  # fmt: skip
    end = by_type["session_end"]["payload"]["events"][0]["data"]
    assert end["session_id"] == 12345678 and end["session_duration_ms"] == 5000
    request_ids = {r["payload"]["source_request_id"] for r in mine}
    assert len(request_ids) == 1


def test_upload_events_stores_the_seed_examples(collector: RunningCollector) -> None:
    api = EventsApi(Configuration("key", "secret", host=collector.url))
    result = api.upload_events(seed_batch())
    assert result is not None and result.status == 202 and result.body == b""
    check_seed_records(events(collector.url, vendor="mparticle"), "123456")


def test_bulk_upload_with_a_callback(collector: RunningCollector) -> None:
    api = EventsApi(Configuration("key", "secret", host=collector.url + "/v2"))
    calls: list[tuple[Any, Any, Any]] = []
    api.bulk_upload_events([seed_batch("u-1"), seed_batch("u-2")], lambda *a: calls.append(a))
    ((error, data, response),) = calls
    assert error is None and data is None and response.status == 202
    records = events(collector.url, vendor="mparticle")
    check_seed_records(records, "u-1")
    check_seed_records(records, "u-2")


def test_wrong_credentials_are_an_authentication_error(tmp_path: Path) -> None:
    keys = parse_keys(
        {"sources": [{"name": "feed", "vendor": "mparticle", "key": "k", "secret": "s"}]}
    )
    with start_collector(db=tmp_path / "c.db", port=0, keys=keys) as running:
        api = EventsApi(Configuration("k", "wrong", host=running.url))
        with pytest.raises(AuthenticationError) as caught:
            api.upload_events(seed_batch())
        assert caught.value.status == 403 and caught.value.reason == "rejected"
        ok = EventsApi(Configuration("k", "s", host=running.url)).upload_events(seed_batch())
        assert ok is not None and ok.status == 202
        records = events(running.url, auth=("k", "s"), vendor="mparticle")
        assert {r["source"] for r in records} == {"feed"}


def test_retries_under_faults_resend_the_same_request_id(tmp_path: Path) -> None:
    faults = FaultConfig(statuses={"/v2/events": (500, 503, 429)})
    with start_collector(db=tmp_path / "c.db", port=0, faults=faults) as running:
        recorder = Recorder()
        api = EventsApi(
            Configuration("k", "s", host=running.url, retry=NO_WAIT), transport=recorder
        )
        api.upload_events(seed_batch())
        bodies = [orjson.loads(r.body) for r in recorder.requests]
        assert len(bodies) == 4
        assert len({body["source_request_id"] for body in bodies}) == 1
        assert len({body["events"][0]["data"]["source_message_id"] for body in bodies}) == 1
        records = events(running.url, vendor="mparticle")
        check_seed_records(records, "123456")
        assert {r["payload"]["source_request_id"] for r in records} == {
            bodies[0]["source_request_id"]
        }
        # The same batch uploaded again is a new request: new ids, stored again.
        api.upload_events(seed_batch())
        assert len(events(running.url, vendor="mparticle")) == 8
