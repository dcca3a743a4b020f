"""Parameters of the Dashboard REST charts beyond segmentation: funnels, retention, active and
new users, revenue LTV; built by the client, read back by the collector, checked in one place.

Each ``*_params`` function checks what a caller passes and returns a frozen dataclass whose
``query()`` is the query string; each ``parse_*_query`` reads that query string back (the
collector side). Documented parameters and defaults as Amplitude's Dashboard REST API gives
them; where its pages contradict themselves the choice is written beside the code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import orjson

from trackwire.amplitude.query import params as p
from trackwire.errors import ValidationError

__all__ = [
    "FUNNEL_MODES",
    "LTV_METRICS",
    "MAX_FUNNEL_STEPS",
    "RETENTION_MODES",
    "FunnelParams",
    "LtvParams",
    "RetentionParams",
    "UsersParams",
    "funnel_params",
    "ltv_params",
    "parse_funnel_query",
    "parse_ltv_query",
    "parse_retention_query",
    "parse_users_query",
    "retention_params",
    "users_params",
]

#: ``mode`` of a funnel: ``ordered`` (default), ``unordered``, ``sequential``.
FUNNEL_MODES: Final = ("ordered", "unordered", "sequential")
#: Most steps one funnel may have (Amplitude documents no number).
MAX_FUNNEL_STEPS: Final = 10
#: Default conversion window: 30 days, in seconds.
DEFAULT_CONVERSION_S: Final = 2_592_000
#: Longest conversion window accepted: a year and a day.
MAX_CONVERSION_S: Final = 366 * 86_400
#: ``rm`` of retention.
RETENTION_MODES: Final = ("n-day", "rolling", "bracket")
#: ``m`` of revenue LTV, by number: ARPU, ARPPU, total revenue, paying users.
LTV_METRICS: Final = {0: "arpu", 1: "arppu", 2: "total", 3: "paying"}
#: Intervals these charts take (no real-time or hourly option is documented for them).
_DAY_INTERVALS: Final = {"daily": 1, "weekly": 7, "monthly": 30, "1": 1, "7": 7, "30": 30}


def _interval(value: int | str) -> int:
    key = str(value)
    if key not in _DAY_INTERVALS:
        raise ValidationError("i", f"expected 1 (daily), 7 (weekly) or 30 (monthly), got {value!r}")
    return _DAY_INTERVALS[key]


def _days(start: date | datetime | str, end: date | datetime | str) -> tuple[date, date]:
    first = p.parse_day(p.day_param(start, "start"), "start")
    last = p.parse_day(p.day_param(end, "end"), "end")
    if last < first:
        raise ValidationError("end", f"{last} is before start {first}")
    return first, last


def _segments(segments: Any) -> tuple[dict[str, Any], ...]:
    checked = p.segmentation_params("_all", "20260101", "20260101", segments=segments).segments
    return tuple(dict(entry) for entry in checked)


def _event(event: str | Mapping[str, Any], name: str) -> dict[str, Any]:
    checked = p.segmentation_params(
        event if not isinstance(event, Mapping) else {**event, "group_by": []},
        "20260101",
        "20260101",
    ).event
    if isinstance(event, Mapping) and event.get("group_by"):
        raise ValidationError(f"{name}.group_by", "group with g (one user property) here")
    return dict(checked)


def _group(group_by: str | None) -> str | None:
    if group_by is None or group_by == "":
        return None
    return p.check_name(group_by, "g")


def _common_query(
    start: date, end: date, interval: int, segments: Sequence[Mapping[str, Any]], group: str | None
) -> dict[str, str]:
    query = {"start": start.strftime("%Y%m%d"), "end": end.strftime("%Y%m%d"), "i": str(interval)}
    if segments:
        query["s"] = orjson.dumps(list(segments)).decode()
    if group is not None:
        query["g"] = group
    return query


def _json(query: Mapping[str, str], name: str, default: Any) -> Any:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(name, f"not valid JSON: {exc}") from None


def _required(query: Mapping[str, str], *names: str) -> None:
    for name in names:
        if not query.get(name):
            raise ValidationError(name, "required")


# --- funnels ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FunnelParams:
    """A funnel: ``events`` (one ``e`` per step, in order), the range, ``mode``, ``new_users``
    (``n=new``), the conversion window in seconds, interval, segments, group-by, limit."""

    events: tuple[Mapping[str, Any], ...]
    start: date
    end: date
    mode: str = "ordered"
    new_users: bool = False
    conversion_s: int = DEFAULT_CONVERSION_S
    interval: int = 1
    segments: tuple[Mapping[str, Any], ...] = ()
    group_by: str | None = None
    limit: int = 100

    def query(self) -> list[tuple[str, str]]:
        """The query string as pairs: ``e`` repeats, once per step."""
        pairs = [("e", orjson.dumps(e).decode()) for e in self.events]
        common = _common_query(self.start, self.end, self.interval, self.segments, self.group_by)
        pairs += list(common.items())
        pairs += [
            ("mode", self.mode),
            ("n", "new" if self.new_users else "active"),
            ("cs", str(self.conversion_s)),
            ("limit", str(self.limit)),
        ]
        return pairs


def funnel_params(
    events: Sequence[str | Mapping[str, Any]],
    start: date | datetime | str,
    end: date | datetime | str,
    *,
    mode: str = "ordered",
    new_users: bool = False,
    conversion_window_s: int = DEFAULT_CONVERSION_S,
    interval: int | str = "daily",
    segments: Sequence[Mapping[str, Any]] = (),
    group_by: str | None = None,
    limit: int = 100,
) -> FunnelParams:
    """Check and build a funnel query.

    Args:
        events: the steps in order, event types or ``e`` objects (with ``filters``); 2 to
            :data:`MAX_FUNNEL_STEPS`.
        mode: ``ordered`` (other events may come between steps) or ``unordered``.
            ``sequential`` is accepted here and refused by the collector.
        new_users: count only users new in the range (``n=new``).
        conversion_window_s: ``cs``, seconds from the first step to the last.
        group_by: ``g``, one property (``"country"``, ``"gp:plan"``).

    Raises:
        ValidationError: a parameter is invalid; the field names it.
    """
    if isinstance(events, str | Mapping) or not isinstance(events, Sequence):
        raise ValidationError("e", "expected a list of steps")
    if not 1 <= len(events) <= MAX_FUNNEL_STEPS:
        raise ValidationError("e", f"expected 1 to {MAX_FUNNEL_STEPS} steps, got {len(events)}")
    steps = tuple(_event(e, f"e[{i}]") for i, e in enumerate(events))
    first, last = _days(start, end)
    if mode not in FUNNEL_MODES:
        raise ValidationError("mode", f"expected one of {', '.join(FUNNEL_MODES)}, got {mode!r}")
    window = conversion_window_s
    if (
        isinstance(window, bool)
        or not isinstance(window, int)
        or not 1 <= window <= MAX_CONVERSION_S
    ):
        raise ValidationError("cs", f"expected 1 to {MAX_CONVERSION_S} seconds, got {window!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ValidationError("limit", f"expected 1 to 1000, got {limit!r}")
    return FunnelParams(
        steps, first, last, mode, bool(new_users), window, _interval(interval),
        _segments(segments), _group(group_by), limit,
    )  # fmt: skip


def parse_funnel_query(query: Mapping[str, str], events: Sequence[str]) -> FunnelParams:
    """Read ``/api/2/funnels``: ``events`` are the ``e`` values in order (``e`` repeats).

    Raises:
        ValidationError: a parameter is missing or invalid; the field names it.
    """
    if not events:
        raise ValidationError("e", "required: one e per step, in order")
    if len(events) > MAX_FUNNEL_STEPS:
        raise ValidationError("e", f"expected 1 to {MAX_FUNNEL_STEPS} steps, got {len(events)}")
    steps = [_json({"e": text}, "e", None) for text in events]
    _required(query, "start", "end")
    n = query.get("n") or "active"
    if n not in ("active", "new"):
        raise ValidationError("n", f"expected active or new, got {n!r}")
    return funnel_params(
        steps,
        query["start"],
        query["end"],
        mode=query.get("mode") or "ordered",
        new_users=n == "new",
        conversion_window_s=p.query_int(query, "cs", DEFAULT_CONVERSION_S, 1, MAX_CONVERSION_S),
        interval=query.get("i") or "1",
        segments=_json(query, "s", []),
        group_by=query.get("g") or None,
        limit=p.query_int(query, "limit", 100, 1, 1000),
    )


# --- retention ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetentionParams:
    """Retention: start event, return event, range, mode, brackets, interval, segments, group."""

    start_event: Mapping[str, Any]
    return_event: Mapping[str, Any]
    start: date
    end: date
    mode: str = "n-day"
    brackets: tuple[tuple[int, int], ...] = ()
    interval: int = 1
    segments: tuple[Mapping[str, Any], ...] = ()
    group_by: str | None = None

    def query(self) -> list[tuple[str, str]]:
        """The query string as pairs."""
        pairs = [
            ("se", orjson.dumps(self.start_event).decode()),
            ("re", orjson.dumps(self.return_event).decode()),
            *_common_query(
                self.start, self.end, self.interval, self.segments, self.group_by
            ).items(),
            ("rm", self.mode),
        ]
        if self.brackets:
            pairs.append(("rb", orjson.dumps([list(b) for b in self.brackets]).decode()))
        return pairs


def _brackets(value: Any) -> tuple[tuple[int, int], ...]:
    """``rb``: ``[[from, to], ...]`` with ``to`` exclusive (Amplitude sends "Day 0 - Day 4" as
    ``[[0,5]]``); a single ``[from, to]`` is accepted too (older copies of the docs)."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        value = [value]
    if not isinstance(value, list) or not value or len(value) > 20:
        raise ValidationError("rb", "expected 1 to 20 brackets like [[0,5],[5,10]]")
    out = []
    for index, pair in enumerate(value):
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
            or not 0 <= pair[0] < pair[1] <= 1000
        ):
            raise ValidationError(f"rb[{index}]", "expected [from, to] with 0 <= from < to <= 1000")
        out.append((pair[0], pair[1]))
    return tuple(out)


