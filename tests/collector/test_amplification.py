"""Stored bytes stay within a small factor of the request: shared batch data is stored once,
and each request has a bound with a clear answer past it (issue 7)."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.collector.conftest import Client, basic
from trackwire.collector import vendors

MP_AUTH = {"Authorization": basic("mp-key", "mp-secret")}


def _stored_bytes(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        payloads = conn.execute("SELECT coalesce(sum(length(payload)), 0) FROM events")
        contexts = conn.execute("SELECT coalesce(sum(length(body)), 0) FROM contexts")
        return int(payloads.fetchone()[0]) + int(contexts.fetchone()[0])
    finally:
        conn.close()


def _bulk(batches: int, events: int, context_bytes: int) -> list[dict[str, Any]]:
    filler = {f"k{i}": "x" * 90 for i in range(context_bytes // 100)}
    return [
        {
            "environment": "development",
            "source_request_id": f"req-{b}",
            "user_identities": {"customer_id": f"cust-{b}"},
            "device_info": {"platform": "web", "extra": filler},
            "events": [
                {
                    "event_type": "custom_event",
                    "data": {"event_name": "t", "custom_event_type": "other"},
                }
                for _ in range(events)
            ],
        }
        for b in range(batches)
    ]


def test_batch_context_is_stored_once_not_per_event(client: Client) -> None:
    # The reported case: two batches with 60 KB of context each and 1,500 tiny events.
    raw = orjson.dumps(_bulk(2, 750, 60_000))
    assert len(gzip.compress(raw)) < 5_000

    answer = client.post("/v2/bulkevents", raw, headers=MP_AUTH, compress=True)

    assert answer.status == 202, answer
    assert client.stats()["stored"]["mparticle"]["events"] == 1500
    assert _stored_bytes(Path(client.collector.db_path)) < 2 * len(raw)
    # Readers still see each event with its whole batch around it.
    event = client.events(limit=1)[0]
    assert len(event["payload"]["device_info"]["extra"]) == 600
    assert len(event["payload"]["events"]) == 1


def test_request_past_the_storage_bound_stores_nothing_and_says_why(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vendors, "MIN_STORE_BYTES", 1_000)
    client.collector.app.store_factor = 0.5
    mp = client.post("/v2/events", _bulk(1, 40, 0)[0], headers=MP_AUTH)
    batch = {"batch": [{"type": "track", "userId": f"u{i}", "event": "E"} for i in range(40)]}
    seg = client.segment("/v1/batch", batch)

    assert mp.status == 413, mp
    assert "bytes per request" in mp.json()["errors"][0]["message"]
    assert seg.status == 400 and seg.json()["code"] == "payload_too_large"
    assert "bytes per request" in seg.json()["message"]
    assert client.events() == []
