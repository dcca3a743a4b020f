"""What the charts beyond segmentation share: plans of one event over a range, periods, labels.

A chart (funnel, retention, users, LTV) asks the store for the :class:`~.reader.Hit` rows of
each event it reads, through a segmentation :class:`~.segmentation.Plan` of that event (its
filters, the request's segments and group-by), then computes its answer here, without SQL:
every store gets the charts by answering ``event_hits``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final

from trackwire.amplitude.query.params import INTERVAL_NAMES, segmentation_params
from trackwire.collector.query import segmentation
from trackwire.collector.query.segmentation import Plan, bucket_of
from trackwire.errors import ValidationError

__all__ = [
    "DAY_MS",
    "bucket_end_ms",
    "bucket_start",
    "event_plan",
    "formatted",
    "interval_name",
    "label_of",
    "period_of",
]

DAY_MS: Final = 86_400_000
#: Longest range per interval (as segmentation allows).
_MAX_DAYS: Final = {"daily": 365, "weekly": 365 * 2, "monthly": 365 * 3}
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


def interval_name(interval: int) -> str:
    """``daily``, ``weekly`` or ``monthly`` for ``i`` 1, 7 or 30."""
    return INTERVAL_NAMES[interval]


def event_plan(
    event: Mapping[str, Any],
    start: date,
    end: date,
    *,
    interval: int = 1,
    segments: Sequence[Mapping[str, Any]] = (),
    group_by: str | None = None,
    extra_ms: int = 0,
) -> Plan:
    """The plan selecting ``event`` (with its filters) from ``start`` to ``end`` (and
    ``extra_ms`` past the end), with the request's segments and group-by.

    Raises:
        ValidationError: the range is longer than the interval allows.
    """
    name = interval_name(interval)
    days = (end - start).days + 1
    if days > _MAX_DAYS[name]:
        raise ValidationError(
            "end", f"{name} charts cover at most {_MAX_DAYS[name]} days, not {days}"
        )
    if start < date(1970, 1, 1) or end.year > 9000:
        raise ValidationError("start", "the range must lie between 1970 and 9000")
    params = segmentation_params(
        dict(event), start, end, interval=interval, segments=segments, group_by=group_by
    )
    query = segmentation.layout(params, name)
    return replace(query, end_ms=query.end_ms + extra_ms) if extra_ms else query


def bucket_start(interval: str, bucket: int) -> date:
    """The first day of a period key (see :func:`~.segmentation.bucket_of`)."""
    if interval == "daily":
        return date(1970, 1, 1) + timedelta(days=bucket)
    if interval == "weekly":
        return date(1970, 1, 1) + timedelta(days=bucket * 7 - 4)
    year, month = divmod(bucket, 12)
    return date(year, month + 1, 1)


def bucket_end_ms(interval: str, bucket: int) -> int:
    """The first millisecond after a period."""
    following = bucket_start(interval, bucket + 1)
    return (
        int(
            datetime(
                following.year, following.month, following.day, tzinfo=timezone.utc
            ).timestamp()
        )
        * 1000
    )


def formatted(day: date, interval: str = "daily") -> str:
    """A period's label as Amplitude's charts write it: ``Mar 14``, or ``Mar 2026`` monthly."""
    if interval == "monthly":
        return f"{_MONTHS[day.month - 1]} {day.year}"
    return f"{_MONTHS[day.month - 1]} {day.day}"


def label_of(value: Any) -> str:
    """A group-by value's label (``(none)`` when not set)."""
    if value is None or value == "":
        return segmentation.NONE_LABEL
    return str(value)


def period_of(interval: str, time_ms: int) -> int:
    """The period key of a time."""
    return bucket_of(interval, time_ms)
