"""Parameters of Amplitude's Dashboard REST and Export APIs, built and checked in one place.

Pure functions shared by the query client (which builds a request's query string) and the
collector (which reads the same parameters back). Times are UTC: the Export API documents UTC,
and the collector answers every dashboard query in UTC too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final

import orjson

from trackwire.errors import ValidationError

__all__ = [
    "INTERVALS",
    "INTERVAL_NAMES",
    "MAX_FILTERS",
    "MAX_NAME",
    "MAX_ROLLING",
    "MAX_SEGMENTS",
    "MAX_VALUES",
    "METRICS",
    "OPERATORS",
    "USER_TYPES",
    "SegmentationParams",
    "check_name",
    "day_param",
    "hour_param",
    "hours",
    "parse_day",
    "parse_hour",
    "parse_segmentation_query",
    "query_int",
    "segmentation_params",
]

# ASCII digits only: "\d" would take full-width and other scripts' digits too.
_HOUR: Final = re.compile(r"^([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})$")
_DAY: Final = re.compile(r"^([0-9]{4})([0-9]{2})([0-9]{2})$")

#: Most filters one event may carry (``e.filters``). Amplitude documents no number; each
#: filter adds work to every row a query reads, so a request asking for more is refused.
MAX_FILTERS: Final = 25
#: Most segments (``s``) per request.
MAX_SEGMENTS: Final = 10
#: Most values one filter or segment may list.
MAX_VALUES: Final = 100
#: Longest property name, in characters.
MAX_NAME: Final = 1024
#: Most periods ``rollingWindow``/``rollingAverage`` may span.
MAX_ROLLING: Final = 90
#: The ``n`` values of event segmentation (the users counted: any user, or active users; for
#: an event's own users the two are the same people). ``new`` is not documented for it.
USER_TYPES: Final = frozenset({"any", "active"})

#: Amplitude's ``i`` values by name; the value is what goes on the wire.
INTERVALS: Final[Mapping[str, int]] = {
    "realtime": -300000,
    "hourly": -3600000,
    "daily": 1,
    "weekly": 7,
    "monthly": 30,
}
#: The name of each ``i`` value.
INTERVAL_NAMES: Final[Mapping[int, str]] = {value: name for name, value in INTERVALS.items()}
#: The ``m`` values (metrics) Amplitude documents for event segmentation.
METRICS: Final = frozenset(
    {"uniques", "totals", "pct_dau", "average", "histogram", "sums", "value_avg", "formula"}
)
#: The filter and segment operators Amplitude documents.
OPERATORS: Final = frozenset(
    {
        "is",
        "is not",
        "contains",
        "does not contain",
        "less",
        "less or equal",
        "greater",
        "greater or equal",
        "set is",
        "set is not",
    }
)


def _utc(value: datetime) -> datetime:
    # A naive datetime is taken as UTC, the time zone both APIs answer in.
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def hour_param(value: datetime | str, field: str = "start") -> str:
    """The ``YYYYMMDDTHH`` text of an export bound (UTC).

    Args:
        value: an aware datetime (converted to UTC), a naive one (taken as UTC), or the text.
        field: the parameter name, for errors.

    Raises:
        ValidationError: the text is not a valid ``YYYYMMDDTHH`` hour.
    """
    if isinstance(value, datetime):
        return _utc(value).strftime("%Y%m%dT%H")
    parse_hour(value, field)
    return value


def parse_hour(text: str, field: str = "start") -> datetime:
    """The UTC datetime of a ``YYYYMMDDTHH`` text.

    Raises:
        ValidationError: the text is not a valid hour.
    """
    match = _HOUR.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValidationError(field, f"expected YYYYMMDDTHH (like 20260131T05), got {text!r}")
    year, month, day, hour = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, tzinfo=timezone.utc)
    except ValueError as exc:
        raise ValidationError(field, f"{text!r} is not a real hour: {exc}") from None


def day_param(value: date | datetime | str, field: str = "start") -> str:
    """The ``YYYYMMDD`` text of a segmentation bound (UTC for datetimes).

    Raises:
        ValidationError: the text is not a valid ``YYYYMMDD`` day.
    """
    if isinstance(value, datetime):
        return _utc(value).strftime("%Y%m%d")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    parse_day(value, field)
    return value


def parse_day(text: str, field: str = "start") -> date:
    """The date of a ``YYYYMMDD`` text.

    Raises:
        ValidationError: the text is not a valid day.
    """
    match = _DAY.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValidationError(field, f"expected YYYYMMDD (like 20260131), got {text!r}")
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError as exc:
        raise ValidationError(field, f"{text!r} is not a real day: {exc}") from None


@dataclass(frozen=True, slots=True)
class SegmentationParams:
    """An event segmentation query, as both sides understand it.

    Attributes:
        event: the ``e`` object: ``event_type``, optional ``filters`` and ``group_by``.
        start: first day (inclusive).
        end: last day (inclusive).
        metric: the ``m`` value.
        interval: the ``i`` value (see :data:`INTERVALS`).
        group_by: the ``g`` user property, if any.
        segments: the ``s`` segment filters (``{"prop", "op", "values"}`` each).
        limit: at most this many groups.
        event2: the ``e2`` object: a second event, answered as its own series.
        user_type: the ``n`` value (``any`` or ``active``).
        rolling_window: ``rollingWindow``: each value covers this many periods up to its own.
        rolling_average: ``rollingAverage``: each value is the mean of this many periods.
    """

    event: Mapping[str, Any]
    start: date
    end: date
    metric: str = "uniques"
    interval: int = 1
    group_by: str | None = None
    segments: Sequence[Mapping[str, Any]] = ()
    limit: int = 100
    event2: Mapping[str, Any] | None = None
    user_type: str = "any"
    rolling_window: int | None = None
    rolling_average: int | None = None

    def query(self) -> dict[str, str]:
        """The query-string parameters (JSON values encoded), in a stable order."""
        params = {
            "e": orjson.dumps(self.event).decode(),
            "start": self.start.strftime("%Y%m%d"),
            "end": self.end.strftime("%Y%m%d"),
            "m": self.metric,
            "i": str(self.interval),
        }
        if self.group_by is not None:
            params["g"] = self.group_by
        if self.segments:
            params["s"] = orjson.dumps(list(self.segments)).decode()
        params["limit"] = str(self.limit)
        if self.event2 is not None:
            params["e2"] = orjson.dumps(self.event2).decode()
        if self.user_type != "any":
            params["n"] = self.user_type
        if self.rolling_window is not None:
            params["rollingWindow"] = str(self.rolling_window)
        if self.rolling_average is not None:
            params["rollingAverage"] = str(self.rolling_average)
        return params

    @property
    def days(self) -> int:
        """How many days the range covers."""
        return (self.end - self.start).days + 1

    @property
    def event_group_by(self) -> Mapping[str, Any] | None:
        """The ``e.group_by`` entry, if any (its first; Amplitude allows two)."""
        groups = self.event.get("group_by")
        if isinstance(groups, list) and groups:
            first = groups[0]
            return first if isinstance(first, Mapping) else None
        return None


def check_name(name: Any, where: str) -> str:
    """A property name: non-empty text without control characters, at most :data:`MAX_NAME`.

    Raises:
        ValidationError: the name is not usable; ``where`` names the parameter.
    """
    if not isinstance(name, str) or not name:
        raise ValidationError(where, "expected a property name")
    if len(name) > MAX_NAME:
        raise ValidationError(where, f"a property name has at most {MAX_NAME} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise ValidationError(where, "a property name cannot hold control characters (U+0000...)")
    return name


def _check_filter(entry: Any, where: str, keys: tuple[str, str, str]) -> dict[str, Any]:
    prop, op, values = keys
    if not isinstance(entry, Mapping):
        raise ValidationError(where, "expected an object")
    check_name(entry.get(prop), f"{where}.{prop}")
    if entry.get(op) not in OPERATORS:
        raise ValidationError(
            f"{where}.{op}",
            f"expected one of {', '.join(sorted(OPERATORS))}; got {entry.get(op)!r}",
        )
    listed = entry.get(values)
    if not isinstance(listed, list):
        raise ValidationError(f"{where}.{values}", "expected a list of values")
    if len(listed) > MAX_VALUES:
        raise ValidationError(
            f"{where}.{values}", f"at most {MAX_VALUES} values per filter, got {len(listed)}"
        )
    for index, value in enumerate(listed):
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValidationError(
                f"{where}.{values}[{index}]", "expected text, a number or a boolean"
            )
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError(f"{where}.{values}[{index}]", "a value cannot hold U+0000")
    return dict(entry)


def _check_event(event: Any, name: str = "e") -> dict[str, Any]:
    if isinstance(event, str):
        event = {"event_type": event}
    if not isinstance(event, Mapping):
        raise ValidationError(name, 'expected an event type or an object like {"event_type": ...}')
    event_type = event.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise ValidationError(f"{name}.event_type", "expected the event type (a non-empty string)")
    check_name(event_type, f"{name}.event_type")
    checked = dict(event)
    filters = event.get("filters", [])
    if not isinstance(filters, list):
        raise ValidationError(f"{name}.filters", "expected a list")
    if len(filters) > MAX_FILTERS:
        raise ValidationError(
            f"{name}.filters", f"at most {MAX_FILTERS} filters per event, got {len(filters)}"
        )
    for index, entry in enumerate(filters):
        checked_entry = _check_filter(
            entry, f"{name}.filters[{index}]", ("subprop_key", "subprop_op", "subprop_value")
        )
        if checked_entry.get("subprop_type", "event") not in ("event", "user"):
            raise ValidationError(
                f"{name}.filters[{index}].subprop_type", 'expected "event" or "user"'
            )
    groups = event.get("group_by", [])
    if not isinstance(groups, list) or len(groups) > 1:
        raise ValidationError(f"{name}.group_by", "expected a list of at most one group-by")
    for index, group in enumerate(groups):
        if not isinstance(group, Mapping) or group.get("type") not in ("event", "user"):
            raise ValidationError(
                f"{name}.group_by[{index}]",
                'expected {"type": "event"|"user", "value": "<property>"}',
            )
        check_name(group.get("value"), f"{name}.group_by[{index}].value")
    return checked


def _interval(value: int | str) -> int:
    if isinstance(value, str):
        if value in INTERVALS:
            return INTERVALS[value]
        try:
            value = int(value)
        except ValueError:
            value = 0
    if isinstance(value, int) and not isinstance(value, bool) and value in INTERVAL_NAMES:
        return value
    raise ValidationError(
        "i", f"expected one of {', '.join(INTERVALS)} (or {sorted(INTERVAL_NAMES)}); got {value!r}"
    )


def _rolling(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit() or len(value) > 6:
            raise ValidationError(field, f"expected 1 to {MAX_ROLLING} periods, got {value!r}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROLLING:
        raise ValidationError(field, f"expected 1 to {MAX_ROLLING} periods, got {value!r}")
    return value


def segmentation_params(
    event: str | Mapping[str, Any],
    start: date | datetime | str,
    end: date | datetime | str,
    *,
    metric: str = "uniques",
    interval: int | str = "daily",
    group_by: str | Mapping[str, Any] | None = None,
    segments: Sequence[Mapping[str, Any]] = (),
    limit: int = 100,
    event2: str | Mapping[str, Any] | None = None,
    user_type: str = "any",
    rolling_window: int | None = None,
    rolling_average: int | None = None,
) -> SegmentationParams:
    """Check and build an event segmentation query.

    Args:
        event: an event type (``"Song Played"``, ``"_all"``, ``"_active"``) or the whole ``e``
            object with ``filters`` and ``group_by``.
        start: first day, a date/datetime or ``YYYYMMDD``.
        end: last day, inclusive.
        metric: ``uniques``, ``totals``, ``average``, ``pct_dau``, ``sums``, ``value_avg``, ...
        interval: ``"hourly"``, ``"daily"``, ``"weekly"``, ``"monthly"``, ``"realtime"``, or the
            number Amplitude uses.
        group_by: a user property for ``g`` (``"country"``, ``"gp:plan"``), or
            ``{"type": "event"|"user", "value": name}`` to put in the event's ``group_by``.
        segments: segment filters, ``{"prop": ..., "op": ..., "values": [...]}`` each (at most
            :data:`MAX_SEGMENTS`).
        limit: at most this many groups (1 to 1000).
        event2: ``e2``, a second event (type or object), answered as a second series.
        user_type: ``n``: ``"any"`` (default) or ``"active"``.
        rolling_window: ``rollingWindow``: each value covers this many periods, ending with its
            own (1 to :data:`MAX_ROLLING`).
        rolling_average: ``rollingAverage``: each value is the mean over this many periods.

    Raises:
        ValidationError: a parameter is invalid; the field names it.
    """
    checked = _check_event(event)
    if isinstance(group_by, Mapping):
        if checked.get("group_by"):
            raise ValidationError("group_by", "the event already has a group_by; give one only")
        checked["group_by"] = [dict(group_by)]
        checked = _check_event(checked)
        group_by = None
    elif group_by is not None:
        check_name(group_by, "g")
    second = None if event2 is None else _check_event(event2, "e2")
    if metric not in METRICS:
        raise ValidationError("m", f"expected one of {', '.join(sorted(METRICS))}; got {metric!r}")
    first = parse_day(day_param(start, "start"), "start")
    last = parse_day(day_param(end, "end"), "end")
    if last < first:
        raise ValidationError("end", f"{last} is before start {first}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ValidationError("limit", f"expected 1 to 1000, got {limit!r}")
    if not isinstance(segments, Sequence) or isinstance(segments, str | bytes):
        raise ValidationError("s", "expected a list of segments")
    if len(segments) > MAX_SEGMENTS:
        raise ValidationError("s", f"at most {MAX_SEGMENTS} segments, got {len(segments)}")
    checked_segments = [
        _check_filter(entry, f"s[{index}]", ("prop", "op", "values"))
        for index, entry in enumerate(segments)
    ]
    if user_type not in USER_TYPES:
        raise ValidationError(
            "n",
            f"expected any or active (new is not documented for segmentation), got {user_type!r}",
        )
    window = _rolling(rolling_window, "rollingWindow")
    average = _rolling(rolling_average, "rollingAverage")
    if window is not None and average is not None:
        raise ValidationError("rollingAverage", "give rollingWindow or rollingAverage, not both")
    return SegmentationParams(
        event=checked,
        start=first,
        end=last,
        metric=metric,
        interval=_interval(interval),
        group_by=group_by,
        segments=tuple(checked_segments),
        limit=limit,
        event2=second,
        user_type=user_type,
        rolling_window=window,
        rolling_average=average,
    )


def parse_segmentation_query(query: Mapping[str, str]) -> SegmentationParams:
    """Read the query-string parameters of ``/api/2/events/segmentation`` (the collector side).

    Raises:
        ValidationError: a parameter is missing or invalid; the field names it.
    """
    if "e" not in query:
        raise ValidationError("e", "required: the event, as JSON")
    if query.get("g2"):
        # Answering as if it were absent would be a plausible wrong answer.
        raise ValidationError("g2", "the collector groups by one property: give g only")
    event = _json_param(query["e"], "e")
    event2 = _json_param(query["e2"], "e2") if query.get("e2") else None
    segments = _json_param(query["s"], "s") if "s" in query else []
    if not isinstance(segments, list):
        raise ValidationError("s", "expected a JSON list of segments")
    for field in ("start", "end"):
        if field not in query:
            raise ValidationError(field, "required: YYYYMMDD")
    return segmentation_params(
        event,
        query["start"],
        query["end"],
        metric=query.get("m", "uniques"),
        interval=query.get("i", "1"),
        group_by=query.get("g") or None,
        segments=segments,
        limit=query_int(query, "limit", 100, 1, 1000),
        event2=event2,
        user_type=query.get("n") or "any",
        rolling_window=_rolling(query.get("rollingWindow"), "rollingWindow"),
        rolling_average=_rolling(query.get("rollingAverage"), "rollingAverage"),
    )


def query_int(query: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int:
    """A whole-number query parameter in ``[low, high]`` (ASCII digits, at most 18 of them:
    anything longer cannot be in range and is never converted).

    Raises:
        ValidationError: not a whole number, or out of range; names the parameter.
    """
    text = query.get(name)
    if text is None or text == "":
        return default
    digits = text[1:] if text.startswith("-") else text
    if not digits.isascii() or not digits.isdigit():
        raise ValidationError(name, f"expected a whole number, got {text[:40]!r}")
    bounds = f"{low} to {high}" if high is not None else f"{low} or more"
    if len(digits) > 18:
        raise ValidationError(name, f"expected {bounds}, got a {len(digits)}-digit number")
    value = int(text)
    if value < low or (high is not None and value > high):
        raise ValidationError(name, f"expected {bounds}, got {value}")
    return value


def _json_param(text: str, field: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(field, f"not valid JSON: {exc}") from None


def hours(start: datetime, end: datetime) -> list[datetime]:
    """Every hour from ``start`` to ``end``, both included."""
    count = int((end - start) / timedelta(hours=1)) + 1
    return [start + timedelta(hours=n) for n in range(max(count, 0))]
