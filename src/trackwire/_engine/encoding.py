"""One JSON encoder for every message: Python values in, compact UTF-8 bytes out.

Messages are encoded once, in the caller's thread, so their size is known before they are
queued and a value that cannot be sent fails at the call site with the key path that holds it.
orjson does the work; this module adds the types orjson leaves out (Decimal, set), refuses
NaN and Infinity (which orjson would quietly write as ``null``), and turns orjson's terse
errors into :class:`~trackwire.errors.ValidationError` naming the offending key.

Supported: str, int (64-bit), float (finite), bool, None, dict with str keys, list, tuple,
set/frozenset (as a list), datetime, date and time (ISO 8601; a naive datetime is UTC),
Decimal (exact digits, magnitude below 1e309), UUID, Enum (its value), dataclass instances.

The cost of encoding is bounded by the size of the input: nothing expands (a Decimal such as
``1e999999999`` would be a billion digits written out, so it is refused before formatting),
and explaining a refusal never runs the caller's ``__repr__`` or ``__eq__`` unguarded.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

import orjson

from trackwire.errors import ValidationError

__all__ = [
    "ORJSON_DEFAULT",
    "ORJSON_OPTIONS",
    "SUPPORTED_TYPES",
    "encode",
    "encode_part",
    "has_non_finite",
]

# Datetimes and dataclasses are handed to _default rather than read by orjson: orjson 3.x
# crashes the interpreter (SIGSEGV) on a tzinfo whose utcoffset() raises and on a slots
# dataclass with an unset field, and a caller's object must never take the process down.
_OPTIONS: Final = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
SUPPORTED_TYPES: Final = (
    "str, int, float, bool, None, dict, list, tuple, set, datetime, date, Decimal, UUID, Enum "
    "or a dataclass"
)
_UTC: Final = timezone.utc
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1
#: Largest decimal exponent of a Decimal that is sent: beyond it no JSON reader has a number
#: type for it (a double overflows past 1.8e308), and writing it out would cost memory.
_DECIMAL_MAX_EXPONENT: Final = 308


def _decimal_text(value: Decimal) -> str:
    """The JSON number text of a finite Decimal, every digit kept (no rounding through float)."""
    value = Decimal(value)  # an exact Decimal: a subclass's own methods never run
    if value.adjusted() > _DECIMAL_MAX_EXPONENT:
        raise TypeError("Decimal too large")
    # A positive exponent is written out ("1E+2" -> "100"); at most 309 digits, by the check.
    return format(value, "f") if value.as_tuple().exponent >= 0 else str(value)  # type: ignore[operator]


def _offset_text(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


def _time_text(value: date | time) -> str:
    """ISO 8601 for a datetime (naive means UTC, written ``Z``), date or time.

    Raises:
        TypeError: the value's tzinfo failed or gave an offset of a day or more.
    """
    try:
        if isinstance(value, datetime):
            offset = value.utcoffset()  # runs the caller's tzinfo: guarded here
            plain = datetime(*value.timetuple()[:6], value.microsecond).isoformat()
            if offset is None or not offset:
                return plain + "Z"
            if not -timedelta(days=1) < offset < timedelta(days=1):
                raise ValueError("offset out of range")
            return plain + _offset_text(offset)
        if isinstance(value, time):
            if value.tzinfo is not None:
                raise ValueError("a time of day with a tzinfo has no fixed offset")
            return time(value.hour, value.minute, value.second, value.microsecond).isoformat()
        return date(value.year, value.month, value.day).isoformat()
    except Exception as exc:
        raise TypeError(f"bad {type(value).__name__}") from exc


def _dataclass_fields(value: Any) -> dict[str, Any]:
    try:
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    except Exception as exc:  # an unset slot, a raising property
        raise TypeError("unreadable dataclass") from exc


#: How orjson writes a naive or UTC datetime exactly as _time_text does ("...Z").
_UTC_Z: Final = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
_Fragment = orjson.Fragment
_dumps = orjson.dumps


def _default(value: Any) -> Any:
    if type(value) is datetime:
        # The common cases first: a naive or UTC datetime has no tzinfo code of the caller's
        # that could crash orjson, so orjson formats it (a third of what isoformat() costs).
        tz = value.tzinfo
        if tz is None or tz is _UTC:
            return _Fragment(_dumps(value, option=_UTC_Z))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError("non-finite Decimal")
        return orjson.Fragment(_decimal_text(value))
    if isinstance(value, date | time):
        return _time_text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass_fields(value)
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
        _refuse_non_finite(value)
    # orjson's result keeps its whole output buffer (4 KiB or more) alive behind a short bytes
    # object; a queued message would cost 20x its size. Joining copies it to an exact fit.
    return b"".join((data, b""))


def encode_part(value: Any) -> bytes | None:
    """``value`` as compact JSON, to be spliced into a larger message; None if refused.

    The same bytes :func:`encode` writes for ``value`` inside a message. Where :func:`encode`
    would raise, this returns None instead, so the caller encodes the whole message and the
    error names the key path from the message's root. The result may keep orjson's output
    buffer alive: join it into the message (which copies) rather than keep it.
    """
    try:
        data = _dumps(value, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return None
    if data.find(b"null") != -1 and has_non_finite(value):
        return None
    return data


def has_non_finite(value: Any) -> bool:
    """True when ``value`` holds a NaN or infinite float (which orjson writes as ``null``)."""
    try:
        _refuse_non_finite(value)
    except ValidationError:
        return True
    return False


#: For a caller that calls orjson itself on its hottest path (one Python frame less):
#: ``orjson.dumps(value, default=ORJSON_DEFAULT, option=ORJSON_OPTIONS)`` is :func:`encode_part`
#: without the NaN check (see :func:`has_non_finite`).
ORJSON_DEFAULT: Final = _default
ORJSON_OPTIONS: Final = _OPTIONS


def _refuse_non_finite(value: Any) -> None:
    """Raise naming the first NaN or infinite float in ``value``."""
    try:
        for path, bad in _walk(value, ""):
            if isinstance(bad, float) and not math.isfinite(bad):
                raise ValidationError(
                    path,
                    f"{float.__repr__(bad)} cannot be sent as JSON; send a finite number or None",
                )
    except ValidationError:
        raise
    except Exception:  # it encoded, so only the caller's odd objects can raise here
        return


def _problem(value: Any) -> str | None:
    """Why a leaf value cannot be encoded, or None if it can."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{float.__repr__(value)} cannot be sent as JSON; send a finite number or None"
    if isinstance(value, Decimal):
        if not value.is_finite():
            return f"Decimal {value} cannot be sent as JSON; send a finite number or None"
        if Decimal(value).adjusted() > _DECIMAL_MAX_EXPONENT:
            return (
                f"the Decimal is larger than 1e{_DECIMAL_MAX_EXPONENT + 1}, beyond any JSON "
                "reader's numbers; send it as a str"
            )
        return None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if _INT_MIN <= value <= _INT_MAX:
            return None
        return "the integer does not fit in 64 bits; send it as a str"
    if isinstance(value, date | time):
        try:
            _time_text(value)
        except TypeError:
            return (
                f"this {type(value).__name__} cannot be written as ISO 8601 (its tzinfo failed or "
                "its offset is out of range); pass a datetime with timezone.utc"
            )
        return None
    if isinstance(value, str | float | enum.Enum):
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return "this dataclass could not be read (a field is unset or raises); pass a dict"
    from uuid import UUID  # only on the error path: uuid is slow to import

    if isinstance(value, UUID):
        return None
    return (
        f"values of type {type(value).__name__} are not supported; convert it to one of: "
        f"{SUPPORTED_TYPES}"
    )


