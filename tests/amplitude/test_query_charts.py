"""The query client's chart calls against a real collector, and their parameter checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.collector.query_support import (
    KEY,
    Api,
    api,
    event,
    ms,
    query_collector,
    query_store,
)
from trackwire.amplitude.query import AmplitudeQuery
from trackwire.amplitude.query.charts import funnel_params, ltv_params, retention_params
from trackwire.collector.server import RunningCollector
from trackwire.errors import QueryBadRequestError, ValidationError

__all__ = ["api", "query_collector", "query_store"]


@pytest.fixture
def client(api: Api, query_collector: RunningCollector) -> Iterator[AmplitudeQuery]:
    api.send(
        [
            event("Signup", "user-1", ms(5, 9), 1),
            event("Buy", "user-1", ms(5, 10), 2, revenue=12),
            event("Signup", "user-2", ms(5, 9), 3),
            event("Buy", "user-2", ms(6, 9), 4, revenue=3),
            event("Signup", "user-3", ms(6, 9), 5),
        ]
    )
    with AmplitudeQuery(KEY, "secret", query_url=query_collector.url, timeout=30) as query:
        yield query


def test_funnels(client: AmplitudeQuery) -> None:
    result = client.funnels(["Signup", {"event_type": "Buy"}], "20260105", "20260106")
    (group,) = result.groups
    assert group.cumulative_raw == [3, 2]
    assert group.step_by_step == [1.0, pytest.approx(2 / 3, abs=1e-6)]
    assert group.median_trans_times == [0, (3_600_000 + 86_400_000) // 2]
    assert group.group_value is None


def test_retention(client: AmplitudeQuery) -> None:
    result = client.retention("Signup", "Buy", "20260105", "20260106", mode="rolling")
    (series,) = result.series
    assert series.dates == ["Jan 6", "Jan 5"]
    assert [(c.count, c.outof) for c in series.values["Jan 5"]] == [(2, 2), (2, 2), (1, 2)]
    assert [(c.count, c.outof) for c in series.combined] == [(3, 3), (2, 3), (1, 2)]


def test_users(client: AmplitudeQuery) -> None:
    result = client.users("20260105", "20260106", metric="new")
    assert result.series == [[2, 1]]
    assert result.x_values == ["2026-01-05", "2026-01-06"]


def test_revenue_ltv(client: AmplitudeQuery) -> None:
    result = client.revenue_ltv("20260105", "20260106", metric="total")
    cell = result.series[0]["values"]["2026-01-05"]
    assert (cell["r1d"], cell["r2d"], cell["count"], cell["paid"]) == (12, 15, 2, 2)


def test_segmentation_with_e2_and_rolling(client: AmplitudeQuery) -> None:
    result = client.event_segmentation(
        "Signup", "20260105", "20260106", metric="totals", event2="Buy", rolling_window=2
    )
    assert result.series == [[2, 3], [1, 2]]
    assert result.series_labels == [0, 1]


def test_unknown_step_is_a_bad_request(client: AmplitudeQuery) -> None:
    with pytest.raises(QueryBadRequestError, match="e\\[1\\]"):
        client.funnels(["Signup", "Nope"], "20260105", "20260106")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: funnel_params([], "20260105", "20260106"), "e"),
        (lambda: funnel_params(["a"], "20260105", "20260106", mode="any"), "mode"),
        (lambda: funnel_params(["a"], "20260105", "20260106", conversion_window_s=0), "cs"),
        (lambda: retention_params("a", "b", "20260105", "20260106", mode="bracket"), "rb"),
        (lambda: retention_params("a", "b", "20260105", "20260106", mode="x"), "rm"),
        (lambda: ltv_params("20260105", "20260106", metric=7), "m"),
        (lambda: ltv_params("20260105", "20260106", interval="hourly"), "i"),
    ],
)
def test_parameter_checks_name_the_field(call: object, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        call()  # type: ignore[operator]
    assert info.value.field == field
