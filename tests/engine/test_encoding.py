"""Encoding of every supported type, and the error (with key path) for each unsupported one."""

from __future__ import annotations

import dataclasses
import enum
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackwire._engine.encoding import encode
from trackwire.errors import ValidationError


class Color(enum.Enum):
    RED = "red"
    ONE = 1


@dataclasses.dataclass
class Point:
    x: int
    y: float


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("héllo ✓", '"héllo ✓"'),
        (42, "42"),
        (-(2**63), str(-(2**63))),
        (2**64 - 1, str(2**64 - 1)),
        (1.5, "1.5"),
        (True, "true"),
        (None, "null"),
        ({"a": [1, 2]}, '{"a":[1,2]}'),
        ((1, "x"), '[1,"x"]'),
        ({3}, "[3]"),
        (frozenset({"z"}), '["z"]'),
        (datetime(2026, 1, 2, 3, 4, 5, 678000), '"2026-01-02T03:04:05.678000Z"'),
        (datetime(2026, 1, 2, tzinfo=timezone.utc), '"2026-01-02T00:00:00Z"'),
        (
            datetime(2026, 1, 2, tzinfo=timezone(timedelta(hours=2))),
            '"2026-01-02T00:00:00+02:00"',
        ),
        (date(2026, 1, 2), '"2026-01-02"'),
        (time(12, 30), '"12:30:00"'),
        (Decimal("39.95"), "39.95"),
        (Decimal("100"), "100"),
        (Decimal("0.1000000000000000000001"), "0.1000000000000000000001"),
        (uuid.UUID(int=1), '"00000000-0000-0000-0000-000000000001"'),
        (Color.RED, '"red"'),
        (Color.ONE, "1"),
        (Point(1, 2.5), '{"x":1,"y":2.5}'),
    ],
)
def test_supported_values(value: Any, expected: str) -> None:
    assert encode(value).decode() == expected


def test_encoding_is_compact_raw_utf8() -> None:
    assert encode({"k": "ü"}) == '{"k":"ü"}'.encode()


def test_caller_values_are_not_mutated() -> None:
    props = {"tags": {"a"}, "when": datetime(2026, 1, 1)}
    before = repr(props)
    encode({"properties": props})
    assert repr(props) == before


@pytest.mark.parametrize(
    ("value", "field", "fragment"),
    [
        ({"properties": {"price": float("nan")}}, "properties.price", "finite"),
        ({"p": {"list": [1, float("inf")]}}, "p.list[1]", "finite"),
        ({"p": -float("inf")}, "p", "finite"),
        ({"p": Decimal("NaN")}, "p", "Decimal"),
        ({"p": Decimal("Infinity")}, "p", "Decimal"),
        ({"p": b"bytes"}, "p", "bytes"),
        ({"p": object()}, "p", "object"),
        ({"p": {"q": [{"r": complex(1, 2)}]}}, "p.q[0].r", "complex"),
        ({"p": 2**64}, "p", "64 bits"),
        ({"p": -(2**63) - 1}, "p", "64 bits"),
        ({"p": {1: "x"}}, "p.1", "keys must be str"),
        ({"p": Point(1, float("nan"))}, "p.y", "finite"),
        ({"p": {"s": {float("nan")}}}, "p.s[0]", "finite"),
    ],
)
def test_unsupported_values_name_the_key_path(value: Any, field: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        encode(value)
    assert info.value.field == field
    assert fragment in str(info.value)


def test_null_values_do_not_trip_the_nan_check() -> None:
    assert encode({"a": None, "b": [None]}) == b'{"a":null,"b":[null]}'


def test_self_referencing_value_is_a_clear_error() -> None:
    value: dict[str, Any] = {}
    value["self"] = value
    with pytest.raises(ValidationError):
        encode(value)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_round_trip_of_plain_json_values(value: Any) -> None:
    assert orjson.loads(encode(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        datetime(2025, 6, 1, 12, 0),
        datetime(2025, 6, 1, 12, 0, 0, 123456),
        datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc),
        datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc),
        datetime(9999, 12, 31, 23, 59, 59, 999999),
    ],
)
def test_the_fast_datetime_path_writes_what_the_guarded_one_does(value: datetime) -> None:
    from trackwire._engine.encoding import _time_text

    assert encode({"t": value}) == orjson.dumps({"t": _time_text(value)})
