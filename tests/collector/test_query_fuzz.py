"""Fuzzed requests to every query endpoint: never a 5xx for anything a client sent.

Beside the ingestion fuzz (``test_fuzz.py``): the query string of export, user search, user
activity and segmentation gets any text, any JSON in the JSON-valued parameters, and objects
whose known fields get any value. Kept to a few seconds (``FUZZ_EXAMPLES`` runs more).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.collector.query_support import Api, event, ms, shared_collector, shared_store
from trackwire.collector.server import RunningCollector

__all__ = ["shared_collector", "shared_store"]

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=not os.environ.get("FUZZ_EXAMPLES"),
)

_text = st.text(max_size=12) | st.sampled_from(
    ["", "\u0000", "²", "１２", "9" * 30, str(2**63), "-1", "20260105", "20260105T00", "_all",
     "Play", "gp:plan", "is", "contains", "set is", "true", "1.0"]
)  # fmt: skip
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | _text
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)
_filter = st.fixed_dictionaries(
    {},
    optional={
        "subprop_type": st.sampled_from(["event", "user"]) | _json,
        "subprop_key": _text | _json,
        "subprop_op": st.sampled_from(["is", "is not", "contains", "does not contain", "less",
                                       "greater or equal", "set is", "set is not"]) | _json,
        "subprop_value": st.lists(_scalars, max_size=4) | _json,
    },
)  # fmt: skip
_event = st.fixed_dictionaries(
    {"event_type": st.sampled_from(["Play", "_all", "_active", "Nope"]) | _json},
    optional={
        "filters": st.lists(_filter, max_size=3) | _json,
        "group_by": st.lists(
            st.fixed_dictionaries({"type": st.sampled_from(["event", "user"]) | _json,
                                   "value": _text | _json}), max_size=2) | _json,
    },
)  # fmt: skip
_segment = st.fixed_dictionaries(
    {}, optional={"prop": _text | _json, "op": _text, "values": st.lists(_scalars, max_size=3)}
)


def _encoded(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


_segmentation = st.fixed_dictionaries(
    {"e": (_event | _json).map(_encoded)},
    optional={
        "e2": (_event | _json).map(_encoded),
        "s": (st.lists(_segment, max_size=3) | _json).map(_encoded),
        "start": st.sampled_from(["20260104", "20260105"]) | _text,
        "end": st.sampled_from(["20260105", "20260110"]) | _text,
        "m": st.sampled_from(["uniques", "totals", "average", "pct_dau", "sums", "value_avg",
                              "histogram", "formula"]) | _text,
        "i": st.sampled_from(["1", "7", "30", "-3600000", "-300000"]) | _text,
        "g": _text,
        "n": st.sampled_from(["any", "active", "new"]) | _text,
        "limit": _text,
        "rollingWindow": st.sampled_from(["1", "3"]) | _text,
        "rollingAverage": st.sampled_from(["2"]) | _text,
    },
)  # fmt: skip
_day = st.sampled_from(["20260105", "20260107"]) | _text
_chart_common = {
    "start": _day, "end": _day, "i": st.sampled_from(["1", "7", "30"]) | _text, "g": _text,
    "s": (st.lists(_segment, max_size=2) | _json).map(_encoded),
}  # fmt: skip
_others = st.one_of(
    st.tuples(
        st.just("/api/2/retention"),
        st.fixed_dictionaries(
            {},
            optional={
                **_chart_common,
                "se": (_event | _json).map(_encoded),
                "re": (_event | _json).map(_encoded),
                "rm": st.sampled_from(["n-day", "rolling", "bracket"]) | _text,
                "rb": (st.lists(st.lists(st.integers(-2, 40), max_size=3), max_size=3) | _json).map(
                    _encoded
                ),
            },
        ),
    ),
    st.tuples(
        st.sampled_from(["/api/2/users", "/api/2/revenue/ltv"]),
        st.fixed_dictionaries({}, optional={**_chart_common, "m": _text}),
    ),
    st.tuples(st.just("/api/2/usersearch"), st.fixed_dictionaries({"user": _text})),
    st.tuples(
        st.just("/api/2/useractivity"),
        st.fixed_dictionaries(
            {"user": _text},
            optional={"offset": _text, "limit": _text, "direction": _text},
        ),
    ),
    st.tuples(
        st.just("/api/2/export"),
        st.fixed_dictionaries(
            {},
            optional={
                "start": st.sampled_from(["20260105T00"]) | _text,
                "end": st.sampled_from(["20260105T23"]) | _text,
            },
        ),
    ),
)


@pytest.fixture(scope="module")
def played(shared_collector: RunningCollector) -> Api:
    api = Api(shared_collector, "fuzz-key")
    api.send(
        [
            event("Play", f"user-{n}", ms(5, n), n,
                  props={"a": n, "b": n % 2 == 0, "c": ["x", n]},
                  user_props={"$set": {"plan": "pro" if n % 2 else "free"}})
            for n in range(6)
        ]
    )  # fmt: skip
    return api


def _check(api: Api, path: str, fields: dict[str, str] | list[tuple[str, str]]) -> None:
    if isinstance(fields, list):
        response = api.pool.request(
            "GET", api.url + path, fields=fields, headers={"Authorization": api.auth}
        )
    else:
        response = api.get(path, **fields)
    assert response.status < 500 or response.status == 503, (path, fields, response.data[:300])
    if response.status == 503:
        # Only a cancelled (too slow) query answers 503, saying so.
        assert b"time limit" in response.data


@FUZZ
@given(fields=_segmentation)
def test_segmentation_never_fails(played: Api, fields: dict[str, str]) -> None:
    _check(played, "/api/2/events/segmentation", fields)


_funnel = st.tuples(
    st.lists((_event | _json).map(_encoded), max_size=4),
    st.fixed_dictionaries(
        {},
        optional={
            **_chart_common,
            "mode": st.sampled_from(["ordered", "unordered", "sequential"]) | _text,
            "n": st.sampled_from(["active", "new"]) | _text,
            "cs": st.sampled_from(["60", "86400"]) | _text,
            "limit": _text,
        },
    ),
)


@FUZZ
@given(request=_funnel)
def test_funnels_never_fail(played: Api, request: tuple[list[str], dict[str, str]]) -> None:
    steps, fields = request
    _check(played, "/api/2/funnels", [*(("e", e) for e in steps), *fields.items()])


@FUZZ
@given(request=_others)
def test_other_query_endpoints_never_fail(played: Api, request: tuple[str, dict[str, str]]) -> None:
    path, fields = request
    _check(played, path, fields)
