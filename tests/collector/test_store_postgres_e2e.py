"""End to end on PostgreSQL: trackwire's SDKs -> HTTP -> a collector on PostgreSQL -> the query
client (the same path the e2e suite drives on SQLite)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import trackwire
from trackwire.amplitude.query import AmplitudeQuery
from trackwire.collector.server import start_collector

pytestmark = pytest.mark.postgres

KEY = "pg-e2e-key"


def test_sdks_to_a_postgresql_collector_to_the_query_client(pg_url: str) -> None:
    with start_collector(db=pg_url) as running:
        with trackwire.Segment(KEY, host=running.url, flush_at=100) as segment:
            segment.identify("user-1", {"plan": "pro"})
            for day, genre in ((5, "rock"), (6, "jazz")):
                segment.track(
                    "user-1",
                    "Song Played",
                    {"genre": genre, "price": day},
                    timestamp=datetime(2026, 1, day, 10, tzinfo=timezone.utc),
                )
            assert segment.flush(timeout=10)
        with trackwire.Amplitude(KEY, server_url=running.url + "/2/httpapi") as amplitude:
            amplitude.track(
                {"event_type": "Song Played", "user_id": "user-2", "device_id": "d-2",
                 "time": int(datetime(2026, 1, 5, 12, tzinfo=timezone.utc).timestamp() * 1000),
                 "event_properties": {"genre": "rock", "price": 1}}
            )  # fmt: skip
            assert amplitude.flush(timeout=10)
        with AmplitudeQuery(KEY, "secret", query_url=running.url, timeout=10) as query:
            totals = query.event_segmentation(
                "Song Played", "20260105", "20260106", metric="totals",
                group_by={"type": "event", "value": "genre"},
            )  # fmt: skip
            uniques = query.event_segmentation("Song Played", "20260105", "20260106")
            found = query.user_search("user-1")
    assert totals.raw["data"]["seriesLabels"] == [[0, "rock"], [0, "jazz"]]
    assert totals.series == [[2, 0], [0, 1]]
    assert uniques.series == [[2, 1]]
    assert [match.user_id for match in found.matches] == ["user-1"]
