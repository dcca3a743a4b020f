"""The collector's query side without HTTP: mapping, segmentation plan and answer, export."""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from datetime import date

import orjson
import pytest

from trackwire.amplitude.query import iter_export_events
from trackwire.amplitude.query.params import segmentation_params
from trackwire.collector.query import mapping
from trackwire.collector.query.export import (
    _NULL_FIELDS,
    ExportRow,
    archive_chunks,
    export_event,
    export_line,
    export_time,
    member_name,
    pages_of,
)
from trackwire.collector.query.segmentation import Aggregate, answer, bucket_of, plan
from trackwire.errors import ValidationError


@pytest.mark.parametrize(
    ("vendor", "type_", "name", "event_type"),
    [
        ("amplitude", "event", "Song Played", "Song Played"),
        ("amplitude", "identify", "$identify", "$identify"),
        ("segment", "track", "Order Completed", "Order Completed"),
        ("segment", "page", "Pricing", "Viewed Pricing Page"),
        ("segment", "page", None, "Loaded a Page"),
        ("segment", "screen", "Home", "Viewed Home Screen"),
        ("segment", "screen", None, "Loaded a Screen"),
        ("segment", "identify", None, "$identify"),
        ("segment", "group", None, "$groupidentify"),
        ("segment", "alias", None, "$alias"),
        ("mparticle", "custom_event", "Hello", "Hello"),
        ("mparticle", "screen_view", "Settings", "Viewed Settings Screen"),
        ("mparticle", "session_start", "session_start", "session_start"),
        ("mparticle", "batch", None, "$identify"),
    ],
)
def test_event_type_mapping_round_trips(
    vendor: str, type_: str, name: str | None, event_type: str
) -> None:
    assert mapping.event_type_of(vendor, type_, name) == event_type
    # The inverse finds the stored row among its alternatives.
    found = [
        m
        for m in mapping.matches_for(vendor, event_type)
        if m.event_name == name and (not m.types or (type_ in m.types) != m.exclude)
    ]
    assert found, mapping.matches_for(vendor, event_type)


@pytest.mark.parametrize(
    ("vendor", "payload", "properties"),
    [
        ("amplitude", {"event_properties": {"a": 1}}, {"a": 1}),
        ("segment", {"properties": {"a": 1}}, {"a": 1}),
        ("mparticle", {"events": [{"data": {"custom_attributes": {"a": "1"}}}]}, {"a": "1"}),
        ("segment", {"properties": "bad"}, {}),
    ],
)
def test_event_properties(
    vendor: str, payload: dict[str, object], properties: dict[str, object]
) -> None:
    assert mapping.event_properties_of(vendor, payload) == properties


@pytest.mark.parametrize(
    ("name", "path"),
    [("gp:plan", '$."plan"'), ("plan", '$."plan"'), ("gp:a.b", '$."a.b"'), ("country", None)],
)
def test_user_property_paths(name: str, path: str | None) -> None:
    assert mapping.user_property_key(name) == path


DAY = 86_400_000


@pytest.mark.parametrize(
    ("interval", "time_ms", "bucket"),
    [
        ("daily", 0, 0),
        ("daily", DAY * 20458 + 5, 20458),
        ("hourly", 3 * 3_600_000 + 1, 3),
        ("weekly", 3 * DAY, 1),  # 1970-01-04 was a Sunday: a new week
        ("weekly", 2 * DAY, 0),
        ("monthly", 31 * DAY, 1970 * 12 + 1),
    ],
)
def test_buckets(interval: str, time_ms: int, bucket: int) -> None:
    assert bucket_of(interval, time_ms) == bucket


@pytest.mark.parametrize(
    ("interval", "start", "end", "x_values"),
    [
        ("daily", "20260105", "20260107", ["2026-01-05", "2026-01-06", "2026-01-07"]),
        # Weeks start on Sunday; the first is labelled by its first day in range.
        ("weekly", "20260101", "20260112", ["2026-01-01", "2026-01-04", "2026-01-11"]),
        ("monthly", "20260130", "20260302", ["2026-01-30", "2026-02-01", "2026-03-01"]),
    ],
)
def test_periods(interval: str, start: str, end: str, x_values: list[str]) -> None:
    assert list(plan(segmentation_params("a", start, end, interval=interval)).x_values) == x_values


