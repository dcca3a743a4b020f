"""Revenue LTV of new users (``/api/2/revenue/ltv``) from active events and revenue events.

A cohort is the users first seen in one period of the range. ``rNd`` is the chosen metric over
the revenue of the cohort's first N days (days 0 to N - 1, counted from each user's first
day): ARPU (revenue / users), ARPPU (revenue / paying users), total revenue, or paying users.
``count`` is the cohort, ``paid`` and ``total_amount`` the paying users and revenue of the
first 90 days. The keys are ``r1d`` to ``r7d``, ``r14d``, ``r30d``, ``r60d`` and ``r90d`` (the
docs list "r1d, r2d, ..., r90d" without the full set). ``dates`` are newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from trackwire.amplitude.query.charts import LtvParams
from trackwire.collector.query.periods import (
    DAY_MS,
    bucket_start,
    interval_name,
    label_of,
    period_of,
)
from trackwire.collector.query.reader import Hit
from trackwire.collector.query.segmentation import Plan

__all__ = ["HORIZONS", "ltv_answer"]

#: The days each ``rNd`` covers.
HORIZONS: Final = (1, 2, 3, 4, 5, 6, 7, 14, 30, 60, 90)
#: How far past the range revenue is read: the longest horizon.
REVENUE_DAYS: Final = 90


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 6)


def ltv_answer(
    params: LtvParams, plan: Plan, active: Sequence[Hit], revenue: Sequence[Hit]
) -> dict[str, Any]:
    """Amplitude's LTV answer.

    Args:
        params: the checked query.
        plan: the plan of ``_active`` over the range.
        active: its hits (the users and their first-seen times).
        revenue: events with revenue from the range's start to 90 days past its end.
    """
    interval = interval_name(params.interval)
    users: dict[Any, tuple[int, int, Any]] = {}  # person -> (period, first day, group)
    for hit in active:
        seen = hit.first_seen_ms
        if hit.person in users or seen is None or not plan.start_ms <= seen < plan.end_ms:
            continue
        users[hit.person] = (period_of(interval, seen), seen // DAY_MS, hit.group)
    paid: dict[Any, list[tuple[int, float]]] = {}  # person -> (day offset, amount)
    for hit in revenue:
        user = users.get(hit.person)
        if user is None or not hit.revenue:
            continue
        offset = hit.time_ms // DAY_MS - user[1]
        if 0 <= offset < REVENUE_DAYS:
            paid.setdefault(hit.person, []).append((offset, hit.revenue))
    groups: dict[str, dict[int, list[Any]]] = {}
    for person, (period, _, group) in users.items():
        label = label_of(group) if params.group_by is not None else ""
        groups.setdefault(label, {}).setdefault(period, []).append(person)
    if params.group_by is None:
        groups.setdefault("", {})
        ordered = [""]
    else:
        ordered = sorted(groups, key=lambda g: (-sum(map(len, groups[g].values())), g))
    series = []
    for label in ordered:
        values = {}
        for period in sorted(groups[label], reverse=True):
            people = groups[label][period]
            values[bucket_start(interval, period).isoformat()] = _cell(params, people, paid)
        series.append({"dates": list(values), "values": values})
    return {"data": {"seriesLabels": ordered, "series": series}}


def _cell(
    params: LtvParams, people: Sequence[Any], paid: dict[Any, list[tuple[int, float]]]
) -> dict[str, float | int]:
    cell: dict[str, float | int] = {}
    for days in HORIZONS:
        amounts = [sum(a for o, a in paid.get(p, ()) if o < days) for p in people]
        total = sum(amounts)
        paying = sum(1 for a in amounts if a > 0)
        if params.metric == 0:
            value = total / len(people) if people else 0.0
        elif params.metric == 1:
            value = total / paying if paying else 0.0
        elif params.metric == 2:
            value = total
        else:
            value = paying
        cell[f"r{days}d"] = _number(value)
    everything = [sum(a for _, a in paid.get(p, ())) for p in people]
    cell["count"] = len(people)
    cell["paid"] = sum(1 for a in everything if a > 0)
    cell["total_amount"] = _number(sum(everything))
    return cell
