"""trackwire.MParticle -> the collector: queued uploads packed into bulk requests, end to end."""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

import trackwire
from tests.e2e.test_mparticle_events_api import Recorder, check_seed_records, events, seed_batch
from trackwire.collector.faults import DROP, FaultConfig
from trackwire.collector.keys import parse_keys
from trackwire.collector.server import RunningCollector, start_collector
from trackwire.config import RetryConfig
from trackwire.mparticle import AppEvent, Batch, UserIdentities

NO_WAIT = RetryConfig(max_retries=5, initial_backoff=0.0, max_backoff=0.0, max_retry_after=0.0)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    with start_collector(db=tmp_path / "c.db", port=0) as running:
        yield running


def small(user: str, name: str = "Hello", **data: object) -> Batch:
    return Batch(user_identities=UserIdentities(customer_id=user), events=[AppEvent(name, **data)])


def test_upload_stores_the_seed_examples(collector: RunningCollector) -> None:
    with trackwire.MParticle(
        "key", "secret", environment="development", host=collector.url
    ) as client:
        receipt = client.upload(seed_batch())
        assert client.flush(timeout=10)
    assert receipt.wait(5) and receipt.ok
    records = events(collector.url, vendor="mparticle")
    check_seed_records(records, "123456")
    assert {r["payload"]["source_request_id"] for r in records} == {receipt.message_id}


def test_many_uploads_are_packed_into_bulk_requests(collector: RunningCollector) -> None:
    recorder = Recorder()
    client = trackwire.MParticle(
        "key", "secret", environment="production", host=collector.url, transport=recorder,
        flush_at=100, flush_interval=60,
    )  # fmt: skip
    receipts = [client.upload(small(f"user-{i}", custom_attributes={"i": i})) for i in range(250)]
    assert client.shutdown(timeout=20)
    assert all(r.ok for r in receipts)
    sizes = [len(orjson.loads(r.body)) for r in recorder.requests]
    assert sum(sizes) == 250 and max(sizes) <= 100 and len(sizes) >= 3
    assert {r.url for r in recorder.requests} == {collector.url + "/v2/bulkevents"}
    records = events(collector.url, vendor="mparticle", limit="1000")
    assert len(records) == 250
    assert {r["payload"]["environment"] for r in records} == {"production"}
    assert {r["user_id"] for r in records} == {f"user-{i}" for i in range(250)}


def test_retries_under_faults_keep_the_source_request_ids(tmp_path: Path) -> None:
    faults = FaultConfig(statuses={"/v2/bulkevents": (500, DROP, 503, 429)})
    with start_collector(db=tmp_path / "c.db", port=0, faults=faults) as running:
        recorder = Recorder()
        client = trackwire.MParticle(
            "key", "secret", environment="development", host=running.url, transport=recorder,
            retry=NO_WAIT, flush_at=10,
        )  # fmt: skip
        receipts = [client.upload(small(f"u-{i}")) for i in range(10)]
        assert client.shutdown(timeout=20)
        assert all(r.ok for r in receipts)
        bodies = [orjson.loads(r.body) for r in recorder.requests]
        sent = [tuple(batch["source_request_id"] for batch in body) for body in bodies]
        # The first request met the four faults: it went five times, with the same ids.
        assert sent[:5] == [sent[0]] * 5 and len(set(sent)) == len(sent) - 4
        assert sorted(i for ids in set(sent) for i in ids) == sorted(r.message_id for r in receipts)
        records = events(running.url, vendor="mparticle")
        assert sorted(r["payload"]["source_request_id"] for r in records) == sorted(
            r.message_id for r in receipts
        )


def test_old_batches_go_to_the_historical_endpoint(collector: RunningCollector) -> None:
    recorder = Recorder()
    old = int((time.time() - 40 * 86400) * 1000)
    with trackwire.MParticle(
        "key", "secret", environment="development", host=collector.url, transport=recorder
    ) as client:
        recent = client.upload(small("u-new"))
        backfill = client.upload(small("u-old", timestamp_unixtime_ms=old))
        assert client.flush(timeout=10)
    assert recent.ok and backfill.ok
    urls = sorted(r.url for r in recorder.requests)
    assert urls == [collector.url + "/v2/bulkevents", collector.url + "/v2/bulkevents/historical"]
    by_user = {r["user_id"]: r for r in events(collector.url, vendor="mparticle")}
    assert by_user["u-old"]["payload"]["source_info"] == {"is_historical": True}
    assert "source_info" not in by_user["u-new"]["payload"]


def test_wrong_secret_fails_without_retry_and_never_logs_credentials(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = parse_keys(
        {"sources": [{"name": "feed", "vendor": "mparticle", "key": "k-1", "secret": "s-1"}]}
    )
    with start_collector(db=tmp_path / "c.db", port=0, keys=keys) as running:
        recorder = Recorder()
        with caplog.at_level(logging.DEBUG, logger="trackwire"):
            client = trackwire.MParticle(
                "k-1", "wrong-secret", environment="development", host=running.url,
                transport=recorder, retry=NO_WAIT, debug=True,
            )  # fmt: skip
            receipt = client.upload(small("u"))
            client.shutdown(timeout=10)
        assert receipt.done and not receipt.ok
        assert receipt.error is not None and receipt.error.status == 403
        assert len(recorder.requests) == 1
    token = base64.b64encode(b"k-1:wrong-secret").decode()
    assert caplog.text
    for secret in ("k-1", "wrong-secret", token):
        assert secret not in caplog.text


def test_a_429_holds_back_only_the_client_that_got_it(tmp_path: Path) -> None:
    # The official package blocks every client in the process after one 429; here the
    # throttled client waits out its Retry-After while another keeps delivering.
    faults = FaultConfig(statuses={"/v2/bulkevents": (429,)}, retry_after=60)
    with start_collector(db=tmp_path / "c.db", port=0, faults=faults) as running:
        throttled = threading.Event()
        first = trackwire.MParticle("key", "secret", environment="development", host=running.url)
        first.on("retry", lambda report: throttled.set())
        held = first.upload(small("u-first"))
        assert throttled.wait(10)
        with trackwire.MParticle(
            "key", "secret", environment="development", host=running.url
        ) as second:
            receipt = second.upload(small("u-second"))
            assert second.flush(timeout=10)
        assert receipt.ok and not held.done
        assert [r["user_id"] for r in events(running.url, vendor="mparticle")] == ["u-second"]
        first.shutdown(timeout=0.2)
        assert held.done and not held.ok
