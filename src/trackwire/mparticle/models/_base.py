"""What every mParticle model shares: conversion to the documented JSON.

A model is a plain mutable class (a dataclass), so both styles of the official SDKs work:
keyword construction, and creating an object then assigning its attributes. Nothing is
checked on assignment; :meth:`Model.to_dict` converts and checks when the batch is built, and
every error names the field by its JSON path (``events[2].data.custom_event_type``).

Conversions: unset (None) fields are left out; enum members become their value; a
``datetime`` in any ``*_ms`` time field becomes epoch milliseconds (a naive datetime is read
as UTC, the clock mParticle keeps), a ``timedelta`` in a duration field becomes milliseconds;
``Decimal`` amounts become JSON numbers (the official package sends them as strings).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, Final

from trackwire.errors import ValidationError

__all__ = ["Model", "join", "plain", "to_millis"]

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
# Below this an epoch "milliseconds" value is before March 1973: almost surely seconds (the
# official Python docs build consent timestamps with calendar.timegm, which gives seconds).
_MIN_PLAUSIBLE_MS: Final = 100_000_000_000


def join(path: str, name: str | int) -> str:
    """``path`` extended by a key (``a.b``) or an index (``a[3]``)."""
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


def to_millis(value: object, path: str) -> int:
    """An epoch-milliseconds time from an int or a ``datetime``; errors name ``path``."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        delta = value - _EPOCH
        return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            path, f"must be epoch milliseconds (int) or a datetime, got {type(value).__name__}"
        )
    if 0 <= value < _MIN_PLAUSIBLE_MS:
        raise ValidationError(
            path,
            f"{value} looks like seconds, not milliseconds; pass epoch milliseconds or a datetime",
        )
    return value


def _duration_millis(value: object, path: str) -> int:
    if isinstance(value, dt.timedelta):
        return int(value.total_seconds() * 1000)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(path, f"must be milliseconds (int) or a timedelta, got {value!r}")
    return value


def plain(value: object, path: str) -> Any:
    """``value`` as JSON-ready Python data: models, enums, Decimals and containers converted."""
    if value is None or isinstance(value, str | bool | int | float):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Model):
        return value.to_dict(path)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): plain(item, join(path, str(key))) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item, join(path, index)) for index, item in enumerate(value)]
    raise ValidationError(path, f"cannot be sent as JSON: {type(value).__name__}")


class Model:
    """Base of every model: :meth:`to_dict` gives the documented JSON object.

    Subclasses are dataclasses; their field names are the JSON keys unless
    ``_json_names`` renames one, and fields named in ``_not_sent`` are accepted (the official
    package has them) but never sent.
    """

    # No instance dict: assigning a misspelt attribute (``event.custom_atributes = ...``)
    # raises AttributeError instead of being silently left out of the batch.
    __slots__ = ()

    _json_names: ClassVar[Mapping[str, str]] = {}
    _not_sent: ClassVar[frozenset[str]] = frozenset()

    def __repr__(self) -> str:
        # Only the fields that are set: a batch's default repr would be mostly "=None".
        shown = ", ".join(
            f"{spec.name}={getattr(self, spec.name)!r}"
            for spec in dataclasses.fields(self)  # type: ignore[arg-type]
            if getattr(self, spec.name) not in (None, [])
        )
        return f"{type(self).__name__}({shown})"

    def to_dict(self, path: str = "") -> dict[str, Any]:
        """The JSON object for this model, unset fields left out.

        Args:
            path: where this object sits in the batch, used to name fields in errors.

        Raises:
            ValidationError: a value has the wrong type or cannot be sent as JSON.
        """
        convert = _CONVERTERS.get(type(self))  # made once per class, then only looked up
        if convert is None:
            convert = _converter(type(self))
        return convert(self, path)


_PLAIN, _INSTANT, _DURATION = 0, 1, 2
_SCALARS: Final = frozenset({str, int, float, bool})
_FLAT_VALUES: Final = _SCALARS | {type(None)}
_PLANS: dict[type[Model], tuple[tuple[str, str, int], ...]] = {}


def _flat(mapping: dict[Any, Any]) -> bool:
    """True when every key is a str and every value a plain scalar or None."""
    for key, item in mapping.items():
        if type(key) is not str or type(item) not in _FLAT_VALUES:
            return False
    return True


def _plan(cls: type[Model]) -> tuple[tuple[str, str, int], ...]:
    """Per class, once: the sent fields as (attribute, JSON key, conversion kind)."""
    plan = _PLANS.get(cls)
    if plan is None:
        steps = []
        for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
            name = spec.name
            if name in cls._not_sent:
                continue
            # Times and durations are recognised by name: every such field of the Events API
            # ends in "_ms", and only durations say "duration"; the rest are instants.
            kind = _PLAIN
            if name.endswith("_ms"):
                kind = _DURATION if "duration" in name else _INSTANT
            steps.append((name, cls._json_names.get(name, name), kind))
        plan = _PLANS[cls] = tuple(steps)
    return plan


def _plain_field(value: object, path: str, key: str) -> Any:
    # Most common first: attribute maps, nested models, enum members.
    if type(value) is dict and _flat(value):
        return dict(value)
    if isinstance(value, Model):
        return value.to_dict(f"{path}.{key}" if path else key)
    if isinstance(value, Enum):
        return value.value
    return plain(value, join(path, key))


def _instant_field(value: object, path: str, key: str) -> int:
    return to_millis(value, join(path, key))


def _duration_field(value: object, path: str, key: str) -> int:
    return _duration_millis(value, join(path, key))


_Converter = Callable[[Any, str], dict[str, Any]]
_CONVERTERS: dict[type[Model], _Converter] = {}
# One line per field: the value when it is the common JSON-ready kind, else the general
# conversion (which names the field in its errors).
_LINES: Final = {
    _PLAIN: "out[{key!r}] = v if type(v) in SCALARS else plain_field(v, path, {key!r})",
    _INSTANT: (
        "out[{key!r}] = v if type(v) is int and v >= MIN_MS else instant_field(v, path, {key!r})"
    ),
    _DURATION: "out[{key!r}] = v if type(v) is int else duration_field(v, path, {key!r})",
}


def _converter(cls: type[Model]) -> _Converter:
    """Per class, once: a ``to_dict(self, path)`` function with one branch per field.

    Generated (as :mod:`dataclasses` generates ``__init__``) because every upload converts a
    batch, its identities and each event, and a straight run of attribute reads costs a
    fraction of a generic loop over the fields.
    """
    convert = _CONVERTERS.get(cls)
    if convert is None:
        lines = ["def to_dict(self, path):", "    out = {}"]
        for name, key, kind in _plan(cls):
            lines += [f"    v = self.{name}", "    if v is not None:"]
            lines.append("        " + _LINES[kind].format(key=key))
        lines.append("    return out")
        namespace: dict[str, Any] = {
            "SCALARS": _SCALARS,
            "MIN_MS": _MIN_PLAUSIBLE_MS,
            "plain_field": _plain_field,
            "instant_field": _instant_field,
            "duration_field": _duration_field,
        }
        # The source holds only the dataclass's own field names (identifiers) and JSON keys.
        exec("\n".join(lines), namespace)
        convert = _CONVERTERS[cls] = namespace["to_dict"]
    return convert
