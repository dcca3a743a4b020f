"""Building Segment messages from keyword arguments, validated the way Segment's API would.

Builders return the message as it goes on the wire (camelCase keys) as a new dict: the
caller's dicts are never changed, and ``context.library`` is added to a copy. Everything a
later step would otherwise fail on is caught here, in the caller's thread, with the field's
Python name in the error.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Final

from trackwire._version import __version__
from trackwire.errors import ValidationError
from trackwire.segment import wire

__all__ = [
    "LIBRARY",
    "coerce_id",
    "format_timestamp",
    "new_message_id",
    "now_iso",
    "object_field",
    "timestamp_field",
]

#: What trackwire says about itself in ``context.library``.
LIBRARY: Final[Mapping[str, str]] = {"name": "trackwire", "version": __version__}

_getrandbits = random.getrandbits


def new_message_id() -> str:
    """A random version-4 UUID string (120 random bits; RFC 4122 variant ``a``).

    ``uuid.uuid4()`` reads the OS random source on every call, which costs more than the rest
    of a ``track()`` call together; a message id needs uniqueness, not secrecy, so the
    ``random`` module's generator (reseeded by Python in every forked child) does.
    """
    h = "%032x" % _getrandbits(128)  # noqa: UP031 - measured faster than a format spec
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


# (millisecond, text) of the last timestamp made: most calls in a busy process share one.
_last_timestamp: tuple[int, str] = (-1, "")


def now_iso() -> str:
    """The current UTC time as ISO-8601 with milliseconds and ``Z``."""
    global _last_timestamp
    millis = int(time.time() * 1000)
    cached_millis, text = _last_timestamp
    if millis == cached_millis:
        return text
    second, ms = divmod(millis, 1000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{ms:03d}Z"
    _last_timestamp = (millis, text)
    return text


def format_timestamp(value: datetime) -> str:
    """A datetime as ISO-8601 UTC with milliseconds and ``Z``; naive means UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    else:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def timestamp_field(value: object) -> str:
    """Validate a caller's ``timestamp``: a datetime, or an ISO-8601 str passed through as is."""
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, str):
        if wire.parse_timestamp(value) is None:
            raise ValidationError(
                "timestamp", f"{value!r} is not an ISO-8601 time; pass a datetime or ISO string"
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
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
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
        return dict(value)
    raise ValidationError(name, f"must be a dict, got {type(value).__name__}")


def message_id_field(value: object) -> str:
    """Validate a caller's ``message_id`` (non-empty, at most 100 characters)."""
    if _is_uuid(value):
        return str(value)
    if not isinstance(value, str) or not value:
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
    if value is None or value == "":
        if required:
            raise ValidationError(name, "is required and must be a non-empty str")
        return None
    if isinstance(value, str):
        return value
    if name in ("group_id", "previous_id"):
        return coerce_id(name, value)
    raise ValidationError(name, f"must be a str, got {type(value).__name__}")
