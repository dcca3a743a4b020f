"""Amplitude's user and group property operations, shared by events and identify forms.

``user_properties`` and ``group_properties`` are either plain objects or objects of identify
operations (``$set``, ``$add``, ...). The rule for telling a well-formed operations object from
a malformed one lives here because three places apply it: :func:`~.wire.check_upload` for
events, the identify form checks in :mod:`.identify`, and the collector, which turns accepted
objects into the operations it applies to its stored profiles.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "GROUP_PROPERTY_OPERATIONS",
    "OPERATION_ORDER",
    "SET_RULE",
    "USER_PROPERTY_OPERATIONS",
    "add_amount",
    "parse_group_properties",
    "parse_user_properties",
]

#: The identify operations a ``user_properties`` object may use as keys.
USER_PROPERTY_OPERATIONS: Final = (
    "$set", "$setOnce", "$add", "$append", "$prepend", "$unset", "$preInsert", "$postInsert",
    "$remove", "$clearAll",
)  # fmt: skip
#: The subset Amplitude honours in ``group_properties``.
GROUP_PROPERTY_OPERATIONS: Final = ("$set", "$setOnce", "$add", "$append", "$prepend", "$unset")
#: The order trackwire applies operations in. Amplitude documents no order, and the Python SDK
#: sorts JSON keys, so wire order carries no meaning: ``$clearAll`` first (the SDKs refuse other
#: operations beside it), then removals, then writes, with ``$set`` after ``$setOnce`` so that a
#: property named in both ends with the ``$set`` value.
OPERATION_ORDER: Final = (
    "$clearAll", "$unset", "$setOnce", "$set", "$add", "$append", "$prepend", "$preInsert",
    "$postInsert", "$remove",
)  # fmt: skip


#: How to fix operations mixed with plain properties (Amplitude refuses such an object).
SET_RULE: Final = (
    "once any operation ($set, $add, ...) is used, every key must be an operation: "
    "move plain properties inside $set, e.g. {'$set': {'plan': 'pro'}, '$add': {'logins': 1}}"
)


def _operations_problem(properties: Mapping[str, Any], allowed: Sequence[str]) -> str | None:
    """Why an operations object is malformed, or None. Plain objects (no operation) are fine."""
    ops = [key for key in properties if key in USER_PROPERTY_OPERATIONS]
    if not ops:
        return None
    if len(ops) != len(properties):
        return "mixes operations with plain properties; move plain properties inside $set"
    for op in ops:
        if op not in allowed:
            return f"{op} is not allowed here"
        if op != "$clearAll" and not isinstance(properties[op], dict):
            return f"{op} must map property names to values"
    add = properties.get("$add")
    if isinstance(add, dict) and not all(add_amount(v) is not None for v in add.values()):
        return "$add values must be numbers (or numbers written as strings)"
    return None


#: Longest numeric string ``$add`` reads; a longer one is not a plausible increment.
_MAX_NUMBER_TEXT: Final = 40
_NUMBER: Final = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def add_amount(value: Any) -> int | float | None:
    """The increment a ``$add`` value stands for, or None when it is not one.

    A JSON number (``true`` is not one), or a number written as a string (``"5"``, ``"-2.5"``),
    which Amplitude's browser SDK documents as accepted. Infinite or NaN values are refused.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and len(value) <= _MAX_NUMBER_TEXT:
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            return None
        if text.lstrip("+-").isdigit():
            return int(text)
        number = float(text)
        return number if math.isfinite(number) else None
    return None


def _parse_operations(
    properties: Mapping[str, Any], allowed: Sequence[str]
) -> list[tuple[str, Mapping[str, Any]]]:
    problem = _operations_problem(properties, allowed)
    if problem is not None:
        raise ValueError(f"properties object {problem}")
    if not properties:
        return []
    if not any(key in USER_PROPERTY_OPERATIONS for key in properties):
        return [("$set", dict(properties))]
    return [
        (op, {} if op == "$clearAll" else properties[op])
        for op in OPERATION_ORDER
        if op in properties
    ]


def parse_user_properties(
    user_properties: Mapping[str, Any],
) -> list[tuple[str, Mapping[str, Any]]]:
    """Turn an event's ``user_properties`` into the operations to apply, in order.

    An object without operation keys is a plain update: Amplitude treats it as one ``$set``.
    An object of operations gives one ``(op, {property: value})`` pair per operation in
    :data:`OPERATION_ORDER`; ``$clearAll`` comes with an empty mapping. Keys starting with
    ``$`` that are not operations are plain property names.

    Raises:
        ValueError: the object mixes operations with plain keys (Amplitude does not allow it;
            :func:`~.wire.check_upload` reports such events as invalid ``user_properties``),
            or an operation's value is not an object.
    """
    return _parse_operations(user_properties, USER_PROPERTY_OPERATIONS)


def parse_group_properties(
    group_properties: Mapping[str, Any],
) -> list[tuple[str, Mapping[str, Any]]]:
    """Like :func:`parse_user_properties` for ``group_properties`` (only the group operations).

    Raises:
        ValueError: mixed operations and plain keys, or an operation groups do not support.
    """
    return _parse_operations(group_properties, GROUP_PROPERTY_OPERATIONS)
