"""Funnels, retention, active/new users and revenue LTV: exact numbers on datasets built here."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.collector.query_support import (
    Api,
    event,
    ms,
    shared_collector,
    shared_store,
)
from trackwire.collector.server import RunningCollector

__all__ = ["shared_collector", "shared_store"]

RANGE = {"start": "20260105", "end": "20260107"}
MIN = 60_000
DAY = 86_400_000


@pytest.fixture(scope="module")
def shop(shared_collector: RunningCollector) -> Api:
    """Six users through Signup -> Cart -> Buy (see each line)."""
    api = Api(shared_collector, "shop-key")
    pro = {"$set": {"plan": "pro"}}
    api.send([event("Other", "user-f", ms(1, 9), 99)])  # f was first seen before the range
    api.send(
        [
            # a: all three steps on the 5th, 5 and 10 minutes apart (plan pro)
            event("Signup", "user-a", ms(5, 10), 1, user_props=pro),
            event("Cart", "user-a", ms(5, 10, 5), 2),
            event("Buy", "user-a", ms(5, 10, 15), 3),
            # b: Signup, Cart a day later, never buys (plan pro)
            event("Signup", "user-b", ms(5, 11), 4, user_props=pro),
            event("Cart", "user-b", ms(6, 11), 5),
            # c: Signup on the 6th, buys without a cart
            event("Signup", "user-c", ms(6, 9), 6),
            event("Buy", "user-c", ms(6, 9, 30), 7),
            # d: Cart before Signup, then Buy: in order only the first step
            event("Cart", "user-d", ms(5, 8), 8),
            event("Signup", "user-d", ms(5, 9), 9),
            event("Buy", "user-d", ms(5, 9, 10), 10),
            # e: Cart two days after Signup
            event("Signup", "user-e", ms(5, 12), 11),
            event("Cart", "user-e", ms(7, 12), 12),
            # f: Signup on the 5th
            event("Signup", "user-f", ms(5, 13), 13),
        ]
    )
    return api


STEPS = [{"event_type": "Signup"}, {"event_type": "Cart"}, {"event_type": "Buy"}]


def _text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _funnel(api: Api, **fields: Any) -> list[dict[str, Any]]:
    response = api.pool.request(
        "GET", api.url + "/api/2/funnels",
        fields=[*(("e", _text(e)) for e in STEPS), *{**RANGE, **fields}.items()],
        headers={"Authorization": api.auth},
    )  # fmt: skip
    assert response.status == 200, response.data[:400]
    data: list[dict[str, Any]] = orjson.loads(response.data)["data"]
    return data


def test_ordered_funnel(shop: Api) -> None:
    (funnel,) = _funnel(shop)
    assert funnel["events"] == ["Signup", "Cart", "Buy"]
    assert funnel["cumulativeRaw"] == [6, 3, 1]
    assert funnel["cumulative"] == [1.0, 0.5, 0.166667]
    assert funnel["stepByStep"] == [1.0, 0.5, 0.333333]
    # Cart after Signup: a 5 min, b 1 day, e 2 days; Buy after Cart: a 10 min.
    assert funnel["medianTransTimes"] == [0, DAY, 10 * MIN]
    assert funnel["avgTransTimes"] == [0, (5 * MIN + DAY + 2 * DAY) // 3, 10 * MIN]
    assert funnel["dayFunnels"] == {
        "series": [[5, 3, 1], [1, 0, 0], [0, 0, 0]],
        "xValues": ["2026-01-05", "2026-01-06", "2026-01-07"],
        "formattedXValues": ["Jan 5", "Jan 6", "Jan 7"],
    }
    assert funnel["dayMedianTransTimes"]["series"][0] == [0, DAY, 10 * MIN]
    assert funnel["meta"] == {"segmentIndex": 0}


@pytest.mark.parametrize(
    ("fields", "raw"),
    [
        ({"cs": "86400"}, [6, 2, 1]),  # e's Cart two days later is outside a day's window
        ({"n": "new"}, [5, 3, 1]),  # f was first seen before the range
        ({"mode": "unordered"}, [6, 4, 2]),  # d's Cart before Signup counts
        ({"start": "20260106", "end": "20260106"}, [1, 0, 0]),
    ],
)
def test_funnel_options(shop: Api, fields: dict[str, str], raw: list[int]) -> None:
    assert _funnel(shop, **fields)[0]["cumulativeRaw"] == raw


def test_funnel_grouped_by_a_user_property(shop: Api) -> None:
    groups = _funnel(shop, g="gp:plan")
    assert [(g["groupValue"], g["cumulativeRaw"]) for g in groups] == [
        ("(none)", [4, 1, 0]),
        ("pro", [2, 2, 1]),
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"mode": "sequential"}, "mode"), ({"cs": "0"}, "cs"), ({"n": "any"}, "n")],
)
def test_funnel_refusals_name_the_parameter(shop: Api, fields: dict[str, str], field: str) -> None:
    response = shop.pool.request(
        "GET", shop.url + "/api/2/funnels",
        fields=[("e", _text(STEPS[0])), *{**RANGE, **fields}.items()],
        headers={"Authorization": shop.auth},
    )  # fmt: skip
    assert response.status == 400
    assert field in orjson.loads(response.data)["error"]


@pytest.fixture(scope="module")
def returning(shared_collector: RunningCollector) -> Api:
    api = Api(shared_collector, "returning-key")
    api.send(
        [
            event("Signup", "user-r1", ms(5, 9), 1),
            event("Play", "user-r1", ms(5, 10), 2),  # back the same day, after signing up
            event("Play", "user-r1", ms(6, 10), 3),
            event("Signup", "user-r2", ms(5, 9), 4),
            event("Play", "user-r2", ms(7, 10), 5),
            event("Signup", "user-r3", ms(6, 9), 6),
            event("Play", "user-r3", ms(7, 10), 7),
            event("Signup", "user-r4", ms(6, 9), 8),
        ]
    )
    return api


def _cells(counts: list[int], outof: int) -> list[dict[str, Any]]:
    return [{"count": c, "outof": outof, "incomplete": False} for c in counts]


@pytest.mark.parametrize(
    ("fields", "jan5", "jan6", "combined"),
    [
        ({}, [2, 1, 1, 1], [2, 0, 1], [(4, 4), (1, 4), (2, 4), (1, 2)]),
        ({"rm": "rolling"}, [2, 2, 2, 1], [2, 1, 1], [(4, 4), (3, 4), (3, 4), (1, 2)]),
        ({"rm": "bracket", "rb": "[[0,2],[2,3]]"}, [2, 1, 1], [2, 1, 0],
         [(4, 4), (2, 4), (1, 4)]),
    ],
)  # fmt: skip
def test_retention(
    returning: Api,
    fields: dict[str, str],
    jan5: list[int],
    jan6: list[int],
    combined: list[tuple[int, int]],
) -> None:
    data = returning.data(
        "/api/2/retention", se={"event_type": "Signup"}, re={"event_type": "Play"},
        **RANGE, **fields,
    )  # fmt: skip
    (series,) = data["series"]
    assert series["dates"] == ["Jan 6", "Jan 5"]
    assert series["values"] == {"Jan 5": _cells(jan5, 2), "Jan 6": _cells(jan6, 2)}
    assert [(c["count"], c["outof"]) for c in series["combined"]] == combined
    assert all(c["retainedSetId"] is None for c in series["combined"])
    assert data["seriesMeta"] == [{"segmentIndex": 0, "eventIndex": 0}]


def test_retention_of_new_users(returning: Api) -> None:
    data = returning.data(
        "/api/2/retention", se={"event_type": "_new"}, re={"event_type": "Play"}, **RANGE
    )
    assert data["series"][0]["values"]["Jan 5"] == _cells([2, 1, 1, 1], 2)


@pytest.mark.parametrize(("m", "series"), [("active", [[2, 3, 2]]), ("new", [[2, 2, 0]])])
def test_active_and_new_users(returning: Api, m: str, series: list[list[int]]) -> None:
    data = returning.data("/api/2/users", m=m, **RANGE)
    assert data == {"series": series, "seriesMeta": [""],
                    "xValues": ["2026-01-05", "2026-01-06", "2026-01-07"]}  # fmt: skip


@pytest.fixture(scope="module")
def paying(shared_collector: RunningCollector) -> Api:
    api = Api(shared_collector, "paying-key")
    api.send(
        [
            event("Play", "user-v1", ms(5, 10), 1),
            event("Buy", "user-v1", ms(5, 11), 2, revenue=10),
            event("Buy", "user-v1", ms(7, 11), 3, revenue=5),  # two days after first seen
            event("Play", "user-v2", ms(5, 10), 4),
            event("Buy", "user-v3", ms(6, 10), 5, revenue=20),
        ]
    )
    return api


@pytest.mark.parametrize(
    ("m", "jan5"),
    [
        ("0", {"r1d": 5, "r2d": 5, "r3d": 7.5, "r90d": 7.5}),  # ARPU: revenue / 2 users
        ("1", {"r1d": 10, "r2d": 10, "r3d": 15, "r90d": 15}),  # ARPPU: per paying user
        ("2", {"r1d": 10, "r3d": 15}),
        ("3", {"r1d": 1, "r3d": 1}),
    ],
)
def test_revenue_ltv(paying: Api, m: str, jan5: dict[str, float]) -> None:
    data = paying.data("/api/2/revenue/ltv", m=m, start="20260105", end="20260106")
    assert data["seriesLabels"] == [""]
    (series,) = data["series"]
    assert series["dates"] == ["2026-01-06", "2026-01-05"]
    cell = series["values"]["2026-01-05"]
    assert {k: cell[k] for k in jan5} == jan5
    assert (cell["count"], cell["paid"], cell["total_amount"]) == (2, 1, 15)
    assert series["values"]["2026-01-06"]["count"] == 1


def test_active_users_grouped_by_a_user_property(shop: Api) -> None:
    data = shop.data("/api/2/users", g="gp:plan", **RANGE)
    assert data["seriesMeta"] == ["(none)", "pro"]
    assert data["series"] == [[3, 1, 1], [2, 1, 0]]


def test_a_chart_over_too_many_events_is_refused(
    shop: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackwire.collector.postgres import amplitude_segmentation as postgres
    from trackwire.collector.sqlite import amplitude_segmentation as sqlite

    for store in (sqlite, postgres):
        monkeypatch.setattr(store, "MAX_HITS", 2)
    status, error = shop.error("/api/2/retention", se={"event_type": "Signup"},
                               re={"event_type": "Buy"}, **RANGE)  # fmt: skip
    assert status == 400
    assert "narrow" in error
