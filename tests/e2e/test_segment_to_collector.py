"""trackwire's Segment client -> the collector -> ``/events``: every call type, end to end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

import trackwire
from tests.collector.conftest import skew_corrected_ms
from trackwire.collector.faults import FaultConfig
from trackwire.collector.keys import fingerprint
from trackwire.collector.server import RunningCollector, start_collector


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    """A development-mode collector on 127.0.0.1 with a file database."""
    with start_collector(db=tmp_path / "e2e.db") as running:
        yield running


def _events(url: str, **filters: str) -> list[dict[str, Any]]:
    response = urllib3.request("GET", url + "/events", fields=filters, retries=False)
    assert response.status == 200
    events: list[dict[str, Any]] = orjson.loads(response.data)["events"]
    return events


@pytest.mark.parametrize("gzip", [True, False], ids=["gzip", "plain"])
def test_every_call_type_arrives_with_its_fields(collector: RunningCollector, gzip: bool) -> None:
    when = datetime(2026, 11, 22, 20, 48, 6, 393000, tzinfo=timezone.utc)
    with trackwire.Segment("tw-key", host=collector.url, flush_at=100, gzip=gzip) as client:
        receipts = [
            client.identify("user-1", {"plan": "pro"}, timestamp=when),
            client.track("user-1", "Item Purchased", {"revenue": 39.95}, message_id="m-track"),
            client.page("user-1", "Docs", "Pricing", {"path": "/pricing"}),
            client.screen("user-1", None, "Home", {"tab": 1}),
            client.group("user-1", "acme", {"employees": 40}),
            client.alias("anon-1", "user-1"),
            client.track(None, "Anonymous Thing", anonymous_id="anon-2"),
        ]
        assert client.flush(timeout=10)

    assert all(receipt.wait(5) for receipt in receipts)
    events = _events(collector.url, vendor="segment")
    assert len(events) == 7
    by_id = {e["dedup_key"]: e for e in events}
    assert set(by_id) == {r.message_id for r in receipts}
    identify = by_id[receipts[0].message_id]
    assert identify["type"] == "identify"
    assert identify["payload"]["originalTimestamp"].startswith("2026-11-22T20:48:06.393")
    assert identify["client_time_ms"] == skew_corrected_ms(identify["payload"])
    assert identify["payload"]["traits"] == {"plan": "pro"}
    track = by_id["m-track"]
    assert (track["type"], track["event_name"], track["user_id"]) == (
        "track",
        "Item Purchased",
        "user-1",
    )
    assert track["payload"]["properties"] == {"revenue": 39.95}
    assert track["source"] == fingerprint("tw-key")
    page = by_id[receipts[2].message_id]
    assert (page["type"], page["event_name"], page["payload"]["category"]) == (
        "page",
        "Pricing",
        "Docs",
    )
    assert by_id[receipts[3].message_id]["event_name"] == "Home"
    assert by_id[receipts[4].message_id]["payload"]["groupId"] == "acme"
    alias = by_id[receipts[5].message_id]
    assert (alias["type"], alias["payload"]["previousId"]) == ("alias", "anon-1")
    anonymous = by_id[receipts[6].message_id]
    assert (anonymous["user_id"], anonymous["device_id"]) == (None, "anon-2")


def test_retries_through_injected_failures_store_each_event_once(tmp_path: Path) -> None:
    faults = FaultConfig(statuses={"/v1/batch": (500, 503)})
    with start_collector(db=tmp_path / "retry.db", faults=faults) as collector:
        retry = trackwire.RetryConfig(max_retries=5, initial_backoff=0.01, max_backoff=0.05)
        client = trackwire.Segment("tw-key", host=collector.url, flush_at=100, retry=retry)
        receipts = [client.track("user-1", "Retried", {"n": n}) for n in range(3)]
        assert client.flush(timeout=10)
        client.shutdown(timeout=5)

        assert all(receipt.ok for receipt in receipts)
        assert len(_events(collector.url, event="Retried")) == 3
        assert collector.app.faults.counts()["total"] == 2
