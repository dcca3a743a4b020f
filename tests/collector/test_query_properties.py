"""Event properties kept beside the payload (migration 5) and the queries reading them.

Segmentation reads an event property from the short ``props`` column when the store kept
one, and from the payload otherwise (long property sets, rows written before the column):
both give the same answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trackwire.amplitude.query.params import segmentation_params
from trackwire.collector.query import mapping, segmentation
from trackwire.collector.sqlite import SQLiteStore, event_index
from trackwire.collector.store import EventRecord

DAY = 1_767_225_600_000  # 2026-01-01T00:00:00Z
LONG = "x" * mapping.PROPERTIES_COLUMN_MAX


@pytest.mark.parametrize(
    ("vendor", "payload", "column"),
    [
        ("amplitude", {"event_properties": {"genre": "rock", "n": 1.5}},
         '{"genre":"rock","n":1.5}'),
        ("amplitude", {"event_type": "A"}, "{}"),
        ("amplitude", {"event_properties": "not an object"}, "{}"),
        ("amplitude", {"event_properties": {}}, "{}"),
        ("amplitude", {"event_properties": {"long": LONG}}, None),
        ("segment", {"properties": {"path": "/"}, "event_properties": {"x": 1}}, '{"path":"/"}'),
        ("segment", {"event": "A"}, "{}"),
        ("mparticle", {"data": {"custom_attributes": {"a": "b"}}}, '{"a":"b"}'),
        ("mparticle", {"data": {"event_name": "A"}}, "{}"),
        # A payload that kept its whole batch (files written before shared contexts).
        ("mparticle", {"events": [{"data": {"custom_attributes": {"a": "b"}}}]}, None),
        ("other", {"event_properties": {"a": 1}}, None),
    ],
)  # fmt: skip
def test_properties_column(vendor: str, payload: dict[str, Any], column: str | None) -> None:
    assert mapping.properties_column(vendor, payload) == column


def _event(n: int, properties: dict[str, Any]) -> EventRecord:
    payload = {"event_type": "Play", "user_id": f"u{n % 3}", "event_properties": properties}
    return EventRecord("amplitude", "key", "event", "Play", f"u{n % 3}", None, DAY + n * 1000,
                       f"i{n}", payload)  # fmt: skip


def _grouped(store: SQLiteStore, prop: str, **options: Any) -> dict[str, Any]:
    params = segmentation_params(
        {"event_type": "Play", "group_by": [{"type": "event", "value": prop}]},
        "20260101", "20260101", metric="totals", **options,
    )  # fmt: skip
    sources = store.project_sources("key")
    rows, active = store.segmentation(sources, segmentation.plan(params))
    return segmentation.answer(segmentation.plan(params), rows, active)["data"]


def test_grouping_reads_short_and_long_properties_alike(tmp_path: Path) -> None:
    events = [_event(n, {"genre": "rock" if n % 2 else "jazz", "n": n}) for n in range(10)]
    # Long property sets are not kept in the column: read from the payload instead.
    events += [_event(n, {"genre": "rock", "pad": LONG}) for n in range(10, 13)]
    events += [_event(13, {}), _event(14, {"genre": None})]
    with SQLiteStore(tmp_path / "c.db") as store:
        store.ingest(events, received_time_ms=DAY + 60_000)
        data = _grouped(store, "genre")
    assert data["seriesLabels"] == [[0, "rock"], [0, "jazz"], [0, "(none)"]]
    assert data["series"] == [[8], [5], [2]]


def test_rows_without_the_column_are_read_from_the_payload(tmp_path: Path) -> None:
    """A file migrated from schema 4 keeps its rows' column NULL (no back-fill)."""
    path = tmp_path / "c.db"
    with SQLiteStore(path) as store:
        store.ingest([_event(n, {"genre": "pop", "n": n}) for n in range(4)],
                     received_time_ms=DAY + 60_000)  # fmt: skip
        store._writer.execute("UPDATE events SET props = NULL")
        store.ingest([_event(n, {"genre": "pop"}) for n in range(4, 6)],
                     received_time_ms=DAY + 60_000)  # fmt: skip
        assert _grouped(store, "genre")["series"] == [[6]]
        # A filter on an event property takes the same path.
        params = segmentation_params(
            {"event_type": "Play", "filters": [{"subprop_type": "event", "subprop_key": "n",
                                                "subprop_op": "greater", "subprop_value": [1]}]},
            "20260101", "20260101", metric="totals",
        )  # fmt: skip
        rows, _ = store.segmentation(store.project_sources("key"), segmentation.plan(params))
        assert segmentation.answer(segmentation.plan(params), rows)["data"]["series"] == [[2]]


def test_grouping_by_a_property_reads_only_the_merged_keys(tmp_path: Path) -> None:
    """Merged events' short properties are read from ``event_names`` alone (no events row);
    the events after the watermark are a range of ids."""
    select = "e.props ->> '$.a'"
    where = (
        "e.source_id = ? AND e.event_name = ? AND e.client_time_ms >= ? "
        "AND e.client_time_ms < ? AND e.props IS NOT NULL"
    )
    with SQLiteStore(tmp_path / "c.db") as store:
        store.ingest([_event(0, {"genre": "pop"})], received_time_ms=DAY)
        merged, tail = (
            str(store._writer.execute(f"EXPLAIN QUERY PLAN {sql}", (1, "Play", 0, DAY)).fetchall())
            for sql in (
                event_index.merged_branch(select, where),
                f"SELECT {select} FROM events e WHERE {event_index.tail_branch(where)}",
            )
        )
    assert "SEARCH n USING PRIMARY KEY (source_id=? AND name=? AND time_ms>? AND time_ms<?)" in (
        merged
    )
    assert "events" not in merged
    assert "SEARCH e USING INTEGER PRIMARY KEY (rowid>?)" in tail
