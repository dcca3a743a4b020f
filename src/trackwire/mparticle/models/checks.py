"""Client-side checks of a built batch: mParticle's rules plus its service limits.

mParticle's own rules (required fields, enums, JSON types) are :func:`trackwire.mparticle.wire.
check_batch`, the same function the collector refuses with. On top, the client enforces the
documented service limits, which mParticle applies silently by truncating or dropping data, so
that a caller learns at the call site instead of in a dashboard weeks later; and it requires
each batch to name its user, since every batch is about exactly one user.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from trackwire.errors import ValidationError
from trackwire.mparticle import wire
from trackwire.mparticle.models._base import join
from trackwire.mparticle.schema import (
    _DATA_ENUMS,
    _DATA_TYPES,
    _REQUIRED_DATA,
    _UUID_DEVICE_FIELDS,
    ENVIRONMENTS,
    IDENTITY_ALIASES,
    IDENTITY_KEYS,
    MAX_ATTRIBUTE_NAME_LENGTH,
    MAX_ATTRIBUTE_VALUE_LENGTH,
    MAX_EVENT_ATTRIBUTES,
    MAX_EVENT_NAME_LENGTH,
    MAX_USER_ATTRIBUTE_LIST_ITEM_LENGTH,
    MAX_USER_ATTRIBUTE_LIST_ITEMS,
    MAX_USER_ATTRIBUTES,
)

__all__ = ["check_built", "limit_problems"]

# Ids that tie a batch to a user besides user_identities: mParticle resolves the user from any.
_USER_KEYS: Final = ("mpid", "mp_deviceid")
_NAMED_FIELDS: Final = ("event_name", "screen_name")


def _attribute_problems(
    attrs: Mapping[str, Any], path: str, max_count: int
) -> Iterator[tuple[str, str]]:
    if len(attrs) > max_count:
        yield path, f"has {len(attrs)} attributes; at most {max_count}"
    for key, value in attrs.items():
        where = join(path, key)
        if len(key) > MAX_ATTRIBUTE_NAME_LENGTH:
            yield where, f"name is {len(key)} characters; at most {MAX_ATTRIBUTE_NAME_LENGTH}"
        if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_VALUE_LENGTH:
            yield where, f"value is {len(value)} characters; at most {MAX_ATTRIBUTE_VALUE_LENGTH}"
        elif isinstance(value, list):
            if len(value) > MAX_USER_ATTRIBUTE_LIST_ITEMS:
                yield where, f"has {len(value)} items; at most {MAX_USER_ATTRIBUTE_LIST_ITEMS}"
            limit = MAX_USER_ATTRIBUTE_LIST_ITEM_LENGTH
            for index, item in enumerate(value):
                if isinstance(item, str) and len(item) > limit:
                    yield join(where, index), f"is {len(item)} characters; at most {limit}"


def _names_a_user(batch: Mapping[str, Any]) -> bool:
    identities = batch.get("user_identities")
    if isinstance(identities, Mapping) and any(identities.values()):
        return True
    if any(batch.get(key) not in (None, "") for key in _USER_KEYS):
        return True
    device = batch.get("device_info")
    return isinstance(device, Mapping) and any(device.get(key) for key in _UUID_DEVICE_FIELDS)


def limit_problems(batch: Mapping[str, Any], path: str = "") -> list[tuple[str, str]]:
    """Service-limit problems of a built batch, as ``(field path, message)`` pairs."""
    problems: list[tuple[str, str]] = []
    if not _names_a_user(batch):
        problems.append(
            (
                join(path, "user_identities"),
                "a batch is about one user: set user_identities (e.g. customer_id), mpid, "
                "mp_deviceid or a device advertising id",
            )
        )
    attrs = batch.get("user_attributes")
    if isinstance(attrs, Mapping):
        problems.extend(
            _attribute_problems(attrs, join(path, "user_attributes"), MAX_USER_ATTRIBUTES)
        )
    events = batch.get("events")
    for index, event in enumerate(events if isinstance(events, list) else []):
        data = event.get("data") if isinstance(event, Mapping) else None
        if not isinstance(data, Mapping):
            continue
        where = join(join(join(path, "events"), index), "data")
        for name in _NAMED_FIELDS:
            text = data.get(name)
            if isinstance(text, str) and len(text) > MAX_EVENT_NAME_LENGTH:
                problems.append(
                    (
                        join(where, name),
                        f"is {len(text)} characters; at most {MAX_EVENT_NAME_LENGTH}",
                    )
                )
        custom = data.get("custom_attributes")
        if isinstance(custom, Mapping):
            problems.extend(
                _attribute_problems(custom, join(where, "custom_attributes"), MAX_EVENT_ATTRIBUTES)
            )
    return problems


def check_built(batch: Mapping[str, Any], path: str = "") -> None:
    """Raise for the first problem of a built batch: mParticle's rules, then the limits.

    Raises:
        ValidationError: naming the field, with how many other problems there are.
    """
    if plainly_valid(batch):
        return
    found = [(join(path, p.path) if p.path else path, p.message) for p in wire.check_batch(batch)]
    found.extend(limit_problems(batch, path))
    if found:
        field, message = found[0]
        if len(found) > 1:
            message = f"{message} (and {len(found) - 1} more problems)"
        raise ValidationError(field, message)


# --- the fast path ----------------------------------------------------------------------------
#
# Most batches a backend uploads are a user's identities and attributes with custom events,
# screen views and session events. For those, :func:`plainly_valid` proves in one flat pass
# that the full checks above would find nothing. It accepts only what it can prove (a strict
# subset: exact JSON types, known keys, no nested objects but flat attribute maps); for
# anything else it answers False and the full checks run, with their exact messages. Tests
# hold the two to agreeing on every case the fast path accepts.

_SCALARS: Final = frozenset({str, int, float, bool})
_FLAT_VALUES: Final = _SCALARS | {type(None)}
_FAST_BATCH_KEYS: Final = frozenset(
    {"environment", "user_identities", "user_attributes", "deleted_user_attributes",
     "source_request_id", "mpid", "events"}
)  # fmt: skip
_IDENTITIES: Final = frozenset((*IDENTITY_KEYS, *IDENTITY_ALIASES))
_COMMON_DATA: Final = (
    "timestamp_unixtime_ms", "source_message_id", "session_id", "session_uuid",
    "session_start_unixtime_ms", "custom_attributes",
)  # fmt: skip
_FAST_EVENTS: Final[Mapping[str, frozenset[str]]] = {
    "custom_event": frozenset((*_COMMON_DATA, "event_name", "custom_event_type", "custom_flags")),
    "screen_view": frozenset((*_COMMON_DATA, "screen_name", "custom_flags")),
    "session_start": frozenset(_COMMON_DATA),
    "session_end": frozenset((*_COMMON_DATA, "session_duration_ms")),
}
_JSON_TYPES: Final[Mapping[str, type]] = {"int": int, "str": str, "bool": bool}
_FAST_TYPES: Final[Mapping[str, type]] = {
    name: _JSON_TYPES[kind] for name, kind in _DATA_TYPES.items() if kind in _JSON_TYPES
}
_FAST_ENUMS: Final[Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]]] = {
    event_type: tuple((name, allowed) for (kind, name), allowed in _DATA_ENUMS.items()
                      if kind == event_type)
    for event_type in _FAST_EVENTS
}  # fmt: skip


# What the fast path checks of each allowed ``data`` key: an exact JSON type, a flat attribute
# map, an event name, or nothing (any value passes the full checks).
_ANY: Final = "any"
_ATTRIBUTES: Final = "attributes"
_NAME: Final = "name"


def _rule(key: str) -> object:
    if key == "custom_attributes" or key == "custom_flags":
        return _ATTRIBUTES
    if key in _NAMED_FIELDS:
        return _NAME
    return _FAST_TYPES.get(key, _ANY)


_FAST_RULES: Final[Mapping[str, Mapping[str, object]]] = {
    event_type: {key: _rule(key) for key in allowed} for event_type, allowed in _FAST_EVENTS.items()
}


def _flat_attributes(value: object, max_count: int) -> bool:
    if value is None:
        return True
    if type(value) is not dict or len(value) > max_count:
        return False
    for key, item in value.items():
        if type(key) is not str or len(key) > MAX_ATTRIBUTE_NAME_LENGTH:
            return False
        kind = type(item)
        if kind is str:
            if len(item) > MAX_ATTRIBUTE_VALUE_LENGTH:
                return False
        elif kind not in _FLAT_VALUES:  # None included: one test fewer per value
            return False
    return True


def _plain_event(event: object) -> bool:
    if type(event) is not dict:
        return False
    rules = _FAST_RULES.get(event.get("event_type"))  # type: ignore[arg-type]
    data = event.get("data")
    if rules is None or type(data) is not dict:
        return False
    for key, value in data.items():
        rule = rules.get(key)
        if rule is None:
            return False
        if value is None or rule is _ANY:
            continue
        if rule is _ATTRIBUTES:
            if not _flat_attributes(value, MAX_EVENT_ATTRIBUTES):
                return False
        elif rule is _NAME:
            if type(value) is not str or len(value) > MAX_EVENT_NAME_LENGTH:
                return False
        elif type(value) is not rule:
            return False
    event_type = event["event_type"]
    for name in _REQUIRED_DATA.get(event_type, ()):
        if data.get(name) in (None, ""):
            return False
    for name, allowed_values in _FAST_ENUMS[event_type]:
        value = data.get(name)
        if value is not None and value not in allowed_values:
            return False
    return True


def _plain_user_attributes(value: object) -> bool:
    if value is None:
        return True
    if type(value) is not dict or len(value) > MAX_USER_ATTRIBUTES:
        return False
    for key, item in value.items():
        if type(key) is not str or len(key) > MAX_ATTRIBUTE_NAME_LENGTH:
            return False
        kind = type(item)
        if kind is str:
            if len(item) > MAX_ATTRIBUTE_VALUE_LENGTH:
                return False
        elif kind is list:
            if len(item) > MAX_USER_ATTRIBUTE_LIST_ITEMS:
                return False
            for entry in item:
                if type(entry) is not str or len(entry) > MAX_USER_ATTRIBUTE_LIST_ITEM_LENGTH:
                    return False
        elif item is not None and kind not in _SCALARS:
            return False
    return True


def plainly_valid(batch: Mapping[str, Any]) -> bool:
    """True only when the full checks would surely find nothing (see the note above)."""
    if type(batch) is not dict or batch.get("environment") not in ENVIRONMENTS:
        return False
    for key in batch:
        if key not in _FAST_BATCH_KEYS:
            return False
    named = False
    identities = batch.get("user_identities")
    if identities is not None:
        if type(identities) is not dict:
            return False
        for key, value in identities.items():
            if key not in _IDENTITIES or (value is not None and type(value) is not str):
                return False
            named = named or bool(value)
    mpid = batch.get("mpid")
    if mpid is not None and type(mpid) is not int:
        return False
    request_id = batch.get("source_request_id")
    if request_id is not None and type(request_id) is not str:
        return False
    if not (named or mpid is not None):
        return False
    deleted = batch.get("deleted_user_attributes")
    if deleted is not None and (
        type(deleted) is not list or any(type(name) is not str for name in deleted)
    ):
        return False
    if not _plain_user_attributes(batch.get("user_attributes")):
        return False
    events = batch.get("events")
    if events is None:
        return True
    return type(events) is list and all(map(_plain_event, events))
