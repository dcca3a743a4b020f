"""encode() on hostile input: every value is encoded or refused with a ValidationError, and no
value costs the caller more than a bounded amount of memory (the issue's cases, then a
hypothesis search over nested mixes of them)."""

from __future__ import annotations

import tracemalloc
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from tests import hostile
from trackwire._engine.encoding import encode
from trackwire.errors import TrackwireError, ValidationError


def peak_bytes(fn: Any) -> tuple[Any, int]:
    """(what fn returned or raised, the peak memory it allocated)."""
    tracemalloc.start()
    try:
        try:
            result: Any = fn()
        except BaseException as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("value", "field", "fragment"),
    [
        ({"p": Decimal("1e999999999")}, "p", "larger than 1e309"),
        ({"p": Decimal("-1e400")}, "p", "larger than 1e309"),
        ({"p": 10**5000}, "p", "64 bits"),
        ({"p": hostile.RaisingEq()}, "p", "RaisingEq are not supported"),
        ({"p": hostile.RaisingRepr()}, "p", "RaisingRepr are not supported"),
        ({"t": datetime(2020, 1, 1, tzinfo=hostile.RaisingTZ())}, "t", "tzinfo failed"),
        ({"t": time(1, tzinfo=timezone.utc)}, "t", "ISO 8601"),
        ({"d": hostile.unset_slot()}, "d", "dataclass could not be read"),
        ({"b": b"bytes"}, "b", "bytes are not supported"),
        ({hostile.RaisingRepr(): 1}, "<RaisingRepr>", "keys must be str"),
        ({10**5000: 1}, "<int of 16610 bits>", "keys must be str"),
        ({hostile.HostileStr("k"): 1}, "", "keys must be str"),
        ({"k" * 1000: {1: 2}}, "k" * 39 + "….1", "keys must be str"),
    ],
)
def test_hostile_values_are_refused_naming_the_field(value: Any, field: str, fragment: str) -> None:
    error, peak = peak_bytes(lambda: encode(value))

    assert isinstance(error, ValidationError), error
    if field:
        assert error.field == field
    assert fragment in str(error)
    assert peak < 1_000_000


@pytest.mark.parametrize(
    "value",
    [
        hostile.self_referencing_dict(),
        hostile.self_referencing_list(),
        hostile.deeply_nested(100_000),
    ],
    ids=["self-dict", "self-list", "deep"],
)
def test_self_reference_and_depth_are_refused(value: Any) -> None:
    error, peak = peak_bytes(lambda: encode(value))

    assert isinstance(error, ValidationError)
    assert "nested too deeply or refers to itself" in str(error)
    assert peak < 20_000_000


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1e308"), "1" + "0" * 308),
        (Decimal("1e-999999999"), "1E-999999999"),
        (Decimal("12.50"), "12.50"),
        (Decimal("1E+2"), "100"),
        (datetime(2020, 1, 2, 3, 4, 5, 6000), '"2020-01-02T03:04:05.006000Z"'),
        (datetime(2020, 1, 2, tzinfo=timezone(timedelta(hours=-5))), '"2020-01-02T00:00:00-05:00"'),
        (datetime(2020, 1, 2, tzinfo=timezone.utc), '"2020-01-02T00:00:00Z"'),
        (time(1, 2, 3), '"01:02:03"'),
        (hostile.HostileStr("plain"), '"plain"'),
    ],
    ids=lambda v: type(v).__name__,  # pytest's own ids would call the hostile str's __len__
)
def test_edge_values_that_are_sent(value: Any, text: str) -> None:
    assert encode(value).decode() == text


def test_a_huge_decimal_costs_no_memory() -> None:
    """Decimal('1e999999999') used to be formatted out (1.9 GB) before the size check."""
    error, peak = peak_bytes(lambda: encode({"price": Decimal("1e999999999")}))

    assert isinstance(error, ValidationError) and error.field == "price"
    assert peak < 100_000


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(hostile.values)
def test_every_value_is_encoded_or_refused_with_a_trackwire_error(value: Any) -> None:
    result, peak = peak_bytes(lambda: encode(value))

    if isinstance(result, bytes):
        orjson.loads(result)  # what is sent is JSON
    else:
        assert isinstance(result, TrackwireError), repr(result)
    assert peak < 50_000_000
