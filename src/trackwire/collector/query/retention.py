"""Retention (``/api/2/retention``) computed from the start and return events.

A user's cohort is the period of their first start event in the range (``_new``: the period
they were first seen in, when that is in the range). Coming back is a return event in a later
period, or in the same period at or after the start event (period 0). Modes: ``n-day`` counts
the users back in period N exactly, ``rolling`` those back in period N or any later one,
``bracket`` those back in any period of each ``[from, to)`` bracket. Periods are counted up to
the range's end; a cell whose period has not ended yet (now) is ``incomplete``.

Cells follow the docs since 2026-01-09: index 0 holds the cohort (count == outof), index N + 1
retention N periods out (brackets: index k + 1 the k-th bracket). ``dates`` are newest first;
``combined`` adds every cohort's cells.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from trackwire.amplitude.query.charts import RetentionParams
from trackwire.collector.query.periods import (
    bucket_end_ms,
    bucket_start,
    formatted,
    interval_name,
    label_of,
    period_of,
)
from trackwire.collector.query.reader import Hit
from trackwire.collector.query.segmentation import Plan

__all__ = ["retention_answer"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def retention_answer(
    params: RetentionParams,
    start_plan: Plan,
    start_hits: Sequence[Hit],
    return_hits: Sequence[Hit],
    *,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """Amplitude's retention answer.

    Args:
        params: the checked query.
        start_plan: the plan of the start event over the range.
        start_hits: the start event's hits (``_new``: every active event's).
        return_hits: the return event's hits over the range.
        now_ms: the time cells are complete by (default: now).
    """
    interval = interval_name(params.interval)
    now = _now_ms() if now_ms is None else now_ms
    last = period_of(interval, start_plan.end_ms - 1)
    new_users = params.start_event.get("event_type") == "_new"
    cohorts: dict[Any, tuple[int, int, Any]] = {}  # person -> (period, entry time, group)
    for hit in start_hits:
        if hit.person in cohorts:
            continue
        if new_users:
            seen = hit.first_seen_ms
            if seen is None or not start_plan.start_ms <= seen < start_plan.end_ms:
                continue
            cohorts[hit.person] = (period_of(interval, seen), seen, hit.group)
        else:
            cohorts[hit.person] = (period_of(interval, hit.time_ms), hit.time_ms, hit.group)
    back: dict[Any, set[int]] = {}
    for hit in return_hits:
        cohort = cohorts.get(hit.person)
        if cohort is None or hit.time_ms < cohort[1]:
            continue
        back.setdefault(hit.person, set()).add(period_of(interval, hit.time_ms) - cohort[0])
    groups: dict[str, dict[int, list[Any]]] = {}
    for person, (period, _, group) in cohorts.items():
        label = label_of(group) if params.group_by is not None else ""
        groups.setdefault(label, {}).setdefault(period, []).append(person)
    if params.group_by is None:
        groups.setdefault("", {})
        ordered = [""]
    else:
        ordered = sorted(groups, key=lambda g: (-sum(map(len, groups[g].values())), g))
    series = []
    meta = []
    for index, label in enumerate(ordered):
        series.append(_series(params, interval, groups[label], back, last, now))
        entry: dict[str, Any] = {"segmentIndex": 0, "eventIndex": 0}
        if params.group_by is not None:
            entry = {**entry, "groupIndex": index, "groupValue": label}
        meta.append(entry)
    return {"data": {"series": series, "seriesMeta": meta}}


def _counts(params: RetentionParams, offsets: Sequence[set[int]], periods: int) -> list[int]:
    """Users back per cell (after the cohort cell)."""
    if params.mode == "bracket":
        return [sum(1 for o in offsets if any(a <= n < b for n in o)) for a, b in params.brackets]
    if params.mode == "rolling":
        return [sum(1 for o in offsets if o and max(o) >= n) for n in range(periods)]
    return [sum(1 for o in offsets if n in o) for n in range(periods)]


def _series(
    params: RetentionParams,
    interval: str,
    cohorts: dict[int, list[Any]],
    back: dict[Any, set[int]],
    last: int,
    now: int,
) -> dict[str, Any]:
    values: dict[str, list[dict[str, Any]]] = {}
    combined: list[dict[str, Any]] = []
    dates = []
    for period in sorted(cohorts, reverse=True):
        people = cohorts[period]
        label = formatted(bucket_start(interval, period), interval)
        dates.append(label)
        if params.mode == "bracket":
            spans = [(a, b) for a, b in params.brackets]
        else:
            spans = [(n, n + 1) for n in range(last - period + 1)]
        counts = _counts(params, [back.get(p, set()) for p in people], len(spans))
        outof = len(people)
        cells = [{"count": outof, "outof": outof, "incomplete": False}]
        for (_, upto), count in zip(spans, counts, strict=True):
            incomplete = bucket_end_ms(interval, period + upto - 1) > now
            cells.append({"count": count, "outof": outof, "incomplete": incomplete})
        values[label] = cells
        for index, cell in enumerate(cells):
            if index == len(combined):
                combined.append(
                    {"count": 0, "outof": 0, "retainedSetId": None, "incomplete": False}
                )
            total = combined[index]
            total["count"] += cell["count"]
            total["outof"] += cell["outof"]
            total["incomplete"] = total["incomplete"] or cell["incomplete"]
    return {"dates": dates, "values": values, "combined": combined}