def test_hourly_periods() -> None:
    query = plan(segmentation_params("a", "20260105", "20260106", interval="hourly"))
    assert len(query.x_values) == 48
    assert query.x_values[25] == "2026-01-06T01:00:00"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"metric": "formula"}, "m"),
        ({"metric": "histogram"}, "m"),
        ({"interval": "realtime"}, "i"),
        ({"interval": "hourly", "end": "20260120"}, "end"),
        ({"metric": "sums"}, "e.group_by"),
        ({"group_by": "country", "event": {"event_type": "a",
                                           "group_by": [{"type": "event", "value": "x"}]}}, "g"),
    ],
)  # fmt: skip
def test_plan_refuses(kwargs: dict[str, object], field: str) -> None:
    event = kwargs.pop("event", "a")
    args = {"start": "20260105", "end": "20260106", **kwargs}
    with pytest.raises(ValidationError) as info:
        plan(segmentation_params(event, **args))  # type: ignore[arg-type]
    assert info.value.field == field


def _plan(metric: str, group: bool = False) -> object:
    return plan(
        segmentation_params(
            "a", date(2026, 1, 5), date(2026, 1, 6), metric=metric,
            group_by={"type": "event", "value": "g"} if group else None,
        )
    )  # fmt: skip


D5 = 20458  # 2026-01-05 as a day number
ROWS = [
    Aggregate(D5, None, 4, 2, 10.0, 4),
    Aggregate(D5 + 1, None, 1, 1, 3.0, 1),
    Aggregate(None, None, 5, 2, 13.0, 5),
]


@pytest.mark.parametrize(
    ("metric", "series", "collapsed"),
    [
        ("uniques", [2, 1], 2),
        ("totals", [4, 1], 5),
        ("average", [2, 1], 2.5),
        ("sums", [10, 3], 13),
        ("value_avg", [2.5, 3], 2.6),
    ],
)
def test_answer_metrics(metric: str, series: list[float], collapsed: float) -> None:
    query = plan(
        segmentation_params(
            {"event_type": "a", "group_by": [{"type": "event", "value": "v"}]}
            if metric in ("sums", "value_avg") else "a",
            "20260105", "20260106", metric=metric,
        )
    )  # fmt: skip
    data = answer(query, ROWS)["data"]
    assert data["series"] == [series]
    assert data["seriesCollapsed"] == [[{"setId": "", "value": collapsed}]]
    assert data["seriesLabels"] == [0]
    assert data["xValues"] == ["2026-01-05", "2026-01-06"]


def test_answer_pct_dau() -> None:
    query = plan(segmentation_params("a", "20260105", "20260106", metric="pct_dau"))
    data = answer(query, ROWS, {D5: 4, D5 + 1: 1, None: 4})["data"]
    assert data["series"] == [[50.0, 100.0]]
    assert data["seriesCollapsed"] == [[{"setId": "", "value": 50.0}]]


def test_answer_groups_ordered_limited_and_none_label() -> None:
    query = plan(
        segmentation_params(
            "a", "20260105", "20260105", metric="totals",
            group_by={"type": "event", "value": "g"}, limit=2,
        )
    )  # fmt: skip
    rows = [
        Aggregate(D5, "b", 1, 1), Aggregate(None, "b", 1, 1),
        Aggregate(D5, None, 5, 1), Aggregate(None, None, 5, 1),
        Aggregate(D5, 3.0, 2, 1), Aggregate(None, 3.0, 2, 1),
    ]  # fmt: skip
    data = answer(query, rows)["data"]
    assert data["seriesLabels"] == [[0, "(none)"], [0, "3"]]
    assert data["series"] == [[5], [2]]


def test_answer_without_rows_is_zeros() -> None:
    query = plan(segmentation_params("a", "20260105", "20260106"))
    assert answer(query, [])["data"]["series"] == [[0, 0]]


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01 00:00:00.000000"),
        (1_795_380_486_393, "2026-11-22 20:48:06.393000"),
        (1_767_225_599_999, "2025-12-31 23:59:59.999000"),
    ],
)
def test_export_time(ms: int, text: str) -> None:
    assert export_time(ms) == text


def test_member_name_hour_is_not_padded() -> None:
    assert member_name(187520, 1_579_971_600_000) == "187520/187520_2020-01-25_17#0.json.gz"
    assert member_name(7, 1_767_225_600_000 + 9 * 3_600_000) == "7/7_2026-01-01_9#0.json.gz"


