"""One event, from what a caller passed to the wire dict Amplitude accepts.

:func:`prepare` takes a :class:`~.models.BaseEvent` or a dict (snake_case, the wire's own
spellings, or the fourteen camelCase keys of the community client), fills the client's default
ids, drops ids shorter than ``min_id_length`` with a warning, and checks every documented
constraint, raising :class:`~trackwire.errors.ValidationError` naming the field. It runs in the
caller's thread for every event, so it is one pass over the event's own keys.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final

from trackwire._engine.ids import new_message_id
from trackwire.amplitude.builders import check_property_operations
from trackwire.amplitude.models import BaseEvent, GroupIdentifyEvent
from trackwire.amplitude.properties import GROUP_PROPERTY_OPERATIONS
from trackwire.amplitude.wire import (
    BLOCKED_IDS,
    EVENT_FIELDS,
    MAX_NESTING_DEPTH,
    MAX_STRING_LENGTH,
    _groups_ok,
)
from trackwire.errors import ValidationError

__all__ = ["CAMEL_CASE", "check_group", "event_from_dict", "prepare", "rename_keys"]

logger = logging.getLogger("trackwire")

#: The camelCase keys the community ``amplitude`` client converts (its README's full list).
CAMEL_CASE: Final[Mapping[str, str]] = {
    "userId": "user_id", "deviceId": "device_id", "sessionId": "session_id",
    "eventType": "event_type", "eventProperties": "event_properties",
    "userProperties": "user_properties", "appVersion": "app_version", "osName": "os_name",
    "osVersion": "os_version", "deviceBrand": "device_brand",
    "deviceManufacturer": "device_manufacturer", "deviceModel": "device_model",
    "locationLat": "location_lat", "locationLng": "location_lng",
}  # fmt: skip
# Python attribute spellings a dict may use for wire fields spelt otherwise.
_PYTHON_NAMES: Final[Mapping[str, str]] = {
    "product_id": "productId",
    "revenue_type": "revenueType",
    "skip_user_properties_sync": "$skip_user_properties_sync",
}
_RENAMES: Final[Mapping[str, str]] = {**CAMEL_CASE, **_PYTHON_NAMES}
# Any accepted spelling -> the Python attribute name of the event classes.
_TO_PYTHON: Final[Mapping[str, str]] = {
    **CAMEL_CASE,
    **{wire_name: name for name, wire_name in _PYTHON_NAMES.items()},
}
_PROPERTY_OBJECTS: Final = frozenset(
    ("event_properties", "user_properties", "group_properties", "groups")
)
_OTHER, _STRING, _OBJECT = 0, 1, 2


def _spec() -> dict[str, tuple[str, type, int]]:
    """Every accepted key -> (wire name, JSON type, what else to check)."""
    spec: dict[str, tuple[str, type, int]] = {}
    for name, expected in EVENT_FIELDS.items():
        kind = _OBJECT if name in _PROPERTY_OBJECTS else _STRING if expected is str else _OTHER
        spec[name] = (name, expected, kind)
    for alias, name in _RENAMES.items():
        spec[alias] = spec[name]
    return spec


_SPEC: Final = _spec()
_TYPE_NAMES: Final[Mapping[type, str]] = {
    str: "a str", int: "an int", float: "a number", bool: "a bool", dict: "a dict",
}  # fmt: skip


def rename_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with Python attribute names (camelCase and wire spellings converted), no Nones."""
    return {_TO_PYTHON.get(key, key): value for key, value in data.items() if value is not None}


