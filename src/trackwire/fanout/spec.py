"""One Segment-spec call as a message: validated once, before any vendor sees it.

:class:`~trackwire.fanout.FanOut` builds the Segment message of a call here (camelCase keys, as
on Segment's wire) and every mapping reads it. Building it first means a caller mistake (no
user, no event name, a bad timestamp) fails at the call site with one clear error, before
anything is queued for any vendor.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Final

from trackwire._engine.ids import new_message_id
from trackwire.errors import ValidationError

__all__ = ["CALL_TYPES", "build_message", "timestamp_ms"]

#: The Segment spec calls a FanOut takes, in the spec's order.
CALL_TYPES: Final = ("identify", "track", "page", "screen", "group", "alias")


def _id(name: str, value: object, *, required: bool) -> str | None:
    """An id as text: a non-empty str or an int (Segment's libraries accept both)."""
    if value is None:
        if required:
            raise ValidationError(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(name, f"must be a str or an int, got {type(value).__name__}")
    text = str(value)
    if not text:
        raise ValidationError(name, "must not be empty")
    return text


def _object(name: str, value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if type(value) is dict:  # the common case, without an ABC check
        return dict(value)
    if not isinstance(value, Mapping):
        raise ValidationError(name, f"must be a dict, got {type(value).__name__}")
    return dict(value)


def _text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(name, f"must be a str, got {type(value).__name__}")
    return value


# (millisecond, text) of the last "now" made: calls in the same millisecond share it.
_last_now: tuple[int, str] = (-1, "")
# (text, milliseconds) of the last timestamp read: every vendor of one call reads the same one.
_last_read: tuple[str, int] = ("", 0)


def _now() -> str:
    global _last_now
    millis = time.time_ns() // 1_000_000
    cached, text = _last_now
    if millis != cached:
        second, ms = divmod(millis, 1000)
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{ms:03d}Z"
        _last_now = (millis, text)
    return text


def _timestamp(value: object) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``; naive datetimes are UTC; now when None."""
    if value is None:
        return _now()
    if isinstance(value, str):
        timestamp_ms(value)  # refused here, at the call site, when no vendor could read it
        return value
    if not isinstance(value, datetime):
        raise ValidationError(
            "timestamp", f"must be a datetime or an ISO-8601 str, got {type(value).__name__}"
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    utc = value.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{utc.microsecond // 1000:03d}Z"


def timestamp_ms(text: str) -> int:
    """Milliseconds since the epoch of an ISO-8601 timestamp (``Z`` or an offset; none = UTC).

    Raises:
        ValidationError: the text is not an ISO-8601 date and time.
    """
    global _last_read
    cached, millis = _last_read
    if text == cached:
        return millis
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValidationError(
            "timestamp", f"is not an ISO-8601 date and time: {text[:40]!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    millis = int(parsed.timestamp() * 1000)
    _last_read = (text, millis)
    return millis


def build_message(
    kind: str,
    fields: Mapping[str, object],
    *,
    user_id: object,
    anonymous_id: object,
    context: object,
    integrations: object,
    timestamp: object,
    message_id: object,
) -> dict[str, Any]:
    """The Segment message of one call, checked.

    Args:
        kind: the call (``"track"``, ``"identify"``, ...).
        fields: the call's own arguments by Python name (``event``, ``properties``, ``traits``,
            ``name``, ``category``, ``group_id``, ``previous_id``).
        user_id, anonymous_id, context, integrations, timestamp, message_id: the fields every
            Segment call shares.

    Returns:
        The message as Segment's wire spells it: ``type``, ``userId``/``anonymousId``,
        ``messageId``, ``timestamp``, ``context``, ``integrations`` and the call's fields.

    Raises:
        ValidationError: naming the argument and what it must be.
    """
    message: dict[str, Any] = {"type": kind}
    if kind == "alias":
        message["previousId"] = _id("previous_id", fields.get("previous_id"), required=True)
        message["userId"] = _id("user_id", user_id, required=True)
    else:
        user = _id("user_id", user_id, required=False)
        anonymous = _id("anonymous_id", anonymous_id, required=False)
        if user is None and anonymous is None:
            raise ValidationError("user_id", "a call needs a user_id or an anonymous_id")
        if user is not None:
            message["userId"] = user
        if anonymous is not None:
            message["anonymousId"] = anonymous
    if kind == "track":
        event = fields.get("event")
        if not isinstance(event, str) or not event:
            raise ValidationError("event", "is required: the name of what the user did")
        message["event"] = event
        message["properties"] = _object("properties", fields.get("properties"))
    elif kind in ("page", "screen"):
        for name in ("name", "category"):
            text = _text(name, fields.get(name))
            if text is not None:
                message[name] = text
        message["properties"] = _object("properties", fields.get("properties"))
    elif kind == "identify":
        message["traits"] = _object("traits", fields.get("traits"))
    elif kind == "group":
        message["groupId"] = _id("group_id", fields.get("group_id"), required=True)
        message["traits"] = _object("traits", fields.get("traits"))
    given_id = _text("message_id", message_id)
    message["messageId"] = given_id or new_message_id()
    message["timestamp"] = _timestamp(timestamp)
    message["context"] = _object("context", context)
    message["integrations"] = _object("integrations", integrations)
    return message
