"""Amplitude's HTTP V2 and Batch ingestion APIs, written once for the SDK and the collector.

Hosts, limits, the event field table and the upload checks. The SDK validates with these
functions and reads responses with :mod:`.responses`; the collector accepts and refuses with
the same ones and answers with the bodies of :mod:`.answers`, so the two cannot disagree about
what Amplitude would do. The identify form APIs live in :mod:`.identify`, and the user and group
property operations both kinds of request carry in :mod:`.properties`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from trackwire.amplitude.properties import (
    GROUP_PROPERTY_OPERATIONS,
    SET_RULE,
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
    "NOT_REFUSED",
    "PATHS",
    "SERVER_URLS",
    "THROTTLE_BACKOFF_SECONDS",
    "TOO_LARGE_ERROR",
    "Problem",
    "ProblemKind",
    "UploadCheck",
    "UploadError",
    "check_event",
    "check_upload",
    "cut_long_strings",
    "properties_too_deep",
    "truncate_long_strings",
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
#: Dashboard REST / Export API origins by server zone (HTTP Basic ``api_key:secret_key``);
#: the query client adds each API's path (``/api/2/export``, ``/api/2/events/segmentation``).
DASHBOARD_URLS: Final[Mapping[str, str]] = {
    "US": "https://amplitude.com",
    "EU": "https://analytics.eu.amplitude.com",
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
#: The ``error`` text of Amplitude's 413 (also what :func:`check_upload` reports).
TOO_LARGE_ERROR: Final = "Payload too large"


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
        long_indices: events with a string field over :data:`MAX_STRING_LENGTH` characters,
            ascending (Amplitude keeps the first ones: :func:`cut_long_strings`).
        min_id_length: the minimum id length that applied.
    """

    error: UploadError | None = None
    events_with_invalid_fields: dict[str, list[int]] = field(default_factory=dict)
    events_with_missing_fields: dict[str, list[int]] = field(default_factory=dict)
    events_with_invalid_id_lengths: dict[str, list[int]] = field(default_factory=dict)
    valid_indices: list[int] = field(default_factory=list)
    invalid_indices: list[int] = field(default_factory=list)
    min_id_length: int = DEFAULT_MIN_ID_LENGTH
    long_indices: list[int] = field(default_factory=list)

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


def _depth(value: object, limit: int) -> int:  # the identify form API's check
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


def _too_deep(container: Any, budget: int) -> bool:
    """Whether ``container`` (a dict or list) holds more than ``budget`` further levels."""
    if type(container) is dict or isinstance(container, Mapping):
        container = container.values()
    for item in container:
        kind = type(item)
        if kind is dict or kind is list:
            if budget == 0:
                return True
            # Two levels per call: properties nest one level deep far more often than two,
            # and a call per nested object cost more than reading its few items (this runs
            # in the SDK caller's thread for every event).
            for inner in item.values() if kind is dict else item:
                kind = type(inner)
                if (kind is dict or kind is list) and (budget == 1 or _too_deep(inner, budget - 2)):
                    return True
    return False


#: The levels ``event_properties`` may hold below their own.
_PROPERTIES_BUDGET: Final = MAX_NESTING_DEPTH - 1


def properties_too_deep(properties: Any) -> bool:
    """Whether ``event_properties`` nest deeper than :data:`MAX_NESTING_DEPTH` levels (the
    rule :func:`check_event` applies to them)."""
    return _too_deep(properties, _PROPERTIES_BUDGET)


