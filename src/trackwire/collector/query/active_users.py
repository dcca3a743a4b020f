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
from trackwire.collector.query.segmentation import Plan

__all__ = ["users_answer"]


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
