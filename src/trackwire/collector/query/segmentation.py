"""Event segmentation, planned and assembled without storage: periods, metrics, the answer.

A store runs the query a :class:`Plan` describes and hands back :class:`Aggregate` rows (per
period and group: events, distinct users, property sum); :func:`answer` turns them into
Amplitude's ``{"data": {...}}``. Everything is UTC: the periods start at UTC midnight, weeks
on Sunday (Amplitude's default), months on the 1st.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final

from trackwire.amplitude.query.params import INTERVAL_NAMES, SegmentationParams
from trackwire.errors import ValidationError

__all__ = [
    "NONE_LABEL",
    "Aggregate",
    "Plan",
    "answer",
    "bucket_of",
    "combine",
    "layout",
    "lead_plan",
    "needs_events",
    "plan",
    "second_plan",
    "window_answer",
]

#: The label of events whose group-by property is not set, as Amplitude shows it.
NONE_LABEL: Final = "(none)"
_DAY_MS: Final = 86_400_000
_HOUR_MS: Final = 3_600_000
#: Metrics computed from one property's values (the event's ``group_by`` names it).
PROPERTY_METRICS: Final = frozenset({"sums", "value_avg"})
#: Metrics that count distinct users.
USER_METRICS: Final = frozenset({"uniques", "average", "pct_dau"})
#: Metrics the collector computes.
SUPPORTED_METRICS: Final = frozenset({"uniques", "totals", "average", "pct_dau"}) | PROPERTY_METRICS
#: Metrics a ``rollingWindow`` adds up over its window from the store's aggregates.
ROLLING_WINDOW_METRICS: Final = frozenset({"totals", "sums", "value_avg"})
#: Metrics whose window needs the distinct users of several periods: computed from the
#: events themselves (:func:`window_answer`). ``pct_dau`` over a window is refused (400).
ROLLING_USER_METRICS: Final = frozenset({"uniques", "average"})
#: Longest range per interval, as Amplitude allows.
_MAX_DAYS: Final = {"hourly": 7, "daily": 365, "weekly": 365 * 2, "monthly": 365 * 3}


@dataclass(frozen=True, slots=True)
class Property:
    """A property a query reads: ``kind`` ``"event"`` or ``"user"``, and its name."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What to compute.

    Attributes:
        params: the checked parameters.
        interval: ``hourly``, ``daily``, ``weekly`` or ``monthly``.
        start_ms: first millisecond of the range (UTC midnight of ``start``).
        end_ms: first millisecond after the range.
        group: the group-by property, if any.
        value: the property summed by ``sums``/``value_avg``.
        buckets: the period keys, in order (see :func:`bucket_of`).
        x_values: their labels.
    """

    params: SegmentationParams
    interval: str
    start_ms: int
    end_ms: int
    group: Property | None
    value: Property | None
    buckets: tuple[int, ...]
    x_values: tuple[str, ...]


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()) * 1000


def bucket_of(interval: str, time_ms: int) -> int:
    """The period key of a time: hours or days since the epoch, Sunday weeks, or months
    (``year * 12 + month - 1``). The SQL of a store computes the same keys."""
    if interval == "hourly":
        return time_ms // _HOUR_MS
    days = time_ms // _DAY_MS
    if interval == "daily":
        return days
    if interval == "weekly":
        # 1970-01-01 was a Thursday; +4 makes each key start on a Sunday.
        return (days + 4) // 7
    when = datetime.fromtimestamp(time_ms / 1000, tz=timezone.utc)
    return when.year * 12 + when.month - 1


def _property(group_by: Mapping[str, Any]) -> Property:
    return Property(str(group_by["type"]), str(group_by["value"]))


def plan(params: SegmentationParams) -> Plan:
    """Check what the collector can answer and lay out the periods.

    Raises:
        ValidationError: a metric, interval or range the collector does not support.
    """
    if params.metric not in SUPPORTED_METRICS:
        raise ValidationError(
            "m",
            f"the collector computes {', '.join(sorted(SUPPORTED_METRICS))}; not {params.metric!r}",
        )
    interval = INTERVAL_NAMES[params.interval]
    if interval == "realtime":
        raise ValidationError("i", "the collector has no real-time interval; use hourly")
    if params.days > _MAX_DAYS[interval]:
        raise ValidationError(
            "end", f"{interval} queries cover at most {_MAX_DAYS[interval]} days, not {params.days}"
        )
    if params.start.year < 1970 or params.end.year > 9000:
        raise ValidationError("start", "the range must lie between 1970 and 9000")
    rolled = ROLLING_WINDOW_METRICS | ROLLING_USER_METRICS
    if params.rolling_window is not None and params.metric not in rolled:
        raise ValidationError(
            "rollingWindow",
            f"the collector rolls {', '.join(sorted(rolled))} over a window, not "
            f"{params.metric}; use rollingAverage instead",
        )
    if params.event2 is not None:
        try:
            layout(replace(params, event=params.event2, event2=None), interval)
        except ValidationError as exc:
            raise ValidationError("e2", str(exc)) from None
    return layout(params, interval)


def layout(params: SegmentationParams, interval: str) -> Plan:
    """The plan of checked parameters (no range or metric check: see :func:`plan`)."""
    event_group = params.event_group_by
    value = None
    group = None
    if params.metric in PROPERTY_METRICS:
        if event_group is None:
            raise ValidationError(
                "e.group_by",
                f"{params.metric} needs the property to add up in the event's group_by",
            )
        value = _property(event_group)
        if params.group_by is not None:
            group = Property("user", params.group_by)
    else:
        if event_group is not None and params.group_by is not None:
            raise ValidationError("g", "the collector groups by one property: give e.group_by or g")
        if event_group is not None:
            group = _property(event_group)
        elif params.group_by is not None:
            group = Property("user", params.group_by)
    start_ms = _ms(params.start)
    end_ms = _ms(params.end + timedelta(days=1))
    buckets, labels = _periods(interval, params.start, params.end)
    return Plan(params, interval, start_ms, end_ms, group, value, buckets, labels)


def second_plan(query: Plan) -> Plan | None:
    """The plan of ``e2`` (the same query for the second event), or None without one."""
    event2 = query.params.event2
    if event2 is None:
        return None
    return layout(replace(query.params, event=event2, event2=None), query.interval)


def lead_plan(query: Plan) -> Plan | None:
    """The periods before the range a rolling value reaches back to (``rollingWindow`` or
    ``rollingAverage`` of N: the N - 1 periods before the first), or None when there are none.
    """
    params = query.params
    span = params.rolling_window or params.rolling_average or 1
    if span <= 1:
        return None
    first = query.buckets[0]
    if query.interval == "hourly":
        lead_start = params.start - timedelta(days=-(-(span - 1) // 24))
    elif query.interval == "daily":
        lead_start = params.start - timedelta(days=span - 1)
    elif query.interval == "weekly":
        lead_start = date(1970, 1, 1) + timedelta(days=(first - (span - 1)) * 7 - 4)
    else:
        year, month = divmod(first - (span - 1), 12)
        lead_start = date(year, month + 1, 1)
    if query.interval in ("weekly", "monthly"):
        # The lead ends where the first period (which may begin before the range) begins.
        lead_end = _first_day(query.interval, first) - timedelta(days=1)
    else:
        lead_end = params.start - timedelta(days=1)
    if lead_start.year < 1970 or lead_end < lead_start:
        return None
    lead = replace(params, start=lead_start, end=lead_end, event2=None)
    return layout(lead, query.interval)


def _first_day(interval: str, bucket: int) -> date:
    if interval == "weekly":
        return date(1970, 1, 1) + timedelta(days=bucket * 7 - 4)
    year, month = divmod(bucket, 12)
    return date(year, month + 1, 1)


def _periods(interval: str, start: date, end: date) -> tuple[tuple[int, ...], tuple[str, ...]]:
    buckets: list[int] = []
    labels: list[str] = []
    day = start
    while day <= end:
        ms = _ms(day)
        if interval == "hourly":
            for hour in range(24):
                buckets.append(bucket_of(interval, ms + hour * _HOUR_MS))
                labels.append(f"{day.isoformat()}T{hour:02d}:00:00")
        else:
            key = bucket_of(interval, ms)
            if not buckets or buckets[-1] != key:
                buckets.append(key)
                # A period is labelled by its first day inside the range.
                labels.append(day.isoformat())
        day += timedelta(days=1)
    return tuple(buckets), tuple(labels)


@dataclass(frozen=True, slots=True)
class Aggregate:
    """One row of a store's answer.

    Attributes:
        bucket: the period key, or None for the whole range.
        group: the group-by value (None when ungrouped or not set).
        events: matching events.
        users: distinct users among them.
        value_sum: the sum of the value property (property metrics).
        value_count: how many events had a numeric value property.
    """

    bucket: int | None
    group: Any
    events: int
    users: int
    value_sum: float = 0.0
    value_count: int = 0


def _label(group: Any) -> str:
    if group is None or group == "":
        return NONE_LABEL
    if isinstance(group, float) and group.is_integer():
        return str(int(group))
    return str(group)


def _metric(metric: str, row: Aggregate | None, active: int | None) -> float | int:
    if row is None:
        return 0
    if metric == "totals":
        return row.events
    if metric == "average":
        return round(row.events / row.users, 4) if row.users else 0
    if metric == "pct_dau":
        return round(100.0 * row.users / active, 4) if active else 0
    if metric == "sums":
        value = row.value_sum
        return int(value) if float(value).is_integer() else round(value, 6)
    if metric == "value_avg":
        return round(row.value_sum / row.value_count, 6) if row.value_count else 0
    return row.users


def _cells(query: Plan, rows: Iterable[Aggregate]) -> dict[str, dict[int | None, Aggregate]]:
    """The rows by label, then by period (None: the whole range)."""
    by_group: dict[str, dict[int | None, Aggregate]] = {}
    for row in rows:
        label = _label(row.group) if query.group is not None else ""
        cells = by_group.setdefault(label, {})
        previous = cells.get(row.bucket)
        if previous is not None:
            # Two raw values with one label that a store kept apart (a store groups by the
            # canonical text, so this is rare): add them up.
            row = Aggregate(
                row.bucket,
                row.group,
                previous.events + row.events,
                previous.users + row.users,
                previous.value_sum + row.value_sum,
                previous.value_count + row.value_count,
            )
        cells[row.bucket] = row
    return by_group


def _window(rows: Sequence[Aggregate | None]) -> Aggregate | None:
    """The rows of a rolling window added up (events and values; users are not additive)."""
    present = [row for row in rows if row is not None]
    if not present:
        return None
    return Aggregate(
        None,
        present[-1].group,
        sum(row.events for row in present),
        0,
        sum(row.value_sum for row in present),
        sum(row.value_count for row in present),
    )


def _rolled(
    query: Plan,
    cells: Mapping[int | None, Aggregate],
    lead: Plan | None,
    active: Mapping[int | None, int],
) -> list[float | int]:
    """One group's values per period, rolled over ``rollingWindow``/``rollingAverage``."""
    params = query.params
    metric = params.metric
    buckets = [*(lead.buckets if lead is not None else ()), *query.buckets]
    first = len(buckets) - len(query.buckets)
    if params.rolling_window is not None:
        span = params.rolling_window
        return [
            _metric(
                metric, _window([cells.get(b) for b in buckets[max(0, i - span + 1) : i + 1]]), None
            )
            for i in range(first, len(buckets))
        ]
    values = [_metric(metric, cells.get(b), active.get(b)) for b in buckets]
    if params.rolling_average is None:
        return values[first:]
    span = params.rolling_average
    out: list[float | int] = []
    for i in range(first, len(buckets)):
        window = values[max(0, i - span + 1) : i + 1]
        mean = sum(window) / span
        out.append(int(mean) if float(mean).is_integer() else round(mean, 4))
    return out