def _row(
    id_: int,
    vendor: str,
    type_: str,
    name: str | None,
    payload: dict[str, object],
    received: int = 1_767_225_600_000,
) -> ExportRow:
    return ExportRow(vendor, id_, 3, type_, name, "u1", "d1", 11, None, None, received, f"k{id_}",
                     None, orjson.dumps(payload))  # fmt: skip


def test_export_event_fields() -> None:
    event = export_event(
        _row(5, "segment", "page", "Home",
             {"properties": {"path": "/"}, "context": {"location": {"country": "FR"},
                                                       "traits": {"plan": "pro"}}}),
        project_id=3,
    )  # fmt: skip
    assert event["event_type"] == "Viewed Home Page"
    assert event["event_properties"] == {"path": "/"}
    assert event["user_properties"] == {"plan": "pro"}
    assert event["country"] == "FR"
    assert event["client_event_time"] == event["server_upload_time"] == "2026-01-01 00:00:00.000000"
    assert (event["app"], event["event_id"], event["amplitude_id"], event["session_id"]) == (
        3,
        5,
        11,
        -1,
    )
    assert event["$insert_id"] == "k5"
    assert len(event["uuid"]) == 36


def test_archive_streams_one_member_per_hour() -> None:
    hour = 3_600_000
    rows = [
        _row(i, "amplitude", "event", "A", {"event_properties": {"i": i, "r": os.urandom(9).hex()}},
             received=1_767_225_600_000 + (i // 4000) * hour)
        for i in range(12000)
    ]  # fmt: skip
    chunks = list(archive_chunks(pages_of(rows), 3))
    assert len(chunks) > 1  # streamed in pieces, not one blob
    data = b"".join(chunks)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == [f"3/3_2026-01-01_{h}#0.json.gz" for h in range(3)]
    lines = gzip.decompress(zipfile.ZipFile(io.BytesIO(data)).read(names[1])).splitlines()
    assert len(lines) == 4000
    events = list(iter_export_events(io.BytesIO(data)))
    assert [e["event_properties"]["i"] for e in events] == list(range(12000))


def test_archive_of_nothing_is_an_empty_zip() -> None:
    data = b"".join(archive_chunks(pages_of([]), 3))
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == []


def test_export_line_keys_in_export_order_unknown_fields_null() -> None:
    payload = {
        "platform": "Web", "carrier": "Orange", "ip": "1.2.3.4", "app_version": "2.1",
        "user_properties": {"$set": {"plan": "pro"}, "$add": {"n": 1}, "age": 3},
    }  # fmt: skip
    line = export_line(_row(7, "amplitude", "event", "A", payload), project_id=3)
    event = orjson.loads(line)
    assert list(event)[: len(_NULL_FIELDS)] == list(_NULL_FIELDS)
    assert list(event)[len(_NULL_FIELDS) :] == [
        "$insert_id", "$schema", "amplitude_id", "app", "client_event_time",
        "client_upload_time", "data", "device_id", "event_id", "event_properties", "event_time",
        "event_type", "group_properties", "groups", "is_attribution_event", "processed_time",
        "server_received_time", "server_upload_time", "session_id", "user_id",
        "user_properties", "uuid",
    ]  # fmt: skip
    assert (event["platform"], event["device_carrier"], event["ip_address"]) == (
        "Web",
        "Orange",
        "1.2.3.4",
    )
    assert event["version_name"] == "2.1"
    assert event["country"] is None and event["device_type"] is None
    assert event["user_properties"] == {"age": 3, "plan": "pro"}
    assert orjson.dumps(event) == line  # compact, as orjson writes it
    assert export_event(_row(7, "amplitude", "event", "A", payload), 3) == event


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"country": "FR"},
        {"country": "FR", "city": None, "paying": True, "location_lat": 1.5},
        {"city": "Lyon", "country": "FR"},  # another key order: another cached format
        {"event_properties": {"s": 'a"b\n\u2028é\x01'}, "groups": {"x": 1}},
    ],
)
def test_export_line_is_the_events_json(payload: dict[str, object]) -> None:
    row = _row(9, "amplitude", "event", "A", payload)
    row.groups = '{"org": ["a", "b"]}'
    event = export_event(row, 3)
    assert event["groups"] == {"org": ["a", "b"]}
    for key, value in payload.items():
        if key in ("country", "city", "paying", "location_lat"):
            assert event[key] == value
    assert export_line(row, 3) == orjson.dumps(event)
