"""Building Segment messages from keyword arguments, validated the way Segment's API would.

Builders return the message as it goes on the wire (camelCase keys) as a new dict: the
caller's dicts are never changed, and ``context.library`` is added to a copy. Everything a
later step would otherwise fail on is caught here, in the caller's thread, with the field's
Python name in the error.

Arguments come from application code and sometimes from user input, so nothing here trusts
them: no comparison, ``repr()`` or iteration runs the caller's own methods unguarded (a str
subclass is copied to a plain str first), ints are bounded before they are turned into text,
and a mapping is read at most as far as its ``len()``. Any failure becomes a
:class:`~trackwire.errors.ValidationError` naming the field, at a cost bounded by the input.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Final

from trackwire._engine.ids import new_message_id
from trackwire._version import __version__
from trackwire.errors import ValidationError
from trackwire.segment import wire

__all__ = [
    "LIBRARY",
    "coerce_id",
    "format_timestamp",
    "new_message_id",
    "now_iso",
    "now_iso_bytes",
    "object_field",
    "timestamp_field",
]

#: What trackwire says about itself in ``context.library``.
LIBRARY: Final[Mapping[str, str]] = {"name": "trackwire", "version": __version__}

#: Largest magnitude of an int id: its decimal text is at most 20 digits. A larger int is
#: refused before ``str()`` runs, whose cost grows with the square of the digits.
MAX_INT_ID: Final = 2**64 - 1
#: Most entries a ``Mapping`` argument may have; Segment's 32 KB message limit holds far fewer.
MAX_MAPPING_ITEMS: Final = 100_000


def plain_str(value: str) -> str:
    """``value`` as an exact ``str``: a subclass's own methods never run on later checks."""
    return value if type(value) is str else str.__str__(value)


_time_ns = time.time_ns
# (millisecond, text) of the last timestamp made: most calls in a busy process share one.
_last_timestamp: tuple[int, bytes] = (-1, b"")


