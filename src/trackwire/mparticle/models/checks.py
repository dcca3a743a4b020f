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
    _UUID_DEVICE_FIELDS,
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
    found = [(join(path, p.path) if p.path else path, p.message) for p in wire.check_batch(batch)]
    found.extend(limit_problems(batch, path))
    if found:
        field, message = found[0]
        if len(found) > 1:
            message = f"{message} (and {len(found) - 1} more problems)"
        raise ValidationError(field, message)
