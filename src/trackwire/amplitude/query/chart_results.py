"""Typed results of the charts beyond segmentation: funnels, retention, users, revenue LTV.

Each keeps the decoded JSON it came from as ``raw``; fields Amplitude leaves out are empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ActiveUsers",
    "Funnel",
    "FunnelGroup",
    "Retention",
    "RetentionCell",
    "RetentionSeries",
    "RevenueLtv",
    "parse_funnel",
    "parse_retention",
    "parse_revenue_ltv",
    "parse_users",
]


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _numbers(value: Any) -> list[float]:
    return [
        float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0
        for v in _list(value)
    ]


def _ints(value: Any) -> list[int]:
    return [int(v) for v in _numbers(value)]


@dataclass(frozen=True, slots=True)
class FunnelGroup:
    """One funnel (one group of a grouped funnel).

    Attributes:
        events: the step labels.
        cumulative_raw: users who reached each step.
        cumulative: their share of the first step's users.
        step_by_step: their share of the previous step's users.
        median_trans_times: median ms from the previous step (0 for the first).
        avg_trans_times: average ms from the previous step.
        day_funnels: ``{"series": [[count per step] per day], "xValues", "formattedXValues"}``.
        group_value: the group's label (None when not grouped).
    """

    events: list[str]
    cumulative_raw: list[int]
    cumulative: list[float]
    step_by_step: list[float]
    median_trans_times: list[int]
    avg_trans_times: list[int]
    day_funnels: dict[str, Any]
    group_value: str | None = None


@dataclass(frozen=True, slots=True)
class Funnel:
    """A ``/api/2/funnels`` answer: one :class:`FunnelGroup` per group."""

    groups: list[FunnelGroup]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def parse_funnel(body: Any) -> Funnel:
    """The typed result of a ``/api/2/funnels`` body (``{"data": [...]}``)."""
    outer = _dict(body)
    groups = []
    for item in _list(outer.get("data")):
        entry = _dict(item)
        value = entry.get("groupValue")
        groups.append(
            FunnelGroup(
                events=[str(e) for e in _list(entry.get("events"))],
                cumulative_raw=_ints(entry.get("cumulativeRaw")),
                cumulative=_numbers(entry.get("cumulative")),
                step_by_step=_numbers(entry.get("stepByStep")),
                median_trans_times=_ints(entry.get("medianTransTimes")),
                avg_trans_times=_ints(entry.get("avgTransTimes")),
                day_funnels=_dict(entry.get("dayFunnels")),
                group_value=None if value is None else str(value),
            )
        )
    return Funnel(groups=groups, raw=outer)


@dataclass(frozen=True, slots=True)
class RetentionCell:
    """Users retained in one interval (``count``) out of the cohort (``outof``)."""

    count: int
    outof: int
    incomplete: bool


@dataclass(frozen=True, slots=True)
class RetentionSeries:
    """One series: cohort labels newest first, each cohort's cells, and all cohorts combined.

    Index 0 of each cell list is the cohort itself; index N + 1 is retention N intervals out.
    """

    dates: list[str]
    values: dict[str, list[RetentionCell]]
    combined: list[RetentionCell]


@dataclass(frozen=True, slots=True)
class Retention:
    """A ``/api/2/retention`` answer."""

    series: list[RetentionSeries]
    series_meta: list[Any]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def _cells(value: Any) -> list[RetentionCell]:
    cells = []
    for item in _list(value):
        cell = _dict(item)
        numbers = _ints([cell.get("count"), cell.get("outof")])
        cells.append(RetentionCell(numbers[0], numbers[1], bool(cell.get("incomplete"))))
    return cells


def parse_retention(body: Any) -> Retention:
    """The typed result of a ``/api/2/retention`` body. ``series`` is read as a list (as the
    docs show it) or a single object (as their text says)."""
    outer = _dict(body)
    data = _dict(outer.get("data"))
    raw_series = data.get("series")
    items = [raw_series] if isinstance(raw_series, Mapping) else _list(raw_series)
    series = []
    for item in items:
        entry = _dict(item)
        values = {str(k): _cells(v) for k, v in _dict(entry.get("values")).items()}
        series.append(
            RetentionSeries(
                dates=[str(d) for d in _list(entry.get("dates"))],
                values=values,
                combined=_cells(entry.get("combined")),
            )
        )
    return Retention(series=series, series_meta=_list(data.get("seriesMeta")), raw=outer)


@dataclass(frozen=True, slots=True)
class ActiveUsers:
    """A ``/api/2/users`` answer: one series per group, its labels, the days."""

    series: list[list[float]]
    series_meta: list[Any]
    x_values: list[str]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def parse_users(body: Any) -> ActiveUsers:
    """The typed result of a ``/api/2/users`` body."""
    outer = _dict(body)
    data = _dict(outer.get("data"))
    return ActiveUsers(
        series=[_numbers(row) for row in _list(data.get("series"))],
        series_meta=_list(data.get("seriesMeta")),
        x_values=[str(x) for x in _list(data.get("xValues"))],
        raw=outer,
    )


@dataclass(frozen=True, slots=True)
class RevenueLtv:
    """A ``/api/2/revenue/ltv`` answer: per group, cohort dates (newest first) and each
    cohort's ``{r1d, ..., r90d, count, paid, total_amount}``."""

    series_labels: list[Any]
    series: list[dict[str, Any]]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def parse_revenue_ltv(body: Any) -> RevenueLtv:
    """The typed result of a ``/api/2/revenue/ltv`` body."""
    outer = _dict(body)
    data = _dict(outer.get("data"))
    return RevenueLtv(
        series_labels=_list(data.get("seriesLabels")),
        series=[_dict(s) for s in _list(data.get("series"))],
        raw=outer,
    )
