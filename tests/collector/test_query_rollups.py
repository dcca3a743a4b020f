"""The rollups kept at ingest give the same answers as the events they summarise."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from tests.collector.query_support import (
    Api,
    api,
    event,
    ms,
    query_collector,
    query_store,
)

__all__ = ["api", "query_collector", "query_store"]

SEGMENT_KEY = "segment-rollups"


def _segment(api: Api, batch: list[dict[str, Any]]) -> None:
    auth = "Basic " + base64.b64encode(f"{SEGMENT_KEY}:".encode()).decode()
    response = api.pool.request(
        "POST", api.url + "/v1/batch", body=orjson.dumps({"batch": batch}),
        headers={"Content-Type": "application/json", "Authorization": auth},
    )  # fmt: skip
    assert response.status == 200, response.data


def _track(user: str, n: int, day: int, name: str = "Play") -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": name, "messageId": f"s-{n}",
            "timestamp": f"2026-01-{day:02d}T12:00:00Z"}  # fmt: skip


@pytest.fixture
def mixed(api: Api) -> Api:
    events = [event("Play", f"user-{n % 4}", ms(3 + n % 9, n % 24), n) for n in range(40)]
    events += [event("$identify", "user-7", ms(4), 100, user_props={"$set": {"a": 1}})]
    events.append({"event_type": "Play", "user_id": "user-8", "insert_id": "no-time"})
    api.send(events)
    _segment(api, [_track("visitor-1", 1, 3), _track("visitor-2", 2, 4)])
    _segment(api, [{"type": "identify", "userId": "quiet-1", "messageId": "s-3",
                    "timestamp": "2026-01-05T12:00:00Z"}])  # fmt: skip
    _segment(api, [{"type": "alias", "previousId": "visitor-1", "userId": "member-1",
                    "messageId": "s-4", "timestamp": "2026-01-05T12:00:00Z"}])  # fmt: skip
    _segment(api, [_track("member-1", 5, 5), _track("visitor-1", 6, 6), _track("v-3", 7, 5)])
    return api


QUERIES = [
    {"e": {"event_type": "_active"}, "start": "20260101", "end": "20260131"},
    {"e": {"event_type": "_active"}, "start": "20260101", "end": "20260131", "i": "7"},
    {"e": {"event_type": "_active"}, "start": "20251201", "end": "20261231", "i": "30"},
    {"e": {"event_type": "_active"}, "start": "20260104", "end": "20260106", "m": "pct_dau"},
    {"e": {"event_type": "Play"}, "start": "20260101", "end": "20260131", "m": "pct_dau"},
    # _all: the active days with the users of identify/alias-only days (quiet-1).
    {"e": {"event_type": "_all"}, "start": "20260101", "end": "20260131"},
    {"e": {"event_type": "_all"}, "start": "20260101", "end": "20260131", "i": "7"},
    {"e": {"event_type": "_all"}, "start": "20260104", "end": "20260106", "m": "pct_dau"},
]


@pytest.mark.parametrize("fields", QUERIES)
@pytest.mark.parametrize("key", ["query-key", SEGMENT_KEY])
def test_rollups_answer_the_same(
    mixed: Api, query_store: Any, fields: dict[str, Any], key: str
) -> None:
    def answer() -> Any:
        auth = "Basic " + base64.b64encode(f"{key}:s".encode()).decode()
        query = {
            k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in fields.items()
        }
        response = mixed.pool.request(
            "GET", mixed.url + "/api/2/events/segmentation", fields=query,
            headers={"Authorization": auth},
        )  # fmt: skip
        assert response.status == 200, response.data
        return orjson.loads(response.data)

    query_store.use_rollups = True
    with_rollups = answer()
    query_store.use_rollups = False
    without = answer()
    assert with_rollups == without
    assert sum(with_rollups["data"]["series"][0]) > 0


def test_no_vendor_stores_an_active_event_under_another_vendors_inactive_type() -> None:
    """The rollup trigger tells inactive rows by type alone (see amplitude_rollups)."""
    from trackwire.collector.query.mapping import INACTIVE_TYPES
    from trackwire.collector.sqlite.amplitude_rollups import INACTIVE
    from trackwire.mparticle.schema import EVENT_TYPES

    active = {
        "amplitude": {"event"},
        "segment": {"track", "page", "screen"},
        "mparticle": set(EVENT_TYPES),
    }
    for vendor, types in active.items():
        assert not types & INACTIVE, vendor
        assert not types & INACTIVE_TYPES[vendor], vendor
