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
    "METRICS",
    "OPERATORS",
    "SegmentationParams",
    "day_param",
    "hour_param",
    "hours",
    "parse_day",
    "parse_hour",
    "parse_segmentation_query",
    "segmentation_params",
]

_HOUR: Final = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})$")
_DAY: Final = re.compile(r"^(\d{4})(\d{2})(\d{2})$")

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
    """

    event: Mapping[str, Any]
    start: date
    end: date
    metric: str = "uniques"
    interval: int = 1
    group_by: str | None = None
    segments: Sequence[Mapping[str, Any]] = ()
    limit: int = 100

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


def _check_filter(entry: Any, where: str, keys: tuple[str, str, str]) -> dict[str, Any]:
    prop, op, values = keys
    if not isinstance(entry, Mapping):
        raise ValidationError(where, "expected an object")
    if not isinstance(entry.get(prop), str) or not entry[prop]:
        raise ValidationError(f"{where}.{prop}", "expected a property name")
    if entry.get(op) not in OPERATORS:
        raise ValidationError(
            f"{where}.{op}",
            f"expected one of {', '.join(sorted(OPERATORS))}; got {entry.get(op)!r}",
        )
    if not isinstance(entry.get(values), list):
        raise ValidationError(f"{where}.{values}", "expected a list of values")
    return dict(entry)


def _check_event(event: Any) -> dict[str, Any]:
    if isinstance(event, str):
        event = {"event_type": event}
    if not isinstance(event, Mapping):
        raise ValidationError("e", 'expected an event type or an object like {"event_type": ...}')
    if not isinstance(event.get("event_type"), str) or not event["event_type"]:
        raise ValidationError("e.event_type", "expected the event type (a non-empty string)")
    checked = dict(event)
    filters = event.get("filters", [])
    if not isinstance(filters, list):
        raise ValidationError("e.filters", "expected a list")
    for index, entry in enumerate(filters):
        checked_entry = _check_filter(
            entry, f"e.filters[{index}]", ("subprop_key", "subprop_op", "subprop_value")
        )
        if checked_entry.get("subprop_type", "event") not in ("event", "user"):
            raise ValidationError(f"e.filters[{index}].subprop_type", 'expected "event" or "user"')
    groups = event.get("group_by", [])
    if not isinstance(groups, list) or len(groups) > 1:
        raise ValidationError("e.group_by", "expected a list of at most one group-by")
    for index, group in enumerate(groups):
        if (
            not isinstance(group, Mapping)
            or group.get("type") not in ("event", "user")
            or not isinstance(group.get("value"), str)
            or not group["value"]
        ):
            raise ValidationError(
                f"e.group_by[{index}]", 'expected {"type": "event"|"user", "value": "<property>"}'
            )
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
        segments: segment filters, ``{"prop": ..., "op": ..., "values": [...]}`` each.
        limit: at most this many groups (1 to 1000).

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
    elif group_by is not None and (not isinstance(group_by, str) or not group_by):
        raise ValidationError("group_by", "expected a property name or a group-by object")
    if metric not in METRICS:
        raise ValidationError("m", f"expected one of {', '.join(sorted(METRICS))}; got {metric!r}")
    first = parse_day(day_param(start, "start"), "start")
    last = parse_day(day_param(end, "end"), "end")
    if last < first:
        raise ValidationError("end", f"{last} is before start {first}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ValidationError("limit", f"expected 1 to 1000, got {limit!r}")
    checked_segments = [
        _check_filter(entry, f"s[{index}]", ("prop", "op", "values"))
        for index, entry in enumerate(segments)
    ]
    return SegmentationParams(
        event=checked,
        start=first,
        end=last,
        metric=metric,
        interval=_interval(interval),
        group_by=group_by,
        segments=tuple(checked_segments),
        limit=limit,
    )


def parse_segmentation_query(query: Mapping[str, str]) -> SegmentationParams:
    """Read the query-string parameters of ``/api/2/events/segmentation`` (the collector side).

    Raises:
        ValidationError: a parameter is missing or invalid; the field names it.
    """
    if "e" not in query:
        raise ValidationError("e", "required: the event, as JSON")
    event = _json_param(query["e"], "e")
    segments = _json_param(query["s"], "s") if "s" in query else []
    if not isinstance(segments, list):
        raise ValidationError("s", "expected a JSON list of segments")
    for field in ("start", "end"):
        if field not in query:
            raise ValidationError(field, "required: YYYYMMDD")
    try:
        limit = int(query.get("limit", "100"))
    except ValueError:
        raise ValidationError("limit", f"expected a number, got {query['limit']!r}") from None
    return segmentation_params(
        event,
        query["start"],
        query["end"],
        metric=query.get("m", "uniques"),
        interval=query.get("i", "1"),
        group_by=query.get("g") or None,
        segments=segments,
        limit=limit,
    )


def _json_param(text: str, field: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(field, f"not valid JSON: {exc}") from None


def hours(start: datetime, end: datetime) -> list[datetime]:
    """Every hour from ``start`` to ``end``, both included."""
    count = int((end - start) / timedelta(hours=1)) + 1
    return [start + timedelta(hours=n) for n in range(max(count, 0))]
