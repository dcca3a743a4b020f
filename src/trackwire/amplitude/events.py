"""One event, from what a caller passed to the wire dict Amplitude accepts.

:func:`prepare` takes a :class:`~.models.BaseEvent` or a dict (snake_case, the wire's own
spellings, or the fourteen camelCase keys of the community client), fills the client's default
ids, removes ids shorter than ``min_id_length`` with a warning (the official SDKs' rule: the
event may still go by its other id), and then applies Amplitude's one rule set,
:func:`trackwire.amplitude.wire.check_event` — the same the collector applies — raising
:class:`~trackwire.errors.ValidationError` naming the field for anything Amplitude would
refuse. Top-level strings over 1,024 characters are truncated with a log line, as
amplitude-analytics does. It runs in the caller's thread once per event, after the last step
that may change the event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from trackwire._engine.ids import new_message_id
from trackwire.amplitude.models import BaseEvent, GroupIdentifyEvent
from trackwire.amplitude.wire import (
    EVENT_FIELDS,
    MAX_STRING_LENGTH,
    Problem,
    check_event,
    truncate_long_strings,
)
from trackwire.errors import ValidationError

__all__ = [
    "CAMEL_CASE",
    "check",
    "check_group",
    "event_from_dict",
    "prepare",
    "rename_keys",
    "to_wire",
]

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
# Any other accepted spelling -> the wire name.
_RENAMES: Final[Mapping[str, str]] = {**CAMEL_CASE, **_PYTHON_NAMES}
_RENAMED_KEYS: Final = frozenset(_RENAMES)
# Any accepted spelling -> the Python attribute name of the event classes.
_TO_PYTHON: Final[Mapping[str, str]] = {
    **CAMEL_CASE,
    **{wire_name: name for name, wire_name in _PYTHON_NAMES.items()},
}


def rename_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with Python attribute names (camelCase and wire spellings converted), no Nones."""
    return {_TO_PYTHON.get(key, key): value for key, value in data.items() if value is not None}


def to_wire(source: BaseEvent | Mapping[str, Any]) -> dict[str, Any]:
    """A new dict of the event's set fields (None means unset) under their wire names; the
    caller's object is untouched.

    Raises:
        ValidationError: ``source`` is neither a :class:`BaseEvent` nor a mapping.
    """
    if type(source) is dict:  # the common call, tested first: no ABC isinstance
        if None in source.values() or not _RENAMED_KEYS.isdisjoint(source):
            return _renamed(source)
        return source.copy()
    if isinstance(source, BaseEvent):
        return source.to_dict()
    if isinstance(source, Mapping):
        return _renamed(source)
    raise ValidationError("event", f"must be a BaseEvent or a dict, got {type(source).__name__}")


def _renamed(source: Mapping[str, Any]) -> dict[str, Any]:
    return {_RENAMES.get(key, key): value for key, value in source.items() if value is not None}


def _error(problem: Problem) -> ValidationError:
    if problem.kind == "unknown":
        import difflib  # only a mistake needs it; slow to import

        close = difflib.get_close_matches(problem.field, [*EVENT_FIELDS, *_RENAMES], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return ValidationError(problem.field, f"{problem.detail}{hint}")
    return ValidationError(problem.field, problem.detail)


def prepare(
    source: BaseEvent | Mapping[str, Any],
    *,
    min_id_length: int,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The wire dict of one event, checked by :func:`~.wire.check_event`.

    Args:
        source: a :class:`BaseEvent` or a dict; never changed.
        min_id_length: ids shorter than this are removed (with a warning).
        defaults: the client's default ``user_id``/``device_id``/``session_id``; a value in the
            event wins.

    Raises:
        ValidationError: naming the field: no ``event_type``, neither id left, an unknown key
            (with a did-you-mean), a wrong type, a blocked id value, properties nested deeper
            than 40 levels, or identify operations mixed with plain properties.
    """
    event = to_wire(source)
    if defaults:
        for key, value in defaults.items():
            if event.get(key) is None:
                event[key] = value
    group_identify = isinstance(source, GroupIdentifyEvent)
    return check(event, min_id_length=min_id_length, group_identify=group_identify)


def check(
    event: dict[str, Any], *, min_id_length: int, group_identify: bool = False
) -> dict[str, Any]:
    """Check a wire dict the client made (:func:`prepare` without the copy), in place.

    Short ids are removed, a group identify without ids gets a throw-away device id, long
    strings are truncated; ``event`` is returned.

    Raises:
        ValidationError: as :func:`prepare`.
    """
    problems = check_event(event, min_id_length=min_id_length)
    if not problems:  # the common case: one pass over the event's keys, nothing else
        return event
    if _fix_ids(event, min_id_length, group_identify):
        problems = check_event(event, min_id_length=min_id_length)
    refused = [problem for problem in problems if problem.kind != "long"]
    if refused:
        raise _error(refused[0])
    for name in truncate_long_strings(event, problems):
        logger.warning("amplitude: %s longer than %d characters truncated", name, MAX_STRING_LENGTH)
    return event


def _fix_ids(event: dict[str, Any], min_id_length: int, group_identify: bool) -> bool:
    """Apply the SDK's own id rules to an event with a problem; True if it changed.

    The official SDKs' rule: an id shorter than ``min_id_length`` (blocked or not) is removed
    with a warning, and the event may still go by its other id. A group identify concerns no
    user, but Amplitude still wants an id, so the SDKs send a throw-away device id.
    """
    changed = False
    for name in ("user_id", "device_id"):
        value = event.get(name)
        if value is not None and value.__class__ is str and len(value) < min_id_length:
            logger.warning(
                "amplitude: %s shorter than min_id_length=%d removed", name, min_id_length
            )
            del event[name]
            changed = True
    if (
        not event.get("user_id")
        and not event.get("device_id")
        and (group_identify or event.get("event_type") == "$groupidentify")
    ):
        event["device_id"] = new_message_id()
        changed = True
    return changed


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