def _unknown(name: str) -> ValidationError:
    import difflib  # only a mistake needs it; slow to import

    close = difflib.get_close_matches(name, [*EVENT_FIELDS, *_RENAMES], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValidationError(name, f"is not an Amplitude HTTP V2 event field{hint}")


def _type_ok(value: object, expected: type) -> bool:
    if value.__class__ is expected:
        return True
    if isinstance(value, bool):
        return expected is bool
    if expected is float:
        return isinstance(value, int | float)
    if expected is dict:
        return isinstance(value, Mapping)
    return isinstance(value, expected)


def _check_id(event: dict[str, Any], name: str, min_id_length: int) -> None:
    value = event[name]
    if not isinstance(value, str):
        raise ValidationError(name, f"must be a str, got {type(value).__name__}")
    if len(value) < min_id_length:
        # The official SDKs' rule: a short id is removed, the event may still go by its other id.
        logger.warning("amplitude: %s shorter than min_id_length=%d removed", name, min_id_length)
        del event[name]
    elif value.lower() in BLOCKED_IDS:
        raise ValidationError(name, "is a value Amplitude refuses as an id (e.g. 'null', '0')")


def prepare(
    source: BaseEvent | Mapping[str, Any],
    *,
    min_id_length: int,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The wire dict of one event, checked.

    Args:
        source: a :class:`BaseEvent` or a dict.
        min_id_length: ids shorter than this are removed (with a warning).
        defaults: the client's default ``user_id``/``device_id``/``session_id``; a value in the
            event wins.

    Raises:
        ValidationError: naming the field: no ``event_type``, neither id left, an unknown key,
            a wrong type, a blocked id value, a string over 1,024 characters, properties nested
            deeper than 40 levels, or identify operations mixed with plain properties.
    """
    items: Iterable[tuple[str, Any]]
    if type(source) is dict:  # the common call, tested first: no ABC isinstance
        items = source.items()
        event: dict[str, Any] = {}  # the caller's dict stays as it was
        group_identify = False
    elif isinstance(source, BaseEvent):
        # to_dict() gives a new dict of the set fields under their wire names: it is checked
        # in place (each key written back to itself), no second dict.
        event = source.to_dict()
        items = event.items()
        group_identify = isinstance(source, GroupIdentifyEvent)
    elif isinstance(source, Mapping):
        items = source.items()
        event = {}
        group_identify = False
    else:
        raise ValidationError(
            "event", f"must be a BaseEvent or a dict, got {type(source).__name__}"
        )
    spec = _SPEC
    # One pass over the event's own keys: this runs in the caller's thread for every event.
    for key, value in items:
        if value is None:
            continue
        entry = spec.get(key)
        if entry is None:
            raise _unknown(key)
        name, expected, kind = entry
        if value.__class__ is not expected and not _type_ok(value, expected):
            raise ValidationError(
                name, f"must be {_TYPE_NAMES[expected]}, got {type(value).__name__}"
            )
        if kind == _STRING:
            if len(value) > MAX_STRING_LENGTH:
                raise ValidationError(name, f"is longer than {MAX_STRING_LENGTH} characters")
        elif kind == _OBJECT:
            value = _check_object(name, value)
        event[name] = value
    if defaults:
        for key, value in defaults.items():
            if key not in event:
                event[key] = value
    group_identify = group_identify or event.get("event_type") == "$groupidentify"
    if not event.get("event_type"):
        raise ValidationError("event_type", "is required (the event's name)")
    if "user_id" in event:
        _check_id(event, "user_id", min_id_length)
    if "device_id" in event:
        _check_id(event, "device_id", min_id_length)
    if "user_id" not in event and "device_id" not in event:
        if group_identify:
            # A group identify concerns no user; Amplitude still wants an id, so the SDKs send
            # a throw-away device id.
            event["device_id"] = new_message_id()
            return event
        raise ValidationError(
            "user_id",
            f"an event needs a user_id or a device_id of at least {min_id_length} characters",
        )
    return event


def _too_deep(container: Any, budget: int) -> bool:
    """Whether ``container`` (a dict or list) holds more than ``budget`` further levels."""
    for item in container.values() if type(container) is dict else container:
        kind = type(item)
        if kind is dict or kind is list:
            if budget == 0:
                return True
            # Two levels per call: properties nest one level deep far more often than two,
            # and a call per nested object cost more than reading its few items.
            for inner in item.values() if kind is dict else item:
                kind = type(inner)
                if (kind is dict or kind is list) and (budget == 1 or _too_deep(inner, budget - 2)):
                    return True
    return False


def _check_object(name: str, value: Mapping[str, Any]) -> dict[str, Any]:
    if type(value) is not dict:
        value = dict(value)
    if name == "groups":
        if not _groups_ok(value):
            raise ValidationError(name, "must map group types to a str or a list of str")
        return value
    if _too_deep(value, MAX_NESTING_DEPTH - 1):
        raise ValidationError(name, f"nests deeper than {MAX_NESTING_DEPTH} levels")
    if name == "user_properties":
        check_property_operations(value, name)
    elif name == "group_properties":
        check_property_operations(value, name, GROUP_PROPERTY_OPERATIONS)
    return value


def check_group(group_type: object, group_name: object) -> None:
    """Refuse a group type that is not a non-empty str, or names that are not (a list of) them."""
    if not isinstance(group_type, str) or not group_type:
        raise ValidationError("group_type", "must be a non-empty str")
    names = group_name if isinstance(group_name, list) else [group_name]
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ValidationError("group_name", "must be a non-empty str or a list of them")


def event_from_dict(data: Mapping[str, Any]) -> BaseEvent:
    """A :class:`BaseEvent` from a dict (camelCase keys too); an unknown field is refused."""
    fields = rename_keys(data)
    try:
        return BaseEvent(**fields)
    except TypeError:
        unknown = [name for name in fields if name not in BaseEvent.__dataclass_fields__]
        raise ValidationError(
            unknown[0] if unknown else "event", "is not an Amplitude HTTP V2 event field"
        ) from None