def retention_params(
    start_event: str | Mapping[str, Any],
    return_event: str | Mapping[str, Any],
    start: date | datetime | str,
    end: date | datetime | str,
    *,
    mode: str = "n-day",
    brackets: Any = None,
    interval: int | str = "daily",
    segments: Sequence[Mapping[str, Any]] = (),
    group_by: str | None = None,
) -> RetentionParams:
    """Check and build a retention query.

    Args:
        start_event: ``se``: the event that puts a user in a cohort (``"_new"``: new users,
            ``"_active"``: any active user).
        return_event: ``re``: the event that counts as coming back (``"_active"``/``"_all"``:
            any event).
        mode: ``n-day`` (back on exactly interval N), ``rolling`` (on N or later), ``bracket``.
        brackets: with ``bracket``: ``[[from, to], ...]`` intervals, ``to`` exclusive.

    Raises:
        ValidationError: a parameter is invalid; the field names it.
    """
    first, last = _days(start, end)
    if mode not in RETENTION_MODES:
        raise ValidationError("rm", f"expected one of {', '.join(RETENTION_MODES)}, got {mode!r}")
    checked_brackets: tuple[tuple[int, int], ...] = ()
    if mode == "bracket":
        if brackets is None:
            raise ValidationError("rb", "required with rm=bracket, like [[0,5],[5,10]]")
        checked_brackets = _brackets(brackets)
    if first < date(1970, 1, 1) or last.year > 9000:
        raise ValidationError("start", "the range must lie between 1970 and 9000")
    return RetentionParams(
        _event(start_event, "se"), _event(return_event, "re"), first, last, mode,
        checked_brackets, _interval(interval), _segments(segments), _group(group_by),
    )  # fmt: skip


