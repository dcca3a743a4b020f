"""Segmentation, user search and export answer as Amplitude documents, over a real collector.

Each test builds its own small dataset through the HTTP V2 API, then reads the exact numbers
back through the query API.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.collector.query_support import Api, api, event, ms, query_collector, query_store

__all__ = ["api", "query_collector", "query_store"]

DAY = {"start": "20260105", "end": "20260105"}


def _filter(key: str, op: str, values: list[Any], kind: str = "event") -> dict[str, Any]:
    return {"subprop_type": kind, "subprop_key": key, "subprop_op": op, "subprop_value": values}


def _series(api: Api, e: dict[str, Any], **fields: Any) -> list[list[Any]]:
    series: list[list[Any]] = api.data("/api/2/events/segmentation", e=e, **{**DAY, **fields})[
        "series"
    ]
    return series


@pytest.fixture
def cafe(api: Api) -> Api:
    """Five users playing songs whose names and moods are in several scripts and cases."""
    names = ["CAFÉ NOIR", "café crème", "Élodie", "straße", "plain", None]
    api.send(
        [
            event("Play", f"user-{n}", ms(5), n, props={"name": name, "live": n % 2 == 0, "n": n})
            for n, name in enumerate(names)
        ]
    )
    return api


@pytest.mark.parametrize(
    ("op", "values", "count"),
    [
        ("contains", ["CAFÉ"], 2),  # folds É/é like E/e
        ("contains", ["élodie"], 1),
        ("contains", ["STRASSE"], 1),  # ß folds to ss
        ("contains", ["noir", "Élo"], 2),
        ("contains", ["zzz"], 0),  # a contains that excludes every event
        ("does not contain", ["café"], 4),  # the unset name counts as not containing
        ("is", ["plain"], 1),
        ("is not", ["plain"], 5),
    ],
)
def test_text_filters_fold_case_in_every_script(
    cafe: Api, op: str, values: list[str], count: int
) -> None:
    e = {"event_type": "Play", "filters": [_filter("name", op, values)]}
    assert _series(cafe, e, m="totals") == [[count]]


@pytest.mark.parametrize(
    ("values", "count"),
    [(["true"], 3), (["false"], 3), ([True], 3), (["1"], 0), (["true", "false"], 6)],
)
def test_boolean_filters_compare_true_and_false(cafe: Api, values: list[Any], count: int) -> None:
    e = {"event_type": "Play", "filters": [_filter("live", "is", values)]}
    assert _series(cafe, e, m="totals") == [[count]]


def test_group_by_a_boolean_shows_true_and_false(cafe: Api) -> None:
    e = {"event_type": "Play", "group_by": [{"type": "event", "value": "live"}]}
    data = cafe.data("/api/2/events/segmentation", e=e, m="totals", **DAY)
    labels = [label for _, label in data["seriesLabels"]]
    assert dict(zip(labels, data["series"], strict=True)) == {"true": [3], "false": [3]}


def test_a_filter_value_3_0_matches_a_stored_3(cafe: Api) -> None:
    for value in (3.0, "3.0", "3", 3):
        e = {"event_type": "Play", "filters": [_filter("n", "is", [value])]}
        assert _series(cafe, e, m="totals") == [[1]], value


def test_set_is_and_set_is_not_on_a_property_never_stored(cafe: Api) -> None:
    for kind in ("event", "user"):
        e = {"event_type": "Play", "filters": [_filter("never", "set is", ["x"], kind)]}
        assert _series(cafe, e, m="totals") == [[0]], kind
        e = {"event_type": "Play", "filters": [_filter("never", "set is not", ["x"], kind)]}
        assert _series(cafe, e, m="totals") == [[6]], kind


def test_two_raw_values_sharing_a_label_add_their_users_once(api: Api) -> None:
    # u1 sends both 1 and 1.0, u2 sends 1: label "1" has two users, not three. null and ""
    # are both "(none)": u3 sends both, u4 one of them.
    api.send(
        [
            event("Play", "user-1", ms(5), 1, props={"k": 1}),
            event("Play", "user-1", ms(5), 2, props={"k": 1.0}),
            event("Play", "user-2", ms(5), 3, props={"k": 1.0}),
            event("Play", "user-3", ms(5), 4, props={"k": None}),
            event("Play", "user-3", ms(5), 5, props={"k": ""}),
            event("Play", "user-4", ms(5), 6, props={"k": ""}),
        ]
    )
    e = {"event_type": "Play", "group_by": [{"type": "event", "value": "k"}]}
    data = api.data("/api/2/events/segmentation", e=e, **DAY)
    assert data["seriesLabels"] == [[0, "(none)"], [0, "1"]]
    assert data["series"] == [[2], [2]]


def test_pct_dau_with_zero_active_users_is_zero(api: Api) -> None:
    api.send([event("Play", "user-1", ms(5), 1)])
    data = api.data(
        "/api/2/events/segmentation", e={"event_type": "Play"}, m="pct_dau",
        start="20260106", end="20260107",
    )  # fmt: skip
    assert data["series"] == [[0, 0]]
    assert data["seriesCollapsed"] == [[{"setId": "", "value": 0}]]
