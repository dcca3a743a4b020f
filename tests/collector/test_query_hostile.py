"""Hostile query requests: every one a 4xx naming what was wrong, never a 500; and a query
that runs too long is cancelled with a 503."""

from __future__ import annotations

from typing import Any

import pytest

from tests.collector.query_support import (
    Api,
    event,
    ms,
    shared_collector,
    shared_store,
    sqlite_only,
)
from trackwire.collector.server import RunningCollector

__all__ = ["shared_collector", "shared_store"]

SEG = "/api/2/events/segmentation"
DAYS = {"start": "20260105", "end": "20260105"}


@pytest.fixture(scope="module")
def played(shared_collector: RunningCollector) -> Api:
    api = Api(shared_collector, "hostile-key")
    api.send([event("Play", f"user-{n}", ms(5), n, props={"a": n}) for n in range(3)])
    return api


def _f(key: str, op: str = "is", values: list[Any] | None = None) -> dict[str, Any]:
    return {"subprop_type": "event", "subprop_key": key, "subprop_op": op,
            "subprop_value": ["x"] if values is None else values}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "fields", "named"),
    [
        # U+0000 in a property name, wherever one goes.
        (SEG, {"e": {"event_type": "Play", "filters": [_f("a\x00b")]}}, "e.filters[0].subprop_key"),
        (SEG, {"e": {"event_type": "Play", "group_by": [{"type": "event", "value": "\x00"}]}},
         "e.group_by[0].value"),
        (SEG, {"e": {"event_type": "Play"}, "g": "plan\x00"}, "g"),
        (SEG, {"e": {"event_type": "Play"}, "s": [{"prop": "\x00", "op": "is", "values": ["x"]}]},
         "s[0].prop"),
        # Too many values, filters, segments.
        (SEG, {"e": {"event_type": "Play", "filters": [_f("a", "contains", ["x"] * 999)]}},
         "at most 100 values"),
        (SEG, {"e": {"event_type": "Play", "filters": [_f(f"k{n}") for n in range(150)]}},
         "at most 25 filters"),
        (SEG, {"e": {"event_type": "Play"},
               "s": [{"prop": "p", "op": "is", "values": ["x"]}] * 11}, "at most 10 segments"),
        (SEG, {"e": {"event_type": "Play"}, "limit": "9" * 30}, "limit"),
        (SEG, {"e": {"event_type": "Play"}, "start": "99990101", "end": "99990102"}, "start"),
        (SEG, {"e": {"event_type": "Play"}, "start": "２０２６０１０５"}, "start"),
        (SEG, {"e": "not json"}, "e"),
        (SEG, {"e": {"event_type": "Play", "filters": [_f("a", "greater", ["many"])]}},
         "e.filters[0]"),
        ("/api/2/useractivity", {"user": str(2**63)}, "user"),
        ("/api/2/useractivity", {"user": "²"}, "user"),
        ("/api/2/useractivity", {"user": "1" * 5000}, "user"),
        ("/api/2/useractivity", {"user": "1", "offset": str(2**63)}, "offset"),
        ("/api/2/usersearch", {"user": ""}, "user"),
        ("/api/2/export", {"start": "２０２６０１０５T00", "end": "20260105T01"}, "start"),
        ("/api/2/export", {"start": "20260105T00", "end": "99991231T23"}, "end"),
    ],
)  # fmt: skip
def test_hostile_requests_are_400s_naming_the_parameter(
    played: Api, path: str, fields: dict[str, Any], named: str
) -> None:
    status, error = played.error(path, **{**DAYS, **fields} if path == SEG else fields)
    assert status == 400, error
    assert named in error


@pytest.mark.parametrize("user", [str(2**63), "99999999999999999", "²", "1" * 5000, "\x00"])
def test_user_search_of_odd_text_is_an_answer(played: Api, user: str) -> None:
    response = played.get("/api/2/usersearch", user=user)
    assert response.status == 200, response.data


# PostgreSQL's statement_timeout has its own test (test_query_postgres.py).
@sqlite_only("shared_store")
def test_a_query_past_its_time_limit_is_cancelled_with_a_503(
    played: Api, shared_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No time at all, checked at every step: the first statement is interrupted.
    monkeypatch.setattr(shared_store, "query_time_limit_s", 0.0)
    monkeypatch.setattr(shared_store, "query_progress_steps", 1)
    status, error = played.error(SEG, e={"event_type": "Play"}, **DAYS)
    assert status == 503
    assert "time limit" in error
    # The connection is usable again once the limit allows the query.
    monkeypatch.setattr(shared_store, "query_time_limit_s", 30.0)
    assert played.data(SEG, e={"event_type": "Play"}, **DAYS)["series"] == [[3]]