def parse_retention_query(query: Mapping[str, str]) -> RetentionParams:
    """Read ``/api/2/retention``.

    Raises:
        ValidationError: a parameter is missing or invalid; the field names it.
    """
    _required(query, "se", "re", "start", "end")
    return retention_params(
        _json(query, "se", None),
        _json(query, "re", None),
        query["start"],
        query["end"],
        mode=query.get("rm") or "n-day",
        brackets=_json(query, "rb", None),
        interval=query.get("i") or "1",
        segments=_json(query, "s", []),
        group_by=query.get("g") or None,
    )


# --- active and new users -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsersParams:
    """Active or new user counts: range, ``m`` (``active``/``new``), interval, segments, group."""

    start: date
    end: date
    metric: str = "active"
    interval: int = 1
    segments: tuple[Mapping[str, Any], ...] = ()
    group_by: str | None = None

    def query(self) -> list[tuple[str, str]]:
        """The query string as pairs."""
        common = _common_query(self.start, self.end, self.interval, self.segments, self.group_by)
        return [*common.items(), ("m", self.metric)]


def users_params(
    start: date | datetime | str,
    end: date | datetime | str,
    *,
    metric: str = "active",
    interval: int | str = "daily",
    segments: Sequence[Mapping[str, Any]] = (),
    group_by: str | None = None,
) -> UsersParams:
    """Check and build an active/new users query (``metric`` ``active`` or ``new``).

    Raises:
        ValidationError: a parameter is invalid; the field names it.
    """
    first, last = _days(start, end)
    if metric not in ("active", "new"):
        raise ValidationError("m", f"expected active or new, got {metric!r}")
    return UsersParams(
        first, last, metric, _interval(interval), _segments(segments), _group(group_by)
    )


