"""``trackwire.compat.mparticle``: the official package's models and EventsApi on the engine."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mparticle as official
import trackwire.compat.mparticle as mparticle
from trackwire.collector.server import RunningCollector, start_collector
from trackwire.errors import ConfigError, ValidationError


@pytest.fixture(scope="module")
def collector() -> Iterator[RunningCollector]:
    with start_collector() as running:
        yield running


def configuration(host: str, **settings: Any) -> mparticle.Configuration:
    config = mparticle.Configuration()
    config.api_key = "compat-key"
    config.api_secret = "compat-secret"
    config.host = host + "/v2"
    for name, value in settings.items():
        setattr(config, name, value)
    return config


def sample(lib: Any, customer: str = "123456") -> Any:
    """The official README's batch, built the same way with either package."""
    batch = lib.Batch()
    batch.environment = "development"
    batch.user_identities = lib.UserIdentities()
    batch.user_identities.customerid = customer
    batch.user_identities.email = "example@example.com"
    batch.device_info = lib.DeviceInformation()
    batch.device_info.ios_advertising_id = "07d2ebaa-e956-407e-a1e6-f05f871bf4e2"
    batch.user_attributes = {"Account type": "trial", "TrialEndDate": "2016-12-01"}
    product = lib.Product(id="product-id", name="product-name", price=19.99, quantity=2)
    action = lib.ProductAction("purchase", transaction_id="txn-1", products=[product])
    batch.events = [
        lib.AppEvent(event_name="Hello World", custom_event_type="navigation"),
        lib.ScreenViewEvent(screen_name="Home"),
        lib.CommerceEvent(action, currency_code="USD"),
    ]
    return batch


def stored_for(collector: RunningCollector, customer: str) -> list[dict[str, Any]]:
    """The batches stored for ``customer``, put back together (the collector keeps a row per
    event, each with its batch's fields and that one event)."""
    batches: dict[str, dict[str, Any]] = {}
    for row in collector.store.events():
        if row.payload.get("user_identities", {}).get("customer_id") != customer:
            continue
        batch = batches.setdefault(row.payload["source_request_id"], {**row.payload, "events": []})
        batch["events"].extend(row.payload["events"])
    return list(batches.values())


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_to_dict_is_the_official_to_dict() -> None:
    assert sample(mparticle).to_dict() == sample(official).to_dict()


def test_every_official_model_is_at_its_official_path_with_the_same_fields() -> None:
    checked = 0
    for name, theirs in vars(official).items():
        if isinstance(theirs, type) and theirs.__module__.startswith("mparticle.models."):
            checked += 1
            ours = getattr(mparticle, name)
            module = theirs.__module__.removeprefix("mparticle.")
            assert ours.__module__ == f"trackwire.compat.mparticle.{module}", name
            defaults = ("x",) if name in ("AppEvent", "CommerceEvent") else ()
            assert list(ours(*defaults).swagger_types) == list(theirs(*defaults).swagger_types)
    assert checked >= 38


def test_upload_events_waits_for_the_answer_and_sends_the_documented_json(
    collector: RunningCollector,
) -> None:
    api = mparticle.EventsApi(configuration(collector.url))

    assert api.upload_events(sample(mparticle, "sync-1")) is None
    data, status, headers = api.upload_events_with_http_info(sample(mparticle, "sync-2"))

    assert (data, status) == (None, 202) and isinstance(headers, dict)
    [payload] = stored_for(collector, "sync-1")
    # customerid goes out as the documented customer_id; None fields are left out.
    assert payload["user_identities"] == {"customer_id": "sync-1", "email": "example@example.com"}
    types = sorted(event["event_type"] for event in payload["events"])
    assert types == ["commerce_event", "custom_event", "screen_view"]
    by_type = {event["event_type"]: event["data"] for event in payload["events"]}
    assert by_type["commerce_event"]["product_action"]["products"][0]["price"] == 19.99
    assert by_type["custom_event"]["event_name"] == "Hello World"


