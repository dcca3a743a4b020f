"""Segment's HTTP Tracking API, written once for the SDK and the collector.

Limits, endpoints, the batch envelope, the meaning of each response, and the rules a single
message must follow. The SDK uses them to validate at the call site and to build requests; the
collector uses the same functions to accept or refuse what arrives, so the two cannot disagree.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import orjson

from trackwire._engine.retry import Outcome, classify_http, retryable_statuses
from trackwire._engine.transport import HTTPResult

__all__ = [
    "BATCH_PATH",
    "DEFAULT_HOST",
    "FIELD_TYPES",
    "IMPORT_PATH",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_COUNT",
    "MAX_MESSAGE_BYTES",
    "MAX_MESSAGE_ID_LENGTH",
    "MESSAGE_TYPES",
    "REGION_HOSTS",
    "SINGLE_PATHS",
    "SUCCESS_BODY",
    "Enrichment",
    "WireError",
    "carries_server_fields",
    "check_message",
    "enrich",
    "envelope",
    "envelope_overhead",
    "error_body",
    "outcome",
    "parse_timestamp",
    "size_problem",
    "size_problem_as_sent",
]

#: Largest encoded message Segment accepts, on its own or inside a batch (32 KB).
MAX_MESSAGE_BYTES: Final = 32 * 1024
#: Largest batch request body, envelope included. Segment says "500 KB" without saying which
#: kilobyte; the smaller reading is the safe one for a client.
MAX_BATCH_BYTES: Final = 500_000
#: Most messages in one batch; Segment answers 200 above it but drops the events.
MAX_BATCH_COUNT: Final = 2_500
#: Longest ``messageId`` Segment keeps for de-duplication.
MAX_MESSAGE_ID_LENGTH: Final = 100

DEFAULT_HOST: Final = "https://api.segment.io"
REGION_HOSTS: Final[Mapping[str, str]] = {
    "us": "https://api.segment.io",
    "eu": "https://events.eu1.segmentapis.com",
}
BATCH_PATH: Final = "/v1/batch"
#: ``/v1/batch`` under its other name (Segment's import route takes the same body).
IMPORT_PATH: Final = "/v1/import"
#: The body of Segment's 200 answer.
SUCCESS_BODY: Final = b'{"success":true}'

MESSAGE_TYPES: Final = ("identify", "track", "page", "screen", "group", "alias")
#: The single-message routes and the type each one implies.
SINGLE_PATHS: Final[Mapping[str, str]] = {f"/v1/{kind}": kind for kind in MESSAGE_TYPES}

_OBJECT_FIELDS: Final = ("properties", "traits", "context", "integrations")
_STRING_FIELDS: Final = ("event", "name", "category", "groupId", "previousId", "messageId")


@dataclass(frozen=True, slots=True)
class WireError:
    """Why Segment would refuse a message or request.

    Attributes:
        code: Segment's error code (``no_user_anon_id``, ``missing_event``, ...).
        message: what was wrong and how to fix it.
        field: the wire field at fault (camelCase), or ``""``.
    """

    code: str
    message: str
    field: str = ""


def _present(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        return value != ""
    return isinstance(value, int | float)


_NEEDS_Z_FIX: Final = sys.version_info < (3, 11)


def parse_timestamp(value: str) -> datetime | None:
    """Parse an ISO-8601 timestamp as Segment's SDKs send it (``Z`` or ``+00:00``); None if bad."""
    if _NEEDS_Z_FIX and value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


