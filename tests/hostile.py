"""Hostile values for input-hardening tests: objects whose own methods raise, and strategies."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st


class Boom(Exception):
    """Raised by the hostile objects below; never a trackwire error."""


class RaisingEq:
    def __eq__(self, other: object) -> bool:
        raise Boom("__eq__")

    def __hash__(self) -> int:
        return 7


class RaisingRepr:
    def __repr__(self) -> str:
        raise Boom("__repr__")

    def __str__(self) -> str:
        raise Boom("__str__")

    def __hash__(self) -> int:
        return 8


class RaisingIterMapping(Mapping[str, Any]):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, key: str) -> Any:
        raise Boom("__getitem__")

    def __iter__(self) -> Iterator[str]:
        raise Boom("__iter__")


class EndlessMapping(Mapping[str, Any]):
    """Says it has one entry and yields forever: reading it all would never return."""

    def __len__(self) -> int:
        return 1

    def __getitem__(self, key: str) -> Any:
        return 1

    def __iter__(self) -> Iterator[str]:
        n = 0
        while True:
            n += 1
            yield str(n)


class HostileStr(str):
    def __eq__(self, other: object) -> bool:
        raise Boom("str __eq__")

    def __hash__(self) -> int:
        return str.__hash__(self)

    def __len__(self) -> int:
        raise Boom("str __len__")

    def __bool__(self) -> bool:
        raise Boom("str __bool__")


class RaisingTZ(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise Boom("utcoffset")

    def tzname(self, dt: datetime | None) -> str:
        raise Boom("tzname")

    def dst(self, dt: datetime | None) -> timedelta:
        raise Boom("dst")


@dataclasses.dataclass(slots=True)
class Slotted:
    x: int


def unset_slot() -> Slotted:
    """A slots dataclass whose field was deleted (crashed orjson 3.x before encode() guarded)."""
    value = Slotted(1)
    object.__delattr__(value, "x")
    return value


def self_referencing_dict() -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    value["self"] = value
    return value


def self_referencing_list() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


def deeply_nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


EXTREME_OFFSET = timezone(timedelta(hours=23, minutes=59))


def huge_int() -> int:
    return 10**5000


# Strategies build hostile objects with st.builds: hypothesis prints a strategy with repr() of
# any constant in it, which these objects (and a 5,000-digit int) refuse.
hostile_objects: st.SearchStrategy[Any] = st.one_of(
    st.builds(RaisingEq),
    st.builds(RaisingRepr),
    st.builds(RaisingIterMapping),
    st.builds(EndlessMapping),
    st.builds(HostileStr, st.text(max_size=5)),
    st.builds(unset_slot),
)


leaves: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.builds(huge_int),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=8),
    st.decimals(),
    st.sampled_from([Decimal("1e999999999"), Decimal("-1e400"), Decimal("1e-999999999")]),
    st.datetimes(timezones=st.none() | st.just(timezone.utc) | st.just(EXTREME_OFFSET)),
    st.sampled_from(
        [
            datetime.max.replace(tzinfo=timezone(-timedelta(hours=23, minutes=59))),
            datetime.min.replace(tzinfo=EXTREME_OFFSET),
        ]
    ),
    st.builds(datetime, st.just(2020), st.just(1), st.just(1), tzinfo=st.builds(RaisingTZ)),
    st.builds(time, st.just(1), tzinfo=st.builds(RaisingTZ)),
    st.dates(),
    st.times(),
    st.uuids(),
    hostile_objects,
)

# Keys whose __eq__ raises cannot go through st.dictionaries (it compares keys); those are
# put in one-key dicts by `hostile_key_dict` instead.
keys: st.SearchStrategy[Any] = st.one_of(
    st.text(max_size=10),
    st.integers(),
    st.builds(huge_int),
    st.builds(RaisingRepr),
    st.just("k" * 100_000),
)


def hostile_key_dict(key_kind: int, value: Any) -> dict[Any, Any]:
    key: Any = HostileStr("k") if key_kind == 0 else RaisingEq()
    return {key: value}


values: st.SearchStrategy[Any] = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=4),
        st.builds(hostile_key_dict, st.integers(0, 1), children),
        st.builds(self_referencing_dict),
        st.builds(self_referencing_list),
        st.integers(min_value=250, max_value=3000).map(deeply_nested),
    ),
    max_leaves=12,
)

ids: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.text(max_size=10),
    st.integers(),
    st.builds(huge_int),
    st.uuids(),
    leaves,
)