def parse_users_query(query: Mapping[str, str]) -> UsersParams:
    """Read ``/api/2/users``.

    Raises:
        ValidationError: a parameter is missing or invalid; the field names it.
    """
    _required(query, "start", "end")
    return users_params(
        query["start"],
        query["end"],
        metric=query.get("m") or "active",
        interval=query.get("i") or "1",
        segments=_json(query, "s", []),
        group_by=query.get("g") or None,
    )


# --- revenue LTV --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LtvParams:
    """Revenue LTV of new users: range, ``m`` (0 ARPU, 1 ARPPU, 2 total, 3 paying users),
    interval, segments, group."""

    start: date
    end: date
    metric: int = 0
    interval: int = 1
    segments: tuple[Mapping[str, Any], ...] = ()
    group_by: str | None = None

    def query(self) -> list[tuple[str, str]]:
        """The query string as pairs."""
        common = _common_query(self.start, self.end, self.interval, self.segments, self.group_by)
        return [*common.items(), ("m", str(self.metric))]


def ltv_params(
    start: date | datetime | str,
    end: date | datetime | str,
    *,
    metric: int | str = 0,
    interval: int | str = "daily",
    segments: Sequence[Mapping[str, Any]] = (),
    group_by: str | None = None,
) -> LtvParams:
    """Check and build a revenue LTV query. ``metric``: 0 or ``"arpu"`` (default), 1 or
    ``"arppu"`` (per paying user), 2 or ``"total"``, 3 or ``"paying"``.

    Raises:
        ValidationError: a parameter is invalid; the field names it.
    """
    first, last = _days(start, end)
    names = {name: number for number, name in LTV_METRICS.items()}
    number = names.get(metric) if isinstance(metric, str) and metric in names else None
    if number is None:
        text = str(metric)
        number = int(text) if text in ("0", "1", "2", "3") and not isinstance(metric, bool) else -1
    if number not in LTV_METRICS:
        raise ValidationError("m", f"expected 0 (ARPU), 1 (ARPPU), 2 (total) or 3, got {metric!r}")
    return LtvParams(
        first, last, number, _interval(interval), _segments(segments), _group(group_by)
    )


def parse_ltv_query(query: Mapping[str, str]) -> LtvParams:
    """Read ``/api/2/revenue/ltv``.

    Raises:
        ValidationError: a parameter is missing or invalid; the field names it.
    """
    _required(query, "start", "end")
    return ltv_params(
        query["start"],
        query["end"],
        metric=query.get("m") or "0",
        interval=query.get("i") or "1",
        segments=_json(query, "s", []),
        group_by=query.get("g") or None,
    )
