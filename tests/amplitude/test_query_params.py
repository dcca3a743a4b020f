"""Building and reading the query APIs' parameters (pure functions, table cases)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import orjson
import pytest

from trackwire.amplitude.query import params as p
from trackwire.errors import ValidationError

EST = timezone(timedelta(hours=-5))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20260131T05", "20260131T05"),
        (datetime(2026, 1, 31, 5, 59), "20260131T05"),  # naive = UTC
        (datetime(2026, 1, 31, 5, tzinfo=timezone.utc), "20260131T05"),
        (datetime(2026, 1, 31, 23, tzinfo=EST), "20260201T04"),  # converted to UTC
    ],
)
def test_hour_param(value: datetime | str, expected: str) -> None:
    assert p.hour_param(value) == expected


@pytest.mark.parametrize("text", ["2026013105", "20260131T5", "20261331T05", "20260131T24", ""])
def test_hour_param_refuses(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        p.hour_param(text, "end")
    assert info.value.field == "end"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20260105", "20260105"),
        (date(2026, 1, 5), "20260105"),
        (datetime(2026, 1, 5, 23, 30, tzinfo=EST), "20260106"),
    ],
)
def test_day_param(value: date | str, expected: str) -> None:
    assert p.day_param(value) == expected


@pytest.mark.parametrize("text", ["2026-01-05", "20260230", "2026015"])
def test_day_param_refuses(text: str) -> None:
    with pytest.raises(ValidationError):
        p.day_param(text)


def test_segmentation_query_string() -> None:
    params = p.segmentation_params(
        "Song Played",
        "20170104",
        date(2017, 1, 17),
        metric="totals",
        interval="weekly",
        group_by="country",
        segments=[{"prop": "gp:plan", "op": "is", "values": ["pro"]}],
        limit=10,
    )
    query = params.query()
    assert query == {
        "e": '{"event_type":"Song Played"}',
        "start": "20170104",
        "end": "20170117",
        "m": "totals",
        "i": "7",
        "g": "country",
        "s": '[{"prop":"gp:plan","op":"is","values":["pro"]}]',
        "limit": "10",
    }
    # The collector reads back exactly what the client built.
    assert p.parse_segmentation_query(query) == params
    assert params.days == 14


@pytest.mark.parametrize(
    ("interval", "wire"),
    [("hourly", -3600000), ("daily", 1), ("weekly", 7), ("monthly", 30), (30, 30), ("1", 1)],
)
def test_intervals(interval: int | str, wire: int) -> None:
    assert p.segmentation_params("a", "20260101", "20260102", interval=interval).interval == wire


def test_event_group_by_object_goes_into_e() -> None:
    params = p.segmentation_params(
        {
            "event_type": "Buy",
            "filters": [
                {
                    "subprop_type": "event",
                    "subprop_key": "color",
                    "subprop_op": "is",
                    "subprop_value": ["red"],
                }
            ],
        },
        "20260101",
        "20260102",
        group_by={"type": "event", "value": "size"},
    )
    assert params.group_by is None
    assert params.event_group_by == {"type": "event", "value": "size"}
    assert orjson.loads(params.query()["e"])["group_by"] == [{"type": "event", "value": "size"}]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"event": ""}, "e.event_type"),
        (
            {"event": {"event_type": "a", "filters": [{"subprop_key": "x"}]}},
            "e.filters[0].subprop_op",
        ),
        ({"metric": "median"}, "m"),
        ({"interval": "yearly"}, "i"),
        ({"end": "20251231"}, "end"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"segments": [{"prop": "country", "op": "like", "values": ["x"]}]}, "s[0].op"),
        ({"segments": [{"prop": "country", "op": "is", "values": "x"}]}, "s[0].values"),
        ({"group_by": {"type": "session", "value": "x"}}, "e.group_by[0]"),
    ],
)
def test_segmentation_refuses(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"event": "a", "start": "20260101", "end": "20260102"}
    args.update(kwargs)
    with pytest.raises(ValidationError) as info:
        p.segmentation_params(**args)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "20260101", "end": "20260102"}, "e"),
        ({"e": "{not json", "start": "20260101", "end": "20260102"}, "e"),
        ({"e": '{"event_type":"a"}', "end": "20260102"}, "start"),
        (
            {"e": '{"event_type":"a"}', "start": "20260101", "end": "20260102", "limit": "x"},
            "limit",
        ),
        ({"e": '{"event_type":"a"}', "start": "20260101", "end": "20260102", "s": "{}"}, "s"),
    ],
)
def test_parse_segmentation_query_refuses(query: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        p.parse_segmentation_query(query)
    assert info.value.field == field


def test_hours_inclusive() -> None:
    start = datetime(2026, 1, 1, 22, tzinfo=timezone.utc)
    assert [h.hour for h in p.hours(start, start + timedelta(hours=3))] == [22, 23, 0, 1]
