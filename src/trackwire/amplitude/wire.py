"""Amplitude's HTTP V2 and Batch ingestion APIs, written once for the SDK and the collector.

Hosts, limits, the event field table and the response bodies the official SDKs parse. The SDK
validates with these functions and reads responses with :mod:`.responses`; the collector
accepts, refuses and answers with the same ones, so the two cannot disagree about what
Amplitude would do. The identify form APIs live in :mod:`.identify`, and the user and group
property operations both kinds of request carry in :mod:`.properties`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from trackwire.amplitude.properties import (
    GROUP_PROPERTY_OPERATIONS,
    USER_PROPERTY_OPERATIONS,
    _operations_problem,
)

__all__ = [
    "BLOCKED_IDS",
    "DASHBOARD_URLS",
    "DEFAULT_EPS_THRESHOLD",
    "DEFAULT_MIN_ID_LENGTH",
    "ENDPOINTS",
    "EVENT_FIELDS",
    "MAX_EVENTS_PER_REQUEST",
    "MAX_GROUP_IDENTIFICATIONS",
    "MAX_GROUP_TYPES",
    "MAX_GROUP_VALUES",
    "MAX_NESTING_DEPTH",
    "MAX_PROPERTY_KEYS",
    "MAX_REQUEST_BYTES",
    "MAX_STRING_LENGTH",
    "PATHS",
    "SERVER_URLS",
    "THROTTLE_BACKOFF_SECONDS",
    "UploadCheck",
    "UploadError",
    "check_upload",
    "error_body",
    "invalid_api_key_body",
    "invalid_request_body",
    "success_body",
    "throttled_body",
    "too_large_body",
]

#: The ingestion routes by name; both event endpoints share one request schema.
PATHS: Final[Mapping[str, str]] = {
    "httpapi": "/2/httpapi", "batch": "/batch", "identify": "/identify",
    "groupidentify": "/groupidentify",
}  # fmt: skip
#: The JSON event endpoints ``check_upload`` understands.
ENDPOINTS: Final = ("httpapi", "batch")
_INGEST_HOSTS: Final = {"US": "https://api2.amplitude.com", "EU": "https://api.eu.amplitude.com"}
#: Full ingestion URLs by server zone ("US", "EU") and route name.
SERVER_URLS: Final[Mapping[str, Mapping[str, str]]] = {
    zone: {name: host + path for name, path in PATHS.items()}
    for zone, host in _INGEST_HOSTS.items()
}
#: Dashboard REST / Export API bases by server zone (HTTP Basic ``api_key:secret_key``).
DASHBOARD_URLS: Final[Mapping[str, str]] = {
    "US": "https://amplitude.com/api/2",
    "EU": "https://analytics.eu.amplitude.com/api/2",
}

#: Most events in one request (either endpoint); more is answered with 413.
MAX_EVENTS_PER_REQUEST: Final = 2_000
#: Largest request body per endpoint. Amplitude says "1 MB" and "20 MB" without saying which
#: megabyte; the smaller reading is the safe one for a client. More is answered with 413.
MAX_REQUEST_BYTES: Final[Mapping[str, int]] = {
    "httpapi": 1_000_000,
    "batch": 20_000_000,
    "identify": 1_000_000,
    "groupidentify": 1_000_000,
}
#: Shortest ``user_id``/``device_id`` Amplitude keeps unless ``options.min_id_length`` says less.
DEFAULT_MIN_ID_LENGTH: Final = 5
#: Longest string value Amplitude keeps (ids, event type, property values); longer is truncated.
MAX_STRING_LENGTH: Final = 1024
#: Most keys in one properties object (the official SDK empties larger objects).
MAX_PROPERTY_KEYS: Final = 1024
#: Deepest nesting of ``event_properties``/``user_properties``/``group_properties``.
MAX_NESTING_DEPTH: Final = 40
#: Group types per event; Amplitude ignores the extra ones, it does not refuse.
MAX_GROUP_TYPES: Final = 5
#: Group values per event; extra ones are ignored too.
MAX_GROUP_VALUES: Final = 10
#: Group identifications per ``/groupidentify`` request.
MAX_GROUP_IDENTIFICATIONS: Final = 1024
#: Events per second per user or device before a 429, by endpoint (documented examples).
DEFAULT_EPS_THRESHOLD: Final[Mapping[str, int]] = {"httpapi": 30, "batch": 1000}
#: Pause Amplitude asks for after a 429 on HTTP V2 (the Batch and Identify docs say 15 s; the
#: longer one is used because a client cannot tell which limit it hit).
THROTTLE_BACKOFF_SECONDS: Final = 30.0

#: Id values Amplitude refuses (compared case-insensitively; ``'""'`` is two quote characters).
BLOCKED_IDS: Final = frozenset((
    "anonymous", "nil", "none", "null", "n/a", "na", "undefined", "unknown", '""', "{}", "lmy47d",
    "0", "-1", "00000000-0000-0000-0000-000000000000",
))  # fmt: skip

# Device and place fields shared by events and identifications (all strings).
_DEVICE_STRINGS: Final = (
    "app_version", "platform", "os_name", "os_version", "device_brand", "device_manufacturer",
    "device_model", "carrier", "country", "region", "city", "dma", "language",
)  # fmt: skip
_EVENT_STRINGS: Final = (
    "user_id", "device_id", "event_type", "user_agent", "productId", "revenueType", "currency",
    "ip", "idfa", "idfv", "adid", "android_id", "android_app_set_id", "insert_id", "partner_id",
    "version_name", "library",
)  # fmt: skip
#: Every HTTP V2 event field and its JSON type: ``str`` string, ``int`` integer (never a bool),
#: ``float`` any number (never a bool), ``bool`` boolean, ``dict`` object.
EVENT_FIELDS: Final[Mapping[str, type[object]]] = {
    **dict.fromkeys(_EVENT_STRINGS + _DEVICE_STRINGS, str),
    **dict.fromkeys(("time", "quantity", "event_id", "session_id"), int),
    **dict.fromkeys(("price", "revenue", "location_lat", "location_lng"), float),
    **dict.fromkeys(("event_properties", "user_properties", "groups", "group_properties"), dict),
    **dict.fromkeys(("plan", "ingestion_metadata"), dict),
    "$skip_user_properties_sync": bool,
}
# Sub-objects with string values: the SDKs send ``plan.versionId`` and, from Node, camelCase
# ingestion metadata (Python sends snake_case); both spellings are accepted.
_STRING_SUBFIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "plan": ("branch", "source", "version", "versionId"),
    "ingestion_metadata": ("source_name", "source_version", "sourceName", "sourceVersion"),
}
_PROPERTY_OBJECTS: Final = ("event_properties", "user_properties", "group_properties")

_MISSING_FIELD: Final = "Request missing required field"
_INVALID_BODY: Final = "Invalid JSON request body"
_INVALID_EVENT: Final = "Invalid event JSON"
_INVALID_EVENTS: Final = "Invalid field values on some events"
_TOO_LARGE: Final = "Payload too large"
_THROTTLED: Final = "Too many requests for some devices and users"


@dataclass(frozen=True, slots=True)
class UploadError:
    """A request-level problem: Amplitude refuses the whole request.

    Attributes:
        code: the HTTP status and the body's ``code`` (400, or 413 for too many events/bytes).
        error: Amplitude's ``error`` text (one of its documented values).
        message: what exactly was wrong, for logs; not part of Amplitude's body.
        missing_field: the request-level field that is missing (``api_key``, ``events``).
    """

    code: int
    error: str
    message: str
    missing_field: str | None = None


@dataclass(frozen=True, slots=True)
class UploadCheck:
    """What Amplitude would say about one ``/2/httpapi`` or ``/batch`` request body.

    Attributes:
        error: the request-level problem, or None; when set, no event was examined.
        events_with_invalid_fields: wire field name -> indices of events where it is invalid.
        events_with_missing_fields: wire field name -> indices of events where it is missing.
        events_with_invalid_id_lengths: ``user_id``/``device_id`` -> indices of events whose id
            is shorter than ``min_id_length``.
        valid_indices: events with no problem, ascending.
        invalid_indices: events with at least one problem, ascending.
        min_id_length: the minimum id length that applied.
    """

    error: UploadError | None = None
    events_with_invalid_fields: dict[str, list[int]] = field(default_factory=dict)
    events_with_missing_fields: dict[str, list[int]] = field(default_factory=dict)
    events_with_invalid_id_lengths: dict[str, list[int]] = field(default_factory=dict)
    valid_indices: list[int] = field(default_factory=list)
    invalid_indices: list[int] = field(default_factory=list)
    min_id_length: int = DEFAULT_MIN_ID_LENGTH

    @property
    def ok(self) -> bool:
        """True when Amplitude would ingest every event (answer 200)."""
        return self.error is None and not self.invalid_indices


def _is_type(value: object, expected: type[object]) -> bool:
    # bool is an int subclass in Python, never a number in JSON terms.
    if isinstance(value, bool):
        return expected is bool
    if expected is float:
        return isinstance(value, int | float)
    return isinstance(value, expected)


def _depth(value: object, limit: int) -> int:
    """Nesting depth of objects/arrays in ``value``, counting stops once past ``limit``."""
    stack: list[tuple[object, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Sequence[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _groups_ok(groups: Mapping[str, Any]) -> bool:
    return all(
        isinstance(value, str)
        or (isinstance(value, list) and all(isinstance(item, str) for item in value))
        for value in groups.values()
    )


def _present(value: object) -> bool:
    # The SDKs omit unset ids, hand-written JSON often sends null or "": both mean "absent".
    return value is not None and value != ""


def _id_problem(value: object, min_length: int) -> str | None:
    """``"invalid"``, ``"length"`` or None for one present user_id/device_id."""
    if not isinstance(value, str) or value.lower() in BLOCKED_IDS:
        return "invalid"
    if len(value) < min_length:
        return "length"
    return None


def _value_ok(name: str, value: Any) -> bool:
    """Deeper rules for an event field whose JSON type is already right."""
    if name in _PROPERTY_OBJECTS and _depth(value, MAX_NESTING_DEPTH) > MAX_NESTING_DEPTH:
        return False
    if name == "user_properties":
        return _operations_problem(value, USER_PROPERTY_OPERATIONS) is None
    if name == "group_properties":
        return _operations_problem(value, GROUP_PROPERTY_OPERATIONS) is None
    if name == "groups":
        return _groups_ok(value)
    if name in _STRING_SUBFIELDS:
        return all(
            value.get(key) is None or isinstance(value[key], str) for key in _STRING_SUBFIELDS[name]
        )
    return True


def _event_problems(event: Mapping[str, Any], min_length: int) -> list[tuple[str, str]]:
    """(kind, field) pairs for one event; kind is ``invalid``, ``missing`` or ``length``."""
    problems: list[tuple[str, str]] = []
    if not _present(event.get("event_type")):
        problems.append(("missing", "event_type"))
    ids = [name for name in ("user_id", "device_id") if _present(event.get(name))]
    if not ids:
        problems.append(("missing", "user_id"))
    for name in ids:
        kind = _id_problem(event[name], min_length)
        if kind is not None:
            problems.append((kind, name))
    for name, expected in EVENT_FIELDS.items():
        value = event.get(name)
        if value is None or name in ("user_id", "device_id"):
            continue
        if not _is_type(value, expected):
            problems.append(("invalid", name))
            continue
        if not _value_ok(name, value):
            problems.append(("invalid", name))
    return problems


def _request_error(
    body: object, endpoint: str, payload_size_bytes: int | None
) -> UploadError | int:
    """The request-level problem, or the minimum id length to use for the events."""
    if payload_size_bytes is not None and payload_size_bytes > MAX_REQUEST_BYTES[endpoint]:
        limit = MAX_REQUEST_BYTES[endpoint]
        return UploadError(413, _TOO_LARGE, f"request body is larger than {limit} bytes")
    if not isinstance(body, dict):
        return UploadError(400, _INVALID_BODY, "the request body must be a JSON object")
    api_key = body.get("api_key")
    if not _present(api_key):
        return UploadError(400, _MISSING_FIELD, "api_key is required", "api_key")
    if not isinstance(api_key, str):
        return UploadError(400, f"Invalid API key: {api_key}", "api_key must be a string")
    events = body.get("events")
    if events is None or events == []:
        return UploadError(400, _MISSING_FIELD, "events must hold at least one event", "events")
    if not isinstance(events, list):
        return UploadError(400, _INVALID_EVENT, "events must be an array of event objects")
    if len(events) > MAX_EVENTS_PER_REQUEST:
        return UploadError(
            413, _TOO_LARGE, f"{len(events)} events; at most {MAX_EVENTS_PER_REQUEST} per request"
        )
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            return UploadError(400, _INVALID_EVENT, f"events[{index}] must be a JSON object")
    options = body.get("options")
    if options is None:
        return DEFAULT_MIN_ID_LENGTH
    if not isinstance(options, dict):
        return UploadError(400, _INVALID_BODY, "options must be a JSON object")
    min_length = options.get("min_id_length", DEFAULT_MIN_ID_LENGTH)
    if min_length is None:
        return DEFAULT_MIN_ID_LENGTH
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 1:
        return UploadError(400, _INVALID_BODY, "options.min_id_length must be a positive integer")
    return min_length


def check_upload(
    body: object, *, endpoint: str = "httpapi", payload_size_bytes: int | None = None
) -> UploadCheck:
    """Check a decoded ``/2/httpapi`` or ``/batch`` request body as Amplitude would.

    Request-level problems (body not an object, ``api_key`` or ``events`` missing, an event
    that is not an object, more than 2,000 events, a bad ``options.min_id_length``, a body
    over the endpoint's byte limit) set ``error``. Otherwise every event is checked against
    :data:`EVENT_FIELDS` and the id rules, and problems are grouped by field the way
    Amplitude's 400 body groups them. An event may be listed under several fields.

    Ids shorter than the minimum are reported in ``events_with_invalid_id_lengths`` even when
    the event's other id is valid (Amplitude may instead drop the short id and keep the
    event; refusing is the safe reading). Blocked id values (:data:`BLOCKED_IDS`) and non-string
    ids are invalid fields. An event with neither id is listed as missing ``user_id`` (the
    docs do not name the field Amplitude uses). Operations mixed with plain keys in
    ``user_properties`` make that field invalid.

    Args:
        body: the decoded JSON request body.
        endpoint: ``"httpapi"`` or ``"batch"``; selects the byte limit.
        payload_size_bytes: the (decompressed) body size, to check against the limit; None skips.

    Raises:
        ValueError: ``endpoint`` is not one of :data:`ENDPOINTS`.
    """
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}; got {endpoint!r}")
    verdict = _request_error(body, endpoint, payload_size_bytes)
    if isinstance(verdict, UploadError):
        return UploadCheck(error=verdict)
    assert isinstance(body, dict)
    groups: dict[str, dict[str, list[int]]] = {"invalid": {}, "missing": {}, "length": {}}
    valid: list[int] = []
    invalid: list[int] = []
    for index, event in enumerate(body["events"]):
        problems = _event_problems(event, verdict)
        (invalid if problems else valid).append(index)
        for kind, name in problems:
            indices = groups[kind].setdefault(name, [])
            if not indices or indices[-1] != index:
                indices.append(index)
    return UploadCheck(
        events_with_invalid_fields=groups["invalid"],
        events_with_missing_fields=groups["missing"],
        events_with_invalid_id_lengths=groups["length"],
        valid_indices=valid,
        invalid_indices=invalid,
        min_id_length=verdict,
    )


# --- response bodies ---------------------------------------------------------------------------


def success_body(
    events_ingested: int, payload_size_bytes: int, server_upload_time_ms: int
) -> dict[str, int]:
    """The 200 body; both official SDKs need its ``code`` (the Python SDK reads nothing else)."""
    return {
        "code": 200,
        "events_ingested": events_ingested,
        "payload_size_bytes": payload_size_bytes,
        "server_upload_time": server_upload_time_ms,
    }


def invalid_request_body(check: UploadCheck) -> dict[str, Any]:
    """The 400 (or 413) body for a failed :func:`check_upload`.

    A request-level error gives ``{code, error}`` plus ``missing_field`` when one is missing
    (the SDKs then drop the whole batch). Per-event problems give ``error`` "Invalid field
    values on some events" with all three index maps, empty ones included, so that every SDK
    finds the keys it looks for.

    Raises:
        ValueError: the check found no problem.
    """
    if check.error is not None:
        if check.error.code == 413:
            return too_large_body()
        body: dict[str, Any] = {"code": check.error.code, "error": check.error.error}
        if check.error.missing_field is not None:
            body["missing_field"] = check.error.missing_field
        return body
    if check.ok:
        raise ValueError("the upload has no problem to report")
    return {
        "code": 400,
        "error": _INVALID_EVENTS,
        "events_with_invalid_fields": check.events_with_invalid_fields,
        "events_with_missing_fields": check.events_with_missing_fields,
        "events_with_invalid_id_lengths": check.events_with_invalid_id_lengths,
    }


def invalid_api_key_body(api_key: str) -> dict[str, Any]:
    """The 400 body for an unknown API key (the Python SDK matches ``Invalid API key:``)."""
    return {"code": 400, "error": f"Invalid API key: {api_key}"}


def too_large_body() -> dict[str, Any]:
    """The 413 body: too many events or bytes in one request."""
    return {"code": 413, "error": _TOO_LARGE}


def throttled_body(
    *,
    throttled_events: Sequence[int],
    throttled_users: Mapping[str, int] | None = None,
    throttled_devices: Mapping[str, int] | None = None,
    eps_threshold: int = DEFAULT_EPS_THRESHOLD["httpapi"],
    exceeded_daily_quota_users: Mapping[str, int] | None = None,
    exceeded_daily_quota_devices: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The 429 body.

    Args:
        throttled_events: indices of the throttled events.
        throttled_users: user_id -> its current events per second.
        throttled_devices: device_id -> its current events per second.
        eps_threshold: the per-user/device limit that was exceeded.
        exceeded_daily_quota_users: user_id -> events in the last 24 h (daily-quota case only);
            the Python SDK drops throttled events of these users instead of retrying them.
        exceeded_daily_quota_devices: device_id -> events in the last 24 h (daily-quota case).
    """
    body: dict[str, Any] = {
        "code": 429,
        "error": _THROTTLED,
        "eps_threshold": eps_threshold,
        "throttled_devices": dict(throttled_devices or {}),
        "throttled_users": dict(throttled_users or {}),
        "throttled_events": list(throttled_events),
    }
    if exceeded_daily_quota_users is not None:
        body["exceeded_daily_quota_users"] = dict(exceeded_daily_quota_users)
    if exceeded_daily_quota_devices is not None:
        body["exceeded_daily_quota_devices"] = dict(exceeded_daily_quota_devices)
    return body


def error_body(code: int, error: str) -> dict[str, Any]:
    """Any other error body, e.g. ``error_body(403, "Forbidden")`` or a 5xx for fault injection."""
    return {"code": code, "error": error}


# --- response -> outcome ----------------------------------------------------------------------
