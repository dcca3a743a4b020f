"""Active and new users (``/api/2/users``) from every active event of the range.

Active users of a period: distinct users with an active event in it. New users: users first
seen in that period (a user's first event is active). Without ``g`` there is one series and
``seriesMeta`` is ``[""]`` (the docs show labels only for a grouped answer; LTV's ungrouped
label is ``""`` too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trackwire.amplitude.query.charts import UsersParams
from trackwire.collector.query.periods import interval_name, label_of, period_of
from trackwire.collector.query.reader import Hit
from trackwire.collector.query.segmentation import Aggregate, Plan

__all__ = ["active_answer", "users_answer"]


def users_answer(params: UsersParams, plan: Plan, hits: Sequence[Hit]) -> dict[str, Any]:
    """Amplitude's ``{"data": {"series", "seriesMeta", "xValues"}}``.

    Args:
        params: the checked query.
        plan: the plan of ``_active`` over the range (its periods are the x values).
        hits: its hits.
    """
    interval = interval_name(params.interval)
    cells: dict[str, dict[int, set[Any]]] = {}
    for hit in hits:
        period = period_of(interval, hit.time_ms)
        if params.metric == "new":
            seen = hit.first_seen_ms
            if seen is None or period_of(interval, seen) != period:
                continue
        label = label_of(hit.group) if params.group_by is not None else ""
        cells.setdefault(label, {}).setdefault(period, set()).add(hit.person)
    if params.group_by is None:
        cells.setdefault("", {})
        ordered = [""]
    else:
        totals = {label: len(set().union(*periods.values())) for label, periods in cells.items()}
        ordered = sorted(cells, key=lambda label: (-totals[label], label))
    return {
        "data": {
            "series": [[len(cells[label].get(b, ())) for b in plan.buckets] for label in ordered],
            "seriesMeta": ordered,
            "xValues": list(plan.x_values),
        }
    }


def active_answer(params: UsersParams, plan: Plan, rows: Sequence[Aggregate]) -> dict[str, Any]:
    """The active-users answer from the store's segmentation of ``_active`` (uniques)."""
    cells: dict[str, dict[int | None, int]] = {}
    for row in rows:
        label = label_of(row.group) if params.group_by is not None else ""
        periods = cells.setdefault(label, {})
        periods[row.bucket] = periods.get(row.bucket, 0) + row.users
    if params.group_by is None:
        cells.setdefault("", {})
        ordered = [""]
    else:
        ordered = sorted(cells, key=lambda label: (-cells[label].get(None, 0), label))
    return {
        "data": {
            "series": [[cells[label].get(b, 0) for b in plan.buckets] for label in ordered],
            "seriesMeta": ordered,
            "xValues": list(plan.x_values),
        }
    }
