"""Parsing the query APIs' answers, with the documented examples (amplitude.md §3)."""

from __future__ import annotations

from trackwire.amplitude.query.results import (
    empty_user_data,
    parse_segmentation,
    parse_user_activity,
    parse_user_search,
)

# The geoffdutton/amplitude README's segmentation example, in the API's own key spelling.
SEGMENTATION = {
    "data": {
        "series": [[2, 25, 3, 1, 0, 0, 2, 3, 5, 1, 0, 0, 0, 0]],
        "seriesLabels": [0],
        "seriesCollapsed": [[{"setId": "", "value": 42}]],
        "xValues": [f"2017-01-{day:02d}" for day in range(4, 18)],
    }
}


def test_segmentation() -> None:
    result = parse_segmentation(SEGMENTATION)
    assert result.series == [[2, 25, 3, 1, 0, 0, 2, 3, 5, 1, 0, 0, 0, 0]]
    assert result.series_labels == [0]
    assert result.x_values[0] == "2017-01-04"
    assert result.x_values[-1] == "2017-01-17"
    assert result.collapsed(0) == 42
    assert result.label(0) == "total"
    assert result.raw is SEGMENTATION or result.raw == SEGMENTATION


def test_segmentation_grouped_labels() -> None:
    result = parse_segmentation(
        {
            "data": {
                "series": [[1], [2]],
                "seriesLabels": [[0, "US"], [0, "FR"]],
                "seriesCollapsed": [[{"setId": "", "value": 1}], [{"setId": "", "value": 2}]],
                "xValues": ["2026-01-01"],
            }
        }
    )
    assert [result.label(0), result.label(1)] == ["US", "FR"]
    assert result.collapsed(1) == 2


def test_user_search() -> None:
    result = parse_user_search(
        {
            "matches": [
                {
                    "user_id": "datamonster@gmail.com",
                    "amplitude_id": 12345,
                    "last_seen": "2026-01-05",
                }
            ],
            "type": "match_user_or_device_id",
        }
    )
    assert result.type == "match_user_or_device_id"
    assert result.matches[0].amplitude_id == 12345
    assert result.matches[0].user_id == "datamonster@gmail.com"
    assert result.matches[0].last_seen == "2026-01-05"


def test_user_search_nomatch() -> None:
    result = parse_user_search({"type": "nomatch", "matches": []})
    assert (result.type, result.matches) == ("nomatch", [])


def test_user_activity_unknown_id_is_the_documented_empty_shape() -> None:
    body = {"userData": empty_user_data(), "events": []}
    result = parse_user_activity(body)
    assert not result.found
    data = result.user_data
    assert (data.num_events, data.num_sessions, data.purchases, data.revenue) == (0, 0, 0, 0.0)
    assert (data.canonical_amplitude_id, data.user_id, data.last_device_id) == (1, None, None)
    assert (data.merged_amplitude_ids, data.device_ids, data.last_location) == ([], [], None)
    assert result.events == []


def test_user_activity() -> None:
    result = parse_user_activity(
        {
            "userData": {
                "user_id": "u1",
                "canonical_amplitude_id": 7,
                "merged_amplitude_ids": [],
                "num_events": 2,
                "num_sessions": 1,
                "usage_time": 0,
                "purchases": 1,
                "revenue": 9.5,
                "first_used": "2026-01-01",
                "last_used": "2026-01-02",
                "device_ids": ["d1"],
                "last_device_id": "d1",
                "last_location": {"lat": 1.0, "lng": 2.0},
                "properties": {"plan": "pro"},
                "country": "FR",
            },
            "events": [{"event_type": "a"}, {"event_type": "b"}],
        }
    )
    assert result.found
    assert result.user_data.revenue == 9.5
    assert result.user_data.properties == {"plan": "pro"}
    assert result.user_data.raw["country"] == "FR"
    assert [e["event_type"] for e in result.events] == ["a", "b"]