_TYPES: Final = frozenset(MESSAGE_TYPES)


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type (``array``, ``object``, ``number``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "string"


#: What each known field must hold when not null (:func:`check_message` checks it in one pass
#: over the message's own keys, since the collector runs it for every message it receives).
FIELD_TYPES: Final[Mapping[str, type]] = {
    **dict.fromkeys(_OBJECT_FIELDS, dict),
    **dict.fromkeys(_STRING_FIELDS, str),
}


def check_message(message: Mapping[str, Any], kind: str | None = None) -> WireError | None:
    """Check one message against the Tracking API's rules.

    Args:
        message: the decoded message (camelCase keys, as on the wire).
        kind: the type implied by a single-message route; None inside a batch, where the
            message's own ``type`` decides.

    Returns:
        None when Segment would accept the message, else the first problem found.
    """
    kind = kind or message.get("type")
    if not isinstance(kind, str) or kind not in _TYPES:
        # Only a string is echoed: a list or object sent as the type may be huge or deep.
        got = repr(kind[:40]) if isinstance(kind, str) else f"a JSON {_json_type(kind)}"
        return WireError(
            "invalid_type",
            f"type must be one of {', '.join(MESSAGE_TYPES)}; got {got}",
            "type",
        )
    field_types = FIELD_TYPES
    for name, value in message.items():
        expected = field_types.get(name)
        if expected is not None and value is not None and not isinstance(value, expected):
            what = "an object" if expected is dict else "a string"
            return WireError("invalid_field", f"{name} must be {what}", name)
    message_id = message.get("messageId")
    if message_id is not None and len(message_id) > MAX_MESSAGE_ID_LENGTH:
        return WireError(
            "invalid_field",
            f"messageId must be at most {MAX_MESSAGE_ID_LENGTH} characters",
            "messageId",
        )
    timestamp = message.get("timestamp")
    if timestamp is not None and (
        not isinstance(timestamp, str) or parse_timestamp(timestamp) is None
    ):
        return WireError("invalid_field", "timestamp must be an ISO-8601 string", "timestamp")
    if kind == "alias":
        if not _present(message.get("previousId")):
            return WireError("missing_previous_id", "alias needs previousId", "previousId")
        if not _present(message.get("userId")):
            return WireError("missing_user_id", "alias needs userId", "userId")
        return None
    # A non-empty string (nearly every message's) is present without calling _present.
    user_id = message.get("userId")
    if (
        not (user_id.__class__ is str and user_id)
        and not _present(user_id)
        and not _present(message.get("anonymousId"))
    ):
        return WireError("no_user_anon_id", "userId or anonymousId is required", "userId")
    if kind == "track":
        event = message.get("event")
        if not (event.__class__ is str and event) and not _present(event):
            return WireError("missing_event", "track needs an event name", "event")
    if kind == "group" and not _present(message.get("groupId")):
        return WireError("missing_group_id", "group needs groupId", "groupId")
    return None


def size_problem(size: int) -> WireError | None:
    """The error for a message of ``size`` bytes as compact JSON, if that is over the limit.

    Segment measures a message by its encoding; the collector measures the compact JSON
    (orjson, raw UTF-8), whatever whitespace or escapes the sender used.
    """
    if size <= MAX_MESSAGE_BYTES:
        return None
    return WireError(
        "message_too_large",
        f"Exceed payload limit: the message is {size} bytes as compact JSON; "
        f"the limit is {MAX_MESSAGE_BYTES} bytes",
    )


#: The server fields :class:`Enrichment` writes besides ``timestamp``.
_SERVER_FIELDS: Final = ("receivedAt", "sentAt", "originalTimestamp")
#: A message without server fields, as sent, is at most its enriched encoding plus its own
#: ``timestamp`` entry (``"timestamp":`` and a comma): below this less that entry's value's
#: bound, it is certainly within the limit (:func:`size_problem_as_sent`).
_SENT_SIZE_BOUND: Final = MAX_MESSAGE_BYTES - len('"timestamp":,')


def carries_server_fields(message: Mapping[str, Any]) -> bool:
    """Whether ``message`` has a field :class:`Enrichment` replaces other than ``timestamp``
    (rare: its size as sent cannot be told from its enriched encoding, measure it first)."""
    return "receivedAt" in message or "sentAt" in message or "originalTimestamp" in message


def size_problem_as_sent(
    enriched: Mapping[str, Any], encoded_size: int, had_timestamp: bool, timestamp: Any
) -> WireError | None:
    """:func:`size_problem` for the message as sent, told from its enrichment: ``enriched``
    (encoded in ``encoded_size`` bytes) was a message without server fields (see
    :func:`carries_server_fields`) whose ``timestamp`` was ``timestamp`` (``had_timestamp``:
    the key was there). Only a message near the limit is encoded again, or one whose
    ``timestamp`` was no string (any JSON value passes the checks, and enrichment replaced it:
    its size is not bounded)."""
    # The bound of the sent timestamp's JSON: a string (6 bytes a character as \uXXXX, and
    # the quotes) or null.
    if isinstance(timestamp, str):
        bound = 6 * len(timestamp) + 2
    elif timestamp is None:
        bound = 4
    else:
        bound = None
    if bound is not None and encoded_size <= _SENT_SIZE_BOUND - bound:
        return None
    sent = {key: value for key, value in enriched.items() if key not in _SERVER_FIELDS}
    if had_timestamp:
        sent["timestamp"] = timestamp  # back in its own place: the key was there
    else:
        del sent["timestamp"]
    return size_problem(len(orjson.dumps(sent)))


#: "YYYY-MM-DDTHH:MM:" by (year, month, day, hour, minute): a request's times share a few
#: minutes.
_MINUTE_PREFIXES: dict[tuple[int, int, int, int, int], str] = {}
_MAX_MINUTE_PREFIXES: Final = 1024
#: "00" .. "59" and "000" .. "999": a second's and a millisecond's digits, looked up.
_TWO_DIGITS: Final = tuple(f"{n:02d}" for n in range(60))
_THREE_DIGITS: Final = tuple(f"{n:03d}" for n in range(1000))


def _iso(when: datetime) -> str:
    """ISO-8601 UTC with milliseconds (cut, as ``isoformat`` cuts them) and ``Z``, as Segment
    writes its timestamps."""
    if when.tzinfo is not timezone.utc:
        when = when.astimezone(timezone.utc)
    # This runs per message that has a sentAt (every SDK's): the text up to the minute is
    # cached and the seconds and milliseconds looked up, a third of formatting them with
    # %02d/%03d (which alone cost more than the rest of the message's enrichment).
    key = (when.year, when.month, when.day, when.hour, when.minute)
    prefix = _MINUTE_PREFIXES.get(key)
    if prefix is None:
        if len(_MINUTE_PREFIXES) >= _MAX_MINUTE_PREFIXES:
            _MINUTE_PREFIXES.clear()
        prefix = _MINUTE_PREFIXES[key] = "%04d-%02d-%02dT%02d:%02d:" % key  # noqa: UP031
    return f"{prefix}{_TWO_DIGITS[when.second]}.{_THREE_DIGITS[when.microsecond // 1000]}Z"


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


class Enrichment:
    """The fields Segment's servers add to every message of one request (spec: common fields).

    ``receivedAt`` is the server's clock; ``sentAt`` the client's at send time (the batch
    envelope's, else the message's own); ``originalTimestamp`` the client's ``timestamp`` as
    sent; and ``timestamp`` is corrected for the client's clock skew:
    ``receivedAt - (sentAt - originalTimestamp)``. Without a client ``timestamp`` the event
    happened at ``receivedAt``; without a usable ``sentAt`` the client's time is kept.

    Built once per request (the collector's hot path): the envelope's times are parsed once.

    Args:
        received_at: when the request arrived (aware datetime).
        sent_at: the envelope's ``sentAt``, if it had one.
    """

    __slots__ = ("_received", "_received_text", "_sent_text", "_shift")

    def __init__(self, *, received_at: datetime, sent_at: str | None) -> None:
        # To the millisecond, as written: the stored fields then give back the stored time.
        received = _aware(received_at)
        self._received = received.replace(microsecond=received.microsecond // 1000 * 1000)
        self._received_text = _iso(self._received)
        self._sent_text, self._shift = self._sent(sent_at)

    def _sent(self, sent_at: Any) -> tuple[str | None, timedelta | None]:
        sent = parse_timestamp(sent_at) if isinstance(sent_at, str) else None
        if sent is None:
            return None, None
        try:
            return sent_at, self._received - _aware(sent)
        except OverflowError:
            return sent_at, None

    def apply(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """The message with Segment's server fields (a new dict; ``message`` is not changed)."""
        return self.stamp(message)[0]

    def stamp(self, message: Mapping[str, Any]) -> tuple[dict[str, Any], datetime]:
        """:meth:`apply`, and the time its ``timestamp`` field was written from (see
        :meth:`stamp_into`)."""
        enriched = dict(message)
        return enriched, self.stamp_into(enriched)

    def stamp_into(self, message: dict[str, Any]) -> datetime:
        """Add Segment's server fields to ``message`` itself (the same keys in the same order
        as :meth:`apply`), and return the time its ``timestamp`` field was written from (naive
        means UTC), so the collector need not parse back the text it just wrote. The text
        keeps whole milliseconds (cut, not rounded): both give the same epoch milliseconds.
        """
        original_text = message.get("timestamp")
        original = parse_timestamp(original_text) if isinstance(original_text, str) else None
        return self.stamp_parsed(message, original_text, original)

    def stamp_parsed(
        self, message: dict[str, Any], original_text: Any, original: datetime | None
    ) -> datetime:
        """:meth:`stamp_into` for a caller that has read ``message["timestamp"]``
        (``original_text``) and parsed it with :func:`parse_timestamp` (``original``; None
        when it is no string or does not parse)."""
        sent_text, shift = self._sent_text, self._shift
        if sent_text is None:
            own_sent_at = message.get("sentAt")
            if own_sent_at is not None:  # most messages have none: no call for them
                sent_text, shift = self._sent(own_sent_at)
        message["receivedAt"] = self._received_text
        if sent_text is not None:
            message["sentAt"] = sent_text
        if original is None:
            message["timestamp"] = self._received_text
            return self._received
        message["originalTimestamp"] = original_text
        if shift is not None:
            # A skew past the calendar's edge keeps the client's time.
            try:
                corrected = _aware(original) + shift
                message["timestamp"] = _iso(corrected)
            except OverflowError:
                return original
            return corrected
        return original


def enrich(
    message: Mapping[str, Any], *, received_at: datetime, sent_at: str | None
) -> dict[str, Any]:
    """One message with the fields Segment's servers add; see :class:`Enrichment`."""
    return Enrichment(received_at=received_at, sent_at=sent_at).apply(message)


def envelope(messages: Sequence[bytes], write_key_json: bytes, sent_at: str) -> bytes:
    """Join encoded messages into the ``/v1/batch`` body ``{batch, sentAt, writeKey}``.

    Args:
        messages: each message already encoded as compact JSON.
        write_key_json: the write key encoded as a JSON string (quotes included).
        sent_at: the send time as ISO-8601 UTC with milliseconds and ``Z``.
    """
    head = b'{"batch":['
    tail = b'],"sentAt":"' + sent_at.encode() + b'","writeKey":' + write_key_json + b"}"
    if not messages:
        return head + tail
    # One join, so the ~500 KB body is copied once: a second copy of it costs a fresh large
    # allocation (and its page faults) in the worker while it holds the GIL.
    parts = list(messages)
    parts[0] = head + parts[0]
    parts[-1] = parts[-1] + tail
    return b",".join(parts)


#: Length of ``sentAt`` as trackwire writes it: ``2026-11-22T20:48:06.393Z``.
_SENT_AT_LENGTH: Final = 24


def envelope_overhead(write_key_json: bytes) -> int:
    """Bytes a batch body adds around its messages (commas between them not included)."""
    return len(envelope((), write_key_json, "x" * _SENT_AT_LENGTH))


def error_body(code: str, message: str) -> bytes:
    """The JSON error body the collector answers with (analytics-python needs code+message)."""
    return orjson.dumps({"success": False, "code": code, "message": message})


def _detail(body: bytes) -> str:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace").strip()
    if isinstance(decoded, dict):
        return str(decoded.get("message") or decoded.get("code") or "")
    return ""


#: What Segment's retry matrix adds (its load balancers' transient answers) to the plain HTTP
#: meaning of "try again later" (408, 429, 5xx but 501/505; ``_engine.retry``).
RETRYABLE_EXTRA: Final = frozenset({410, 460})

#: True for the statuses Segment's libraries retry: 408, 410, 429, 460, 5xx but 501/505.
is_retryable: Final = retryable_statuses(RETRYABLE_EXTRA)


def outcome(result: HTTPResult, now: float, batch_size: int) -> Outcome:
    """What a Tracking API response means for the batch that was sent.

    Any 2xx is success. 408, 410, 429, 460 and 5xx except 501/505 are retried, honouring
    ``Retry-After``; 413 splits the batch; every other 4xx rejects it (Segment answers 400 for
    invalid JSON and oversized payloads, which no retry can fix).
    """
    detail = "" if result.status is None or result.status < 300 else _detail(result.body)
    return classify_http(
        result.status,
        result.error,
        result.headers.get("retry-after"),
        now,
        batch_size,
        detail,
        is_retryable,
    )