def answer(
    query: Plan,
    rows: Iterable[Aggregate],
    active_users: Mapping[int | None, int] | None = None,
    *,
    lead: Plan | None = None,
    lead_rows: Iterable[Aggregate] = (),
    lead_active: Mapping[int | None, int] | None = None,
    event_index: int = 0,
) -> dict[str, Any]:
    """Amplitude's ``{"data": {...}}`` from a store's aggregates.

    Args:
        query: the plan the store ran.
        rows: per (period, group) rows and, with ``bucket`` None, per group over the range.
        active_users: for ``pct_dau``: distinct active users per period key (None: the range).
        lead: with a rolling window or average, the plan of the periods before the range
            (:func:`lead_plan`); ``lead_rows``/``lead_active`` are its store's answer.
        event_index: 0 for ``e``, 1 for ``e2``: the first part of each series label.
    """
    by_group = _cells(query, rows)
    lead_groups = _cells(query, (row for row in lead_rows if row.bucket is not None))
    for label, cells in lead_groups.items():
        mine = by_group.setdefault(label, {})
        for bucket, row in cells.items():
            mine.setdefault(bucket, row)
    metric = query.params.metric
    active = {**(lead_active or {}), **(active_users or {})}
    active[None] = (active_users or {}).get(None, 0)
    ordered: Sequence[str]
    if query.group is None:
        ordered = [""]
        by_group.setdefault("", {})
    else:
        ordered = sorted(
            by_group,
            key=lambda label: (
                -_metric(metric, by_group[label].get(None), active.get(None)),
                label,
            ),
        )[: query.params.limit]
    series = []
    collapsed = []
    labels: list[Any] = []
    for label in ordered:
        cells = by_group[label]
        series.append(_rolled(query, cells, lead, active))
        collapsed.append(
            [{"setId": "", "value": _metric(metric, cells.get(None), active.get(None))}]
        )
        labels.append(event_index if query.group is None else [event_index, label])
    return {
        "data": {
            "series": series,
            "seriesLabels": labels,
            "seriesCollapsed": collapsed,
            "xValues": list(query.x_values),
        }
    }