#: A problem's kind: what Amplitude's 400 body would list it under (``invalid``, ``missing``,
#: ``length``), ``unknown`` for a key that is no event field (Amplitude ignores it; the SDK
#: refuses it, since it is almost always a misspelling), or ``long`` for a string over
#: :data:`MAX_STRING_LENGTH` (Amplitude truncates it; so does the SDK, with a log line).
ProblemKind = Literal["invalid", "missing", "length", "unknown", "long"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one event, as :func:`check_event` finds it.

    Attributes:
        kind: see :data:`ProblemKind`.
        field: the wire field name (or the unknown key).
        detail: what is wrong and what to do, for an error message; never the value itself.
    """

    kind: ProblemKind
    field: str
    detail: str


#: Kinds that do not make Amplitude refuse an event.
NOT_REFUSED: Final = frozenset(("unknown", "long"))

_TYPE_NAMES: Final[Mapping[type, str]] = {
    str: "a str", int: "an int", float: "a number", bool: "a bool", dict: "a dict",
}  # fmt: skip
_IDS: Final = frozenset(("user_id", "device_id"))
_BLOCKED_DETAIL: Final = "is a value Amplitude refuses as an id (e.g. 'null', '0')"


def _type_ok(value: object, expected: type[object]) -> bool:
    if isinstance(value, bool):  # bool is an int subclass in Python, never a number in JSON
        return expected is bool
    if expected is float:
        return isinstance(value, int | float)
    if expected is dict:
        return isinstance(value, Mapping)
    return isinstance(value, expected)


def _value_problem(name: str, value: Any) -> str | None:
    """Deeper rules for an event field whose JSON type is already right."""
    if name in _PROPERTY_OBJECTS:
        if _too_deep(value, MAX_NESTING_DEPTH - 1):
            return f"nests deeper than {MAX_NESTING_DEPTH} levels"
        allowed = (
            USER_PROPERTY_OPERATIONS
            if name == "user_properties"
            else GROUP_PROPERTY_OPERATIONS
            if name == "group_properties"
            else None
        )
        if allowed is not None:
            problem = _operations_problem(value, allowed)
            if problem is not None and problem.startswith("mixes"):
                return f"mixes operations with plain properties; {SET_RULE}"
            return problem
        return None
    if name == "groups":
        return None if _groups_ok(value) else "must map group types to a str or a list of str"
    if name in _STRING_SUBFIELDS:
        for key in _STRING_SUBFIELDS[name]:
            if value.get(key) is not None and not isinstance(value[key], str):
                return f"{key} must be a str"
    return None


def check_event(
    event: Mapping[str, Any], *, min_id_length: int = DEFAULT_MIN_ID_LENGTH
) -> list[Problem]:
    """Everything wrong with one HTTP V2 / Batch event under its wire field names: the one
    rule set the SDK (before sending), the collector (on receipt) and the CLI apply.

    ``None`` values count as absent, and so do empty ids and an empty ``event_type`` (the
    SDKs omit unset fields; hand-written JSON often sends null or ""). A string field over
    :data:`MAX_STRING_LENGTH` characters is reported as ``long``: Amplitude truncates it and
    so does trackwire's client (the official SDK's behaviour; losing an event to a long URL
    is worse than a truncated value). An event may have several problems; an empty list
    means Amplitude would ingest it.

    Args:
        event: the event object.
        min_id_length: ids shorter than this are a ``length`` problem.
    """
    problems: list[Problem] = []
    fields = EVENT_FIELDS
    for name, value in event.items():
        if value is None:
            continue
        expected = fields.get(name)
        if expected is None:
            problems.append(Problem("unknown", name, "is not an Amplitude HTTP V2 event field"))
            continue
        if value.__class__ is not expected and not _type_ok(value, expected):
            detail = f"must be {_TYPE_NAMES[expected]}, got {type(value).__name__}"
            problems.append(Problem("invalid", name, detail))
            continue
        if expected is str:
            if name in _IDS:
                if value == "":
                    continue
                if value.lower() in BLOCKED_IDS:
                    problems.append(Problem("invalid", name, _BLOCKED_DETAIL))
                    continue
                if len(value) < min_id_length:
                    detail = f"is shorter than min_id_length={min_id_length}"
                    problems.append(Problem("length", name, detail))
                    continue
            if len(value) > MAX_STRING_LENGTH:
                detail = f"is longer than {MAX_STRING_LENGTH} characters (truncated)"
                problems.append(Problem("long", name, detail))
        elif expected is dict:
            if name == "event_properties":  # the common object: its depth is its only rule
                if properties_too_deep(value):
                    detail = f"nests deeper than {MAX_NESTING_DEPTH} levels"
                    problems.append(Problem("invalid", name, detail))
                continue
            found = _value_problem(name, value)
            if found is not None:
                problems.append(Problem("invalid", name, found))
    if not event.get("event_type"):
        problems.append(Problem("missing", "event_type", "is required (the event's name)"))
    if not event.get("user_id") and not event.get("device_id"):
        problems.append(
            Problem(
                "missing",
                "user_id",
                f"an event needs a user_id or a device_id of at least {min_id_length} characters",
            )
        )
    return problems


def truncate_long_strings(event: dict[str, Any], problems: Sequence[Problem]) -> list[str]:
    """Cut every string field :func:`check_event` reported ``long`` to the limit, in place.

    Returns:
        The names of the fields cut (for the log line; never their values).
    """
    cut = [problem.field for problem in problems if problem.kind == "long"]
    for name in cut:
        event[name] = event[name][:MAX_STRING_LENGTH]
    return cut


def cut_long_strings(event: dict[str, Any]) -> list[str]:
    """Cut every top-level string field longer than :data:`MAX_STRING_LENGTH`, in place, as
    Amplitude does on receipt; the collector stores what Amplitude would keep.

    Returns:
        The names of the fields cut.
    """
    cut = [
        name
        for name, value in event.items()
        if value.__class__ is str and len(value) > MAX_STRING_LENGTH and name in EVENT_FIELDS
    ]
    for name in cut:
        event[name] = event[name][:MAX_STRING_LENGTH]
    return cut


#: The lengths of the :data:`BLOCKED_IDS`. An id of any other length is not blocked, whatever
#: its case: ``str.lower`` keeps a string's length but for U+0130, whose lower case (``i`` and a
#: combining dot) is no ASCII id. Most ids are skipped without lower-casing them.
_BLOCKED_LENGTHS: Final = frozenset(map(len, BLOCKED_IDS))
#: The :data:`EVENT_FIELDS` that hold strings: :func:`_clean_event` tests a string's field name
#: against this set (one set lookup instead of a ``get`` call and a comparison).
_STRING_FIELDS: Final = frozenset(name for name, kind in EVENT_FIELDS.items() if kind is str)


def _clean_event(event: Mapping[str, Any], min_length: int) -> bool:
    """Whether :func:`check_event` would certainly find nothing at all in ``event``.

    The collector checks every event it receives: this is the common case written out with
    exact types (decoded JSON has no subclasses) and no problem objects built. False is no
    verdict: the event then takes :func:`check_event`, so the answers are its answers.
    """
    expected = EVENT_FIELDS.get
    longest = MAX_STRING_LENGTH
    strings = _STRING_FIELDS
    for name, value in event.items():
        # Strings first, the most common values. An unknown field (expected None) is no match
        # either; the class is compared apart from value, so the type checker keeps its type.
        # (type() is cheaper than __class__: CPython 3.11 specialises the call.)
        kind = type(value)
        if kind is str:
            if len(value) > longest or name not in strings:
                return False
        elif value is None:
            continue
        elif kind is not expected(name):
            return False
        elif kind is dict:
            if name == "event_properties":
                if _too_deep(value, _PROPERTIES_BUDGET):
                    return False
            elif _value_problem(name, value) is not None:
                return False
    # After the loop each id is None or a string; "" counts as absent.
    get = event.get
    user_id = get("user_id")
    device_id = get("device_id")
    if user_id and (
        len(user_id) < min_length
        or (len(user_id) in _BLOCKED_LENGTHS and user_id.lower() in BLOCKED_IDS)
    ):
        return False
    if device_id and (
        len(device_id) < min_length
        or (len(device_id) in _BLOCKED_LENGTHS and device_id.lower() in BLOCKED_IDS)
    ):
        return False
    return bool(get("event_type")) and bool(user_id or device_id)


def _request_error(
    body: object, endpoint: str, payload_size_bytes: int | None
) -> UploadError | int:
    """The request-level problem, or the minimum id length to use for the events."""
    if payload_size_bytes is not None and payload_size_bytes > MAX_REQUEST_BYTES[endpoint]:
        limit = MAX_REQUEST_BYTES[endpoint]
        return UploadError(413, TOO_LARGE_ERROR, f"request body is larger than {limit} bytes")
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
            413,
            TOO_LARGE_ERROR,
            f"{len(events)} events; at most {MAX_EVENTS_PER_REQUEST} per request",
        )
    # Decoded JSON holds exact dicts: one pass in C tells the common case.
    if set(map(type, events)) != {dict}:
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
    events = body["events"]
    # Nearly every event is clean: one pass finds the others, which take check_event.
    clean = _clean_event
    others = [index for index, event in enumerate(events) if not clean(event, verdict)]
    invalid: list[int] = []
    long: list[int] = []
    for index in others:
        refused = False
        for problem in check_event(events[index], min_id_length=verdict):
            kind = problem.kind
            if kind == "long":
                if not long or long[-1] != index:
                    long.append(index)
            elif kind not in NOT_REFUSED:
                refused = True
                indices = groups[kind].setdefault(problem.field, [])
                if not indices or indices[-1] != index:
                    indices.append(index)
        if refused:
            invalid.append(index)
    if invalid:
        refused_set = set(invalid)
        valid = [index for index in range(len(events)) if index not in refused_set]
    else:
        valid = list(range(len(events)))
    return UploadCheck(
        events_with_invalid_fields=groups["invalid"],
        events_with_missing_fields=groups["missing"],
        events_with_invalid_id_lengths=groups["length"],
        valid_indices=valid,
        invalid_indices=invalid,
        long_indices=long,
        min_id_length=verdict,
    )