def test_callback_and_bulk_uploads_return_at_once_and_call_back(
    collector: RunningCollector,
) -> None:
    api = mparticle.EventsApi(configuration(collector.url))
    results: list[Any] = []

    handle = api.bulk_upload_events(
        [sample(mparticle, "bulk-1"), sample(mparticle, "bulk-2")], callback=results.append
    )
    handle.join(10)

    assert results == [None] and not handle.is_alive()
    assert len(stored_for(collector, "bulk-1")) == len(stored_for(collector, "bulk-2")) == 1


def test_a_failed_upload_raises_api_exception_or_passes_it_to_the_callback() -> None:
    api = mparticle.EventsApi(configuration(closed_port_url(), max_retries=0))

    with pytest.raises(mparticle.ApiException) as raised:
        api.upload_events(sample(mparticle))
    results: list[Any] = []
    api.upload_events(sample(mparticle), callback=results.append).join(10)

    assert raised.value.status == 0 and "connection_refused" in str(raised.value.reason)
    [error] = results
    assert isinstance(error, mparticle.ApiException) and error.status == 0
    api.api_client.close(1)


def test_missing_credentials_are_named_at_the_first_upload() -> None:
    api = mparticle.EventsApi()  # allowed, as in the official package: set them later

    with pytest.raises(ConfigError, match="api_key"):
        api.upload_events(sample(mparticle))
    with pytest.raises(ValidationError, match="body"):
        api.upload_events(None)
    with pytest.raises(ValidationError, match="empty list"):
        api.bulk_upload_events([])
    with pytest.raises(TypeError, match="timeout_ms"):
        api.upload_events(sample(mparticle), timeout_ms=3)


def test_batch_wraps_events_in_the_constructor_too_and_crash_reports_keep_their_type() -> None:
    batch = mparticle.Batch(events=[mparticle.CrashReportEvent(message="boom")])

    assert batch.to_dict()["events"][0]["event_type"] == "crash_report"
    with pytest.raises(ValueError, match=r"Invalid event type: str at events\[0\]"):
        batch.events = ["not an event"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: mparticle.AppEvent(), "Event Name is required"),
        (lambda: mparticle.AppEvent("e", "sports"), "custom_event_type"),
        (lambda: mparticle.Batch(environment="staging"), "environment"),
        (lambda: mparticle.ScreenViewEvent(custom_attributes={"k": [1]}), "custom_attributes"),
        (lambda: mparticle.CommerceEvent(), "product_action"),
        (lambda: mparticle.DeviceInformation(ios_idfv="nope"), "ios_idfv"),
        (lambda: mparticle.ProductAction("buy"), "action"),
    ],
)
def test_model_checks_raise_value_error_naming_the_field(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_sanitize_for_serialization_drops_none_fields_and_renames_customerid() -> None:
    identities = mparticle.UserIdentities(customerid="c-1", other=None)

    assert mparticle.ApiClient.sanitize_for_serialization(identities) == {"customer_id": "c-1"}
    assert identities.to_dict()["customerid"] == "c-1"  # to_dict keeps the official name


def test_trackwire_options_reach_the_client_underneath(
    collector: RunningCollector, tmp_path: Path
) -> None:
    config = configuration(collector.url)
    config.trackwire_options = {"spool": tmp_path}
    api = mparticle.EventsApi(config)
    api.upload_events(sample(mparticle, "spool-1"))

    assert "spool_bytes" in api.api_client.client.stats()
    assert len(stored_for(collector, "spool-1")) == 1
    api.api_client.close(5)


@pytest.mark.parametrize(
    ("attributes", "message"),
    [({"big": "x" * 5000}, "5000 characters"), ({str(i): "v" for i in range(150)}, "150")],
)
def test_attributes_mparticle_would_drop_silently_are_refused_by_name(
    attributes: dict[str, str], message: str
) -> None:
    batch = sample(mparticle)
    batch.events = [mparticle.AppEvent(event_name="E", custom_attributes=attributes)]
    api = mparticle.EventsApi(configuration(closed_port_url()))

    with pytest.raises(ValueError, match=message) as raised:
        api.upload_events(batch)
    assert "custom_attributes" in str(raised.value)
