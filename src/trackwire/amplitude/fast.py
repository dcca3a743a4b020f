"""The common Amplitude event encoded straight to bytes, the client's additions spliced on.

Most events in a busy process look alike: an ``event_type``, a ``user_id`` (or a
``device_id``), a dict of ``event_properties``, perhaps a ``session_id``, their own ``time``
or ``insert_id``, and nothing else. For those the client need
not copy the event, run the whole rule set (:func:`~trackwire.amplitude.wire.check_event`)
over it and encode the copy: the few rules such an event can break are checked here directly,
the caller's dict is encoded as it is, and what the client adds (``time`` and ``insert_id``
unless given, then ``library``, in that order, after the caller's keys) is spliced in before
the closing brace.
The bytes are exactly those :func:`~trackwire._engine.encoding.encode` writes for the event
the general path builds (same keys, same order).

Anything unusual — another field, a None, a short, blocked or over-long id, properties that
may nest too deep, a value the encoder refuses, a ``null`` that may be a NaN, an event over
the size limit — returns None, and the client takes the general path, which fixes what the
SDK fixes (short ids, long strings) and names the offending field in its error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

from trackwire._engine.encoding import ORJSON_DEFAULT, ORJSON_OPTIONS, has_non_finite
from trackwire._engine.ids import new_message_id
from trackwire.amplitude.wire import (
    BLOCKED_IDS,
    MAX_NESTING_DEPTH,
    MAX_STRING_LENGTH,
    properties_too_deep,
)

__all__ = ["FAST_FIELDS", "Encoded", "track_encoder"]

#: The only fields an event may have to take the fast path (no None values among them).
FAST_FIELDS: Final = frozenset(
    ("event_type", "user_id", "device_id", "event_properties", "session_id", "time", "insert_id")
)

#: An event's ``insert_id`` and encoded bytes, or None for the general path.
Encoded = tuple[str, bytes] | None

_dumps = orjson.dumps
_JSONEncodeError = orjson.JSONEncodeError


def track_encoder(
    library: str, min_id_length: int, max_bytes: int, clock_ms: Callable[[], int]
) -> Callable[[dict[str, Any]], Encoded]:
    """The fast encoder of one client: its library name, id length and size limit built in.

    Args:
        library: the ``library`` field the client adds (``trackwire/1.2.3``).
        min_id_length: ids shorter than this take the general path (which removes them).
        max_bytes: the client's per-event limit; a larger event takes the general path
            (which raises :class:`~trackwire.errors.MessageTooLargeError`).
        clock_ms: the current time in epoch milliseconds (the client's ``time`` field).
    """
    library_tail = b',"library":' + _dumps(library) + b"}"
    # What the client appends, by what the caller left out: time and insert_id, one or none.
    tail = b',"time":%d,"insert_id":"%s"' + library_tail
    time_tail = b',"time":%d' + library_tail
    id_tail = b',"insert_id":"%s"' + library_tail
    fields = FAST_FIELDS
    blocked = BLOCKED_IDS
    longest = MAX_STRING_LENGTH
    # Fewer "{" and "[" in the whole event's JSON than this, and its properties (one level
    # below the event) cannot nest deeper than MAX_NESTING_DEPTH levels.
    few_levels = MAX_NESTING_DEPTH

    def good_id(value: Any) -> bool:
        """Whether ``value`` is an id the rule set has nothing to say about."""
        return (
            value.__class__ is str
            and min_id_length <= len(value) <= longest
            and value.lower() not in blocked
        )

    def encode_event(event: dict[str, Any]) -> Encoded:
        """``event`` (a plain dict the caller owns, never changed) as its id and bytes."""
        if not fields.issuperset(event):
            return None
        name = event.get("event_type")
        if name.__class__ is not str or not 0 < len(name) <= longest:
            return None
        user_id = event.get("user_id")
        if user_id is not None and (  # good_id(user_id), inlined: nearly every event has one
            user_id.__class__ is not str
            or not min_id_length <= len(user_id) <= longest
            or user_id.lower() in blocked
        ):
            return None
        device_id = event.get("device_id")
        if device_id is not None and not good_id(device_id):
            return None
        if user_id is None and device_id is None:
            return None
        properties = event.get("event_properties")
        if properties is not None and properties.__class__ is not dict:
            return None
        present = 1 + (user_id is not None) + (device_id is not None) + (properties is not None)
        if len(event) != present:  # the rarer fields, or a key holding None (left out)
            session_id = event.get("session_id")
            if session_id is not None:
                if session_id.__class__ is not int:
                    return None
                present += 1
            stamp = event.get("time")
            if stamp is not None:
                if stamp.__class__ is not int:
                    return None
                present += 1
            given_id = event.get("insert_id")
            if given_id is not None:
                if given_id.__class__ is not str or not 0 < len(given_id) <= longest:
                    return None
                present += 1
            if len(event) != present:
                return None  # a None: the general path leaves it out of the event it sends
        else:
            stamp = given_id = None
        try:
            data = _dumps(event, default=ORJSON_DEFAULT, option=ORJSON_OPTIONS)
        except _JSONEncodeError:  # a value the encoder refuses, a lone surrogate in a str
            return None
        # Each nested level opens a "{" or "[" in the JSON: with few of them (counting those in
        # strings too) the properties cannot nest too deep, and the walk is skipped.
        if data.count(b"{") + data.count(b"[") >= few_levels and properties_too_deep(properties):
            return None
        if data.find(b"null") != -1 and has_non_finite(event):
            return None
        if given_id is None:
            insert_id = new_message_id()
            if stamp is None:
                encoded = data[:-1] + tail % (clock_ms(), insert_id.encode())
            else:
                encoded = data[:-1] + id_tail % insert_id.encode()
        else:
            insert_id = given_id
            encoded = data[:-1] + (time_tail % clock_ms() if stamp is None else library_tail)
        if len(encoded) > max_bytes:
            return None
        return insert_id, encoded

    return encode_event
