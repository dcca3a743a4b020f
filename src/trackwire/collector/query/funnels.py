"""Funnels (``/api/2/funnels``) computed from each step's events.

A user enters the funnel with a first step done in the range (with ``n=new``: a user first
seen in the range). **Ordered**: from that first step, each next step must follow the previous
one, all within the conversion window (``cs`` seconds) of the first; later steps may fall past
the range's end, inside the window. Of several first steps, the one reaching furthest (then the
earliest) counts. **Unordered**: a user reaches step k when steps 1..k all happen within one
window (``cs`` rounded down to whole days) that starts at one of them inside the range; the
transition time of a step is then from the previous step's first time in that window (0 when
it came earlier). ``sequential`` (nothing else between the steps) needs every event of every
user and is refused with a 400 naming ``mode``.

The answer is Amplitude's documented shape: ``data`` is a list, one object per group (one
without ``g``), each with ``cumulativeRaw``, ``cumulative``, ``stepByStep``, median and average
transition times in ms, and per-day funnels (``series[day][step]``, as the doc example).
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from trackwire.amplitude.query.charts import FunnelParams
from trackwire.collector.query.periods import (
    DAY_MS,
    formatted,
    interval_name,
    label_of,
    period_of,
)
from trackwire.collector.query.reader import Hit
from trackwire.collector.query.segmentation import Plan
from trackwire.errors import ValidationError

__all__ = ["check", "funnel_answer"]

_DAY_S: Final = 86_400


def check(params: FunnelParams) -> None:
    """Refuse what the collector does not compute.

    Raises:
        ValidationError: ``mode=sequential``.
    """
    if params.mode == "sequential":
        raise ValidationError(
            "mode",
            "sequential funnels (nothing else between steps) are not computed by the collector; "
            "use ordered or unordered",
        )


@dataclass(slots=True)
class _Person:
    group: Any
    first_seen_ms: int | None
    times: list[list[int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Path:
    entry_ms: int
    reached: int
    transitions: tuple[int, ...]


def _ordered(times: Sequence[Sequence[int]], starts: Sequence[int], window_ms: int) -> _Path:
    best: _Path | None = None
    for t0 in starts:
        previous = t0
        transitions: list[int] = []
        for step in range(1, len(times)):
            candidates = times[step]
            # A step of the same event type as the one before needs a later event.
            same = times[step] is times[step - 1]
            index = (bisect.bisect_right if same else bisect.bisect_left)(candidates, previous)
            if index >= len(candidates) or candidates[index] > t0 + window_ms:
                break
            transitions.append(candidates[index] - previous)
            previous = candidates[index]
        path = _Path(t0, 1 + len(transitions), tuple(transitions))
        if best is None or path.reached > best.reached:
            best = path
            if path.reached == len(times):
                break
    assert best is not None
    return best


def _unordered(
    times: Sequence[Sequence[int]], anchors: Sequence[int], window_ms: int
) -> _Path | None:
    best: _Path | None = None
    for anchor in anchors:
        firsts: list[int] = []
        for candidates in times:
            index = bisect.bisect_left(candidates, anchor)
            if index >= len(candidates) or candidates[index] > anchor + window_ms:
                break
            firsts.append(candidates[index])
        if not firsts:
            continue
        transitions = tuple(max(0, b - a) for a, b in itertools.pairwise(firsts))
        path = _Path(firsts[0], len(firsts), transitions)
        if best is None or path.reached > best.reached:
            best = path
    return best


def _median(values: Sequence[int]) -> int:
    return int(statistics.median(values)) if values else 0


def _average(values: Sequence[int]) -> int:
    return round(sum(values) / len(values)) if values else 0


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def funnel_answer(
    params: FunnelParams, plans: Sequence[Plan], hits: Sequence[Sequence[Hit]]
) -> dict[str, Any]:
    """Amplitude's funnel answer from each step's plan and hits (time order).

    Args:
        params: the checked query.
        plans: one plan per step (the first covers the range; the others reach past it by the
            conversion window).
        hits: each step's events.
    """
    steps = len(plans)
    interval = interval_name(params.interval)
    first = plans[0]
    window_ms = params.conversion_s * 1000
    if params.mode == "unordered":
        window_ms = (params.conversion_s // _DAY_S) * DAY_MS
    people: dict[Any, _Person] = {}
    for step, step_hits in enumerate(hits):
        for hit in step_hits:
            person = people.get(hit.person)
            if person is None:
                if step != 0 and params.mode == "ordered":
                    continue
                person = people[hit.person] = _Person(
                    hit.group, hit.first_seen_ms, [[] for _ in range(steps)]
                )
            person.times[step].append(hit.time_ms)
    # Steps of one event with the same filters share their times (see _ordered).
    same_as = [
        next(j for j in range(i + 1) if plans[j].params.event == plans[i].params.event)
        for i in range(steps)
    ]
    groups: dict[str, list[_Path]] = {}
    for person in people.values():
        times = [person.times[same_as[i]] for i in range(steps)]
        in_range = [t for t in times[0] if first.start_ms <= t < first.end_ms]
        if params.new_users and (
            person.first_seen_ms is None
            or not first.start_ms <= person.first_seen_ms < first.end_ms
        ):
            continue
        if params.mode == "ordered":
            if not in_range:
                continue
            path: _Path | None = _ordered(times, in_range, window_ms)
        else:
            anchors = sorted(t for ts in times for t in ts if first.start_ms <= t < first.end_ms)
            path = _unordered(times, anchors, window_ms)
        if path is not None:
            label = label_of(person.group) if params.group_by is not None else ""
            groups.setdefault(label, []).append(path)
    if params.group_by is None:
        groups.setdefault("", [])
        ordered = [""]
    else:
        ordered = sorted(groups, key=lambda g: (-len(groups[g]), g))[: params.limit]
    labels = [str(p.params.event["event_type"]) for p in plans]
    data = []
    for index, label in enumerate(ordered):
        entry = _group_answer(groups[label], steps, interval, first, labels)
        entry["meta"] = {"segmentIndex": 0}
        if params.group_by is not None:
            entry["groupValue"] = label
            entry["meta"] = {"segmentIndex": 0, "groupIndex": index}
        data.append(entry)
    return {"data": data}


def _group_answer(
    paths: Sequence[_Path], steps: int, interval: str, first: Plan, labels: list[str]
) -> dict[str, Any]:
    raw = [sum(1 for p in paths if p.reached > k) for k in range(steps)]
    transitions = [[p.transitions[k - 1] for p in paths if p.reached > k] for k in range(1, steps)]
    by_day: dict[int, list[_Path]] = {}
    for path in paths:
        by_day.setdefault(period_of(interval, path.entry_ms), []).append(path)
    day_counts = []
    day_medians = []
    day_averages = []
    for bucket in first.buckets:
        day_paths = by_day.get(bucket, [])
        day_counts.append([sum(1 for p in day_paths if p.reached > k) for k in range(steps)])
        times = [
            [p.transitions[k - 1] for p in day_paths if p.reached > k] for k in range(1, steps)
        ]
        day_medians.append([0, *(_median(t) for t in times)])
        day_averages.append([0, *(_average(t) for t in times)])
    x_values = list(first.x_values)
    formatted_x = [formatted(date.fromisoformat(x)) for x in x_values]

    def wrapped(series: list[list[int]]) -> Mapping[str, Any]:
        return {"series": series, "xValues": x_values, "formattedXValues": formatted_x}

    return {
        "events": labels,
        "cumulativeRaw": raw,
        "cumulative": [1.0 if raw[0] else 0.0, *(_share(raw[k], raw[0]) for k in range(1, steps))],
        "stepByStep": [
            1.0 if raw[0] else 0.0,
            *(_share(raw[k], raw[k - 1]) for k in range(1, steps)),
        ],
        "medianTransTimes": [0, *(_median(t) for t in transitions)],
        "avgTransTimes": [0, *(_average(t) for t in transitions)],
        "dayFunnels": wrapped(day_counts),
        "dayMedianTransTimes": wrapped(day_medians),
        "dayAvgTransTimes": wrapped(day_averages),
    }