def combine(answers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One answer holding the series of several events' answers (``e`` then ``e2``)."""
    data: dict[str, Any] = {"series": [], "seriesLabels": [], "seriesCollapsed": []}
    for part in answers:
        for key in ("series", "seriesLabels", "seriesCollapsed"):
            data[key] += part["data"][key]
    data["xValues"] = answers[0]["data"]["xValues"]
    return {"data": data}


def needs_events(query: Plan) -> bool:
    """Whether the answer needs the events themselves (distinct users over a rolling window)
    rather than the store's aggregates: see :func:`window_answer`."""
    return query.params.rolling_window is not None and query.params.metric in ROLLING_USER_METRICS


def window_answer(
    query: Plan, lead: Plan | None, hits: Iterable[Any], *, event_index: int = 0
) -> dict[str, Any]:
    """``uniques``/``average`` over a ``rollingWindow`` from the event's hits (see
    :class:`~.reader.Hit`) from the lead's start (or the range's) to the range's end: each
    value counts the distinct users of its window of periods, ending with its own."""
    params = query.params
    span = params.rolling_window or 1
    buckets = [*(lead.buckets if lead is not None else ()), *query.buckets]
    users: dict[str, dict[int, set[Any]]] = {}
    events: dict[str, dict[int, int]] = {}
    range_users: dict[str, set[Any]] = {}
    range_events: dict[str, int] = {}
    for hit in hits:
        label = _label(hit.group) if query.group is not None else ""
        bucket = bucket_of(query.interval, hit.time_ms)
        users.setdefault(label, {}).setdefault(bucket, set()).add(hit.person)
        counts = events.setdefault(label, {})
        counts[bucket] = counts.get(bucket, 0) + 1
        if query.start_ms <= hit.time_ms < query.end_ms:
            range_users.setdefault(label, set()).add(hit.person)
            range_events[label] = range_events.get(label, 0) + 1

    def value(people: int, count: int) -> float | int:
        if params.metric == "average":
            return round(count / people, 4) if people else 0
        return people

    labels = list(users) if query.group is not None else [""]
    collapsed = {
        label: value(len(range_users.get(label, ())), range_events.get(label, 0))
        for label in labels
    }
    ordered = sorted(labels, key=lambda label: (-collapsed[label], label))[: params.limit]
    first = len(buckets) - len(query.buckets)
    series = []
    for label in ordered:
        mine, counts = users.get(label, {}), events.get(label, {})
        row = []
        for i in range(first, len(buckets)):
            window = buckets[max(0, i - span + 1) : i + 1]
            people: set[Any] = set().union(*(mine.get(b, set()) for b in window))
            row.append(value(len(people), sum(counts.get(b, 0) for b in window)))
        series.append(row)
    return {
        "data": {
            "series": series,
            "seriesLabels": [
                event_index if query.group is None else [event_index, label] for label in ordered
            ],
            "seriesCollapsed": [[{"setId": "", "value": collapsed[label]}] for label in ordered],
            "xValues": list(query.x_values),
        }
    }