def now_iso_bytes() -> bytes:
    """The current UTC time as ISO-8601 with milliseconds and ``Z``, as ASCII bytes."""
    global _last_timestamp
    # Integer nanoseconds: int(time.time() * 1000) costs twice as much (the float's
    # multiplication and truncation), on the path every call takes.
    millis = _time_ns() // 1_000_000
    cached_millis, text = _last_timestamp
    if millis == cached_millis:
        return text
    second, ms = divmod(millis, 1000)
    text = (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{ms:03d}Z").encode()
    _last_timestamp = (millis, text)
    return text


def now_iso() -> str:
    """The current UTC time as ISO-8601 with milliseconds and ``Z``."""
    return now_iso_bytes().decode()


def format_timestamp(value: datetime) -> str:
    """A datetime as ISO-8601 UTC with milliseconds and ``Z``; naive means UTC.

    Raises:
        ValidationError: the time in UTC falls outside years 1-9999 (an extreme offset at the
            edge of the calendar), or its ``tzinfo`` fails.
    """
    try:
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        else:
            value = value.astimezone(timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    except (OverflowError, ValueError):
        raise ValidationError(
            "timestamp", "is outside years 1-9999 once converted to UTC; pass a real time"
        ) from None
    except Exception as exc:  # a tzinfo of the caller's that raises
        raise ValidationError(
            "timestamp", f"its tzinfo failed ({type(exc).__name__}); pass an aware UTC datetime"
        ) from None


#: Longest ISO-8601 text worth parsing ("2024-01-01T00:00:00.000000+00:00" is 32).
_MAX_TIMESTAMP_TEXT: Final = 64


def timestamp_field(value: object) -> str:
    """Validate a caller's ``timestamp``: a datetime, or an ISO-8601 str passed through as is."""
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, str):
        value = plain_str(value)
        if len(value) > _MAX_TIMESTAMP_TEXT or wire.parse_timestamp(value) is None:
            shown = value if len(value) <= _MAX_TIMESTAMP_TEXT else value[:20] + "…"
            raise ValidationError(
                "timestamp", f"{shown!r} is not an ISO-8601 time; pass a datetime or ISO string"
            )
        return value
    raise ValidationError(
        "timestamp", f"must be a datetime or an ISO-8601 str, got {type(value).__name__}"
    )


def _is_uuid(value: object) -> bool:
    # uuid is imported only when a value could be one: the module is slow to import.
    from uuid import UUID

    return isinstance(value, UUID)


def coerce_id(name: str, value: object) -> str | None:
    """An id as Segment wants it: a non-empty str (ints and UUIDs are converted), or None."""
    if value is None:
        return None
    if isinstance(value, str):
        return plain_str(value) or None
    if isinstance(value, int) and not isinstance(value, bool):
        number = int(value)  # an exact int: a subclass's __str__ or __abs__ never runs
        if -MAX_INT_ID <= number <= MAX_INT_ID:
            return str(number)
        raise ValidationError(name, "an int id must fit in 64 bits; pass a larger id as a str")
    if _is_uuid(value):
        return str(value)
    raise ValidationError(name, f"must be a str (or int/UUID), got {type(value).__name__}")


def object_field(name: str, value: object) -> dict[str, Any]:
    """Validate a dict argument (``properties``, ``traits``, ...); None becomes ``{}``."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, Mapping):
        return _read_mapping(name, value)
    raise ValidationError(name, f"must be a dict, got {type(value).__name__}")


def _read_mapping(name: str, value: Mapping[Any, Any]) -> dict[str, Any]:
    """Copy a non-dict Mapping into a dict, reading no more entries than it says it has."""
    kind = type(value).__name__
    try:
        size = len(value)
        if size > MAX_MAPPING_ITEMS:
            raise ValidationError(
                name, f"has {size} entries, more than {MAX_MAPPING_ITEMS}; send fewer"
            )
        items = list(itertools.islice(value.items(), size + 1))
    except ValidationError:
        raise
    except Exception as exc:  # the caller's Mapping raised from __len__, __iter__ or items()
        raise ValidationError(
            name, f"reading the {kind} failed ({type(exc).__name__}); pass a plain dict"
        ) from None
    if len(items) > size:
        raise ValidationError(name, f"the {kind} yields more entries than its len(); pass a dict")
    return dict(items)


def message_id_field(value: object) -> str:
    """Validate a caller's ``message_id`` (non-empty, at most 100 characters)."""
    if _is_uuid(value):
        return str(value)
    if not isinstance(value, str) or not (value := plain_str(value)):
        raise ValidationError("message_id", "must be a non-empty str")
    if len(value) > wire.MAX_MESSAGE_ID_LENGTH:
        raise ValidationError(
            "message_id", f"must be at most {wire.MAX_MESSAGE_ID_LENGTH} characters"
        )
    return value


def common(
    message: dict[str, Any],
    *,
    user_id: object,
    anonymous_id: object,
    context: object,
    integrations: object,
    timestamp: object,
    message_id: object,
    require_identity: bool = True,
) -> dict[str, Any]:
    """Fill the fields every call shares into ``message`` and return it."""
    # Each check tries the common case (a plain str, nothing given) before the general one:
    # this function runs on every call, in the caller's thread.
    uid = user_id if type(user_id) is str and user_id else coerce_id("user_id", user_id)
    aid = (
        anonymous_id
        if anonymous_id is None or (type(anonymous_id) is str and anonymous_id)
        else coerce_id("anonymous_id", anonymous_id)
    )
    if uid is not None:
        message["userId"] = uid
    elif aid is None and require_identity:
        raise ValidationError(
            "user_id", "user_id or anonymous_id is required (Segment's no_user_anon_id)"
        )
    if aid is not None:
        message["anonymousId"] = aid
    if context is None:
        message["context"] = {"library": LIBRARY}
    else:
        message["context"] = {**object_field("context", context), "library": LIBRARY}
    if integrations is not None:
        message["integrations"] = object_field("integrations", integrations)
    message["timestamp"] = now_iso() if timestamp is None else timestamp_field(timestamp)
    message["messageId"] = new_message_id() if message_id is None else message_id_field(message_id)
    return message


def text_field(name: str, value: object, required: bool = False) -> str | None:
    """Validate a str argument (``event``, ``name``, ``group_id``, ...)."""
    # Exact types before any comparison: ``value == ""`` would run the caller's own __eq__.
    if isinstance(value, str):
        value = plain_str(value)
    if value is None or (type(value) is str and not value):
        if required:
            raise ValidationError(name, "is required and must be a non-empty str")
        return None
    if isinstance(value, str):
        return value
    if name in ("group_id", "previous_id"):
        return coerce_id(name, value)
    raise ValidationError(name, f"must be a str, got {type(value).__name__}")
