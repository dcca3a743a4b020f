"""Amplitude's Identify and Group Identify form APIs, checked as Amplitude would.

``/identify`` and ``/groupidentify`` take a form (``api_key``, ``identification``) instead of a
JSON event body, answer plain text, and refuse a whole request for one bad item, so their rules
live apart from the HTTP V2 / Batch rules in :mod:`.wire`. They reuse the same id and property
rules, so an identification and an event carrying the same properties get the same verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from trackwire.amplitude.properties import (
    GROUP_PROPERTY_OPERATIONS,
    USER_PROPERTY_OPERATIONS,
    _operations_problem,
)
from trackwire.amplitude.wire import (
    _DEVICE_STRINGS,
    DEFAULT_MIN_ID_LENGTH,
    MAX_GROUP_IDENTIFICATIONS,
    MAX_NESTING_DEPTH,
    _depth,
    _groups_ok,
    _id_problem,
    _present,
)

__all__ = [
    "FORM_CONTENT_TYPE",
    "IDENTIFY_SUCCESS_BODY",
    "IdentifyCheck",
    "check_group_identify_form",
    "check_identify_form",
    "form_error_body",
]

#: The body ``/identify`` and ``/groupidentify`` answer a success with (plain text).
IDENTIFY_SUCCESS_BODY: Final = b"success"
#: The only content type the form APIs take.
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"


def form_error_body(message: str, *, too_large: bool = False) -> bytes:
    """The plain-text body of a 400 (or, ``too_large``, 413) from ``/identify`` or
    ``/groupidentify``."""
    return f"Payload too large: {message}".encode() if too_large else message.encode()


_IDENTIFY_STRINGS: Final = (*_DEVICE_STRINGS, "paying", "start_version")


@dataclass(frozen=True, slots=True)
class IdentifyCheck:
    """What ``/identify`` or ``/groupidentify`` would say about one form.

    Attributes:
        error: why the whole request is refused (answered with 400 and this text), or None.
        identifications: the decoded identification objects, in order; empty on error.
    """

    error: str | None = None
    identifications: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the request would be answered ``success``."""
        return self.error is None


def _identifications(fields: Mapping[str, str]) -> list[dict[str, Any]] | str:
    if not _present(fields.get("api_key")):
        return "missing api_key"
    raw = fields.get("identification")
    if not raw:
        # Amplitude's documented text for a missing or malformed identification.
        return "missing_event: identification is required"
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "missing_event: identification is not valid JSON"
    items = decoded if isinstance(decoded, list) else [decoded]
    if not items or not all(isinstance(item, dict) for item in items):
        return "missing_event: identification must be an object or a non-empty array of objects"
    return items


def _identify_problem(item: Mapping[str, Any]) -> str | None:
    ids = [name for name in ("user_id", "device_id") if _present(item.get(name))]
    if not ids:
        return "needs user_id or device_id"
    for name in ids:
        kind = _id_problem(item[name], DEFAULT_MIN_ID_LENGTH)
        if kind == "invalid":
            return f"{name} is not a valid id"
        if kind == "length":
            return f"{name} is shorter than {DEFAULT_MIN_ID_LENGTH} characters"
    for name in _IDENTIFY_STRINGS:
        if item.get(name) is not None and not isinstance(item[name], str):
            return f"{name} must be a string"
    groups = item.get("groups")
    if groups is not None and not (isinstance(groups, dict) and _groups_ok(groups)):
        return "groups must map group types to a string or an array of strings"
    props = item.get("user_properties")
    if props is None:
        return None
    if not isinstance(props, dict):
        return "user_properties must be an object"
    if _depth(props, MAX_NESTING_DEPTH) > MAX_NESTING_DEPTH:
        return f"user_properties nest deeper than {MAX_NESTING_DEPTH} levels"
    problem = _operations_problem(props, USER_PROPERTY_OPERATIONS)
    return None if problem is None else f"user_properties {problem}"


def _group_identify_problem(item: Mapping[str, Any]) -> str | None:
    for name in ("group_type", "group_value"):
        if not _present(item.get(name)) or not isinstance(item[name], str):
            return f"{name} must be a non-empty string"
    props = item.get("group_properties")
    if props is None:
        return None
    if not isinstance(props, dict):
        return "group_properties must be an object"
    problem = _operations_problem(props, GROUP_PROPERTY_OPERATIONS)
    return None if problem is None else f"group_properties {problem}"


def check_identify_form(fields: Mapping[str, str]) -> IdentifyCheck:
    """Check a ``POST /identify`` form (``api_key``, ``identification``) as Amplitude would.

    ``identification`` is one JSON object or an array of them; each needs ``user_id`` or
    ``device_id`` (same id rules as events, default minimum length) and may carry
    ``user_properties`` (plain or operations, not both), ``groups`` and device fields. One bad
    identification refuses the whole request, as the form API has no per-item result.
    """
    items = _identifications(fields)
    if isinstance(items, str):
        return IdentifyCheck(error=items)
    for index, item in enumerate(items):
        problem = _identify_problem(item)
        if problem is not None:
            return IdentifyCheck(error=f"identification[{index}]: {problem}")
    return IdentifyCheck(identifications=items)


def check_group_identify_form(fields: Mapping[str, str]) -> IdentifyCheck:
    """Check a ``POST /groupidentify`` form as Amplitude would.

    Each identification needs string ``group_type`` and ``group_value`` and may carry
    ``group_properties`` using only :data:`~.properties.GROUP_PROPERTY_OPERATIONS` (or plain
    keys). At most :data:`~.wire.MAX_GROUP_IDENTIFICATIONS` identifications per request.
    """
    items = _identifications(fields)
    if isinstance(items, str):
        return IdentifyCheck(error=items)
    if len(items) > MAX_GROUP_IDENTIFICATIONS:
        return IdentifyCheck(
            error=f"at most {MAX_GROUP_IDENTIFICATIONS} group identifications per request"
        )
    for index, item in enumerate(items):
        problem = _group_identify_problem(item)
        if problem is not None:
            return IdentifyCheck(error=f"identification[{index}]: {problem}")
    return IdentifyCheck(identifications=items)
