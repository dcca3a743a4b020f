"""One JSON encoder for every message: Python values in, compact UTF-8 bytes out.

Messages are encoded once, in the caller's thread, so their size is known before they are
queued and a value that cannot be sent fails at the call site with the key path that holds it.
orjson does the work; this module adds the types orjson leaves out (Decimal, set), refuses
NaN and Infinity (which orjson would quietly write as ``null``), and turns orjson's terse
errors into :class:`~trackwire.errors.ValidationError` naming the offending key.

Supported: str, int (64-bit), float (finite), bool, None, dict with str keys, list, tuple,
set/frozenset (as a list), datetime, date and time (ISO 8601; a naive datetime is UTC),
Decimal (exact digits), UUID, Enum (its value), dataclass instances.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Final

import orjson

from trackwire.errors import ValidationError

__all__ = ["SUPPORTED_TYPES", "encode"]

_OPTIONS: Final = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
SUPPORTED_TYPES: Final = (
    "str, int, float, bool, None, dict, list, tuple, set, datetime, date, Decimal, UUID, Enum "
    "or a dataclass"
)
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError("non-finite Decimal")
        # A fragment keeps every digit of the Decimal: no rounding through float.
        return orjson.Fragment(format(value, "f") if value == value.to_integral() else str(value))
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError


def encode(value: Any) -> bytes:
    """Encode ``value`` as compact JSON bytes.

    Raises:
        ValidationError: a value is not supported, a float is NaN or infinite, a dict key is
            not a str, or an int does not fit in 64 bits. ``field`` names the key path.
    """
    try:
        data = orjson.dumps(value, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        raise _explain(value, exc) from None
    # orjson writes NaN and Infinity as null; only then is it worth walking the value.
    if data.find(b"null") != -1:
        for path, bad in _walk(value, ""):
            if isinstance(bad, float) and not math.isfinite(bad):
                raise ValidationError(
                    path, f"{bad!r} cannot be sent as JSON; send a finite number or None"
                )
    # orjson's result keeps its whole output buffer (4 KiB or more) alive behind a short bytes
    # object; a queued message would cost 20x its size. Joining copies it to an exact fit.
    return b"".join((data, b""))


def _problem(value: Any) -> str | None:
    """Why a leaf value cannot be encoded, or None if it can."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r} cannot be sent as JSON; send a finite number or None"
    if isinstance(value, Decimal) and not value.is_finite():
        return f"Decimal {value} cannot be sent as JSON; send a finite number or None"
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if _INT_MIN <= value <= _INT_MAX:
            return None
        return "the integer does not fit in 64 bits; send it as a str"
    if isinstance(value, str | float | Decimal | datetime | date | time | enum.Enum):
        return None
    from uuid import UUID  # only on the error path: uuid is slow to import

    if isinstance(value, UUID):
        return None
    return (
        f"values of type {type(value).__name__} are not supported; convert it to one of: "
        f"{SUPPORTED_TYPES}"
    )


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Yield ``(path, leaf)`` for every leaf, depth first, in encoding order."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, _join(path, key))
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _walk(getattr(value, f.name), _join(path, f.name))
    elif isinstance(value, enum.Enum):
        yield from _walk(value.value, path)
    else:
        yield path, value


def _bad_key(value: Any, path: str) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return _join(path, repr(key))
            found = _bad_key(item, _join(path, key))
            if found is not None:
                return found
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            found = _bad_key(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _explain(value: Any, exc: orjson.JSONEncodeError) -> ValidationError:
    """Find the value orjson refused and say where it is and what to do."""
    try:
        key_path = _bad_key(value, "")
        if key_path is not None:
            return ValidationError(key_path, "dict keys must be str; convert the key with str()")
        for path, leaf in _walk(value, ""):
            problem = _problem(leaf)
            if problem is not None:
                return ValidationError(path, problem)
    except RecursionError:
        pass
    if "recursion" in str(exc).lower() or "circular" in str(exc).lower():
        return ValidationError("", "the value is nested too deeply or refers to itself")
    return ValidationError("", f"the value cannot be encoded as JSON: {exc}")
