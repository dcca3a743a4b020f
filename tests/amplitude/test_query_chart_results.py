"""Typed chart results read the documented shapes (the reference's examples)."""

from __future__ import annotations

from trackwire.amplitude.query.chart_results import (
    parse_funnel,
    parse_retention,
    parse_revenue_ltv,
    parse_users,
)

FUNNEL = {"data": [{
    "meta": {"segmentIndex": 0}, "events": ["Sign Up", "Add to Cart", "Purchase"],
    "cumulativeRaw": [1000, 600, 150], "cumulative": [1.0, 0.6, 0.15],
    "stepByStep": [1.0, 0.6, 0.25], "medianTransTimes": [0, 42000, 310000],
    "avgTransTimes": [0, 65000, 520000],
    "dayFunnels": {"xValues": ["2024-03-14"], "formattedXValues": ["Mar 14"],
                   "series": [[520, 310, 70]]},
}]}  # fmt: skip

RETENTION = {"data": {"series": [{
    "dates": ["Mar 15", "Mar 14"],
    "values": {"Mar 14": [{"count": 200, "outof": 200, "incomplete": False},
                          {"count": 30, "outof": 200, "incomplete": True}]},
    "combined": [{"count": 380, "outof": 380, "retainedSetId": None, "incomplete": False}]}],
    "seriesMeta": [{"segmentIndex": 0, "eventIndex": 0}]}}  # fmt: skip


def test_funnel() -> None:
    (group,) = parse_funnel(FUNNEL).groups
    assert group.cumulative_raw == [1000, 600, 150]
    assert group.step_by_step == [1.0, 0.6, 0.25]
    assert group.median_trans_times == [0, 42000, 310000]
    assert group.day_funnels["series"] == [[520, 310, 70]]
    assert group.group_value is None


def test_retention_series_as_a_list_or_an_object() -> None:
    for body in (
        RETENTION,
        {"data": {**RETENTION["data"], "series": RETENTION["data"]["series"][0]}},
    ):  # type: ignore[index]
        (series,) = parse_retention(body).series
        assert series.dates == ["Mar 15", "Mar 14"]
        assert [(c.count, c.incomplete) for c in series.values["Mar 14"]] == [
            (200, False),
            (30, True),
        ]
        assert series.combined[0].outof == 380


def test_users_and_ltv() -> None:
    users = parse_users({"data": {"series": [[512, 530], [301, 288]], "seriesMeta": ["US", "CA"],
                                  "xValues": ["2024-03-14", "2024-03-15"]}})  # fmt: skip
    assert users.series == [[512, 530], [301, 288]]
    assert users.series_meta == ["US", "CA"]
    cohort = {"dates": ["2024-03-14"], "values": {"2024-03-14": {"r1d": 1.2, "count": 120}}}
    ltv = parse_revenue_ltv({"data": {"seriesLabels": [""], "series": [cohort]}})
    assert ltv.series_labels == [""]
    assert ltv.series[0]["values"]["2024-03-14"]["count"] == 120


def test_odd_bodies_are_empty_results() -> None:
    assert parse_funnel({"data": "x"}).groups == []
    assert parse_retention(None).series == []
    assert parse_users([]).series == []
