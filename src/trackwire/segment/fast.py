"""The common Segment call encoded straight to bytes, spliced from pre-encoded pieces.

Most calls in a busy process look alike: a plain ``user_id``, an event or a name, a dict of
properties, and nothing else. For those the client need not build the message dict and have
it encoded whole: the constant parts (``"type"``, ``context.library``) are encoded once, the
timestamp text is shared by every call in the same millisecond
(:func:`~trackwire.segment.messages.now_iso_bytes`), and only the caller's values go through
the encoder. The bytes are exactly those :func:`~trackwire._engine.encoding.encode` would
write for the message :mod:`~trackwire.segment.messages` builds (same keys, same order).

Anything unusual (another argument given, a value the encoder refuses, a ``null`` that may be
a NaN) returns None, and the client takes the general path, which validates everything and
names the offending field in its error.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from trackwire._engine.encoding import ORJSON_DEFAULT, ORJSON_OPTIONS, has_non_finite
from trackwire._engine.ids import new_message_id
from trackwire.segment.messages import LIBRARY, now_iso_bytes

__all__ = ["encode_track"]

_dumps = orjson.dumps
_JSONEncodeError = orjson.JSONEncodeError

#: What follows ``userId``: the library context, then the timestamp's opening quote.
_CONTEXT: Final = b',"context":{"library":' + orjson.dumps(LIBRARY) + b'},"timestamp":"'
_ID: Final = b'","messageId":"'
_END: Final = b'"}'

_TRACK_HEAD: Final = b'{"type":"track","event":'
_PROPERTIES: Final = b',"properties":'
_USER_ID: Final = b',"userId":'
_EMPTY: Final = b"{}"

# Event names repeat: their JSON is looked up instead of encoded (half the cost). Bounded: a
# process that makes up names as it goes empties it now and then.
_event_json: dict[str, bytes] = {}
_EVENT_CACHE_SIZE: Final = 1_024


def encode_track(
    user_id: str, event: str, properties: dict[str, Any] | None
) -> tuple[str, bytes] | None:
    """``track(user_id, event, properties)`` as its message id and encoded message.

    The caller checked that ``user_id`` and ``event`` are non-empty exact ``str`` and that
    ``properties`` is an exact ``dict`` or None. Returns None when the general path must
    decide: a value the encoder refuses, or a ``null`` in the properties that may be a NaN.
    """
    try:
        props = (
            _dumps(properties, default=ORJSON_DEFAULT, option=ORJSON_OPTIONS)
            if properties
            else _EMPTY
        )
        event_json = _event_json.get(event)
        if event_json is None:
            event_json = _dumps(event)
            if len(_event_json) >= _EVENT_CACHE_SIZE:
                _event_json.clear()
            _event_json[event] = event_json
        user_json = _dumps(user_id)
    except _JSONEncodeError:  # a value the encoder refuses, a lone surrogate in a str
        return None
    if props.find(b"null") != -1 and has_non_finite(properties):
        return None
    message_id = new_message_id()
    data = b"".join(
        (
            _TRACK_HEAD,
            event_json,
            _PROPERTIES,
            props,
            _USER_ID,
            user_json,
            _CONTEXT,
            now_iso_bytes(),
            _ID,
            message_id.encode(),
            _END,
        )
    )
    return message_id, data