def _safe_repr(value: object, limit: int = 40) -> str:
    """``repr(value)`` for an error message: bounded, and never raising."""
    if isinstance(value, int) and value.bit_length() > 64:  # repr() of a huge int is slow
        return f"<int of {value.bit_length()} bits>"
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _join(path: str, key: object) -> str:
    key = key if type(key) is str else _safe_repr(key)
    if len(key) > 40:  # a 10 MB key makes a useless message
        key = key[:39] + "…"
    return f"{path}.{key}" if path else key


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Yield ``(path, leaf)`` for every leaf, depth first, in encoding order."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, _join(path, key))
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        try:
            fields = _dataclass_fields(value)
        except TypeError:
            yield path, value
            return
        for name, item in fields.items():
            yield from _walk(item, _join(path, name))
    elif isinstance(value, enum.Enum):
        yield from _walk(value.value, path)
    else:
        yield path, value


def _bad_key(value: Any, path: str) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str:  # orjson refuses str subclasses as keys too
                return _join(path, key)
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
    except Exception:  # the caller's object raised while we looked at it: say what we can
        pass
    if "recursion" in str(exc).lower() or "circular" in str(exc).lower():
        return ValidationError("", "the value is nested too deeply or refers to itself")
    return ValidationError("", f"the value cannot be encoded as JSON: {exc}")
