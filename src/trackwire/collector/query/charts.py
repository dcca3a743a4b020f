"""The charts beyond segmentation, run against any store: plans in, hits out, answers built.

Each function reads what its chart needs through :meth:`QueryReader.event_hits` and hands the
hits to the chart's module (:mod:`.funnels`, :mod:`.retention`, :mod:`.active_users`,
:mod:`.ltv`), so a store that answers ``event_hits`` answers every chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trackwire.amplitude.query.charts import FunnelParams, LtvParams, RetentionParams, UsersParams
from trackwire.collector.query import active_users, funnels, ltv, retention
from trackwire.collector.query.periods import DAY_MS, event_plan
from trackwire.collector.query.reader import QueryReader, Source
from trackwire.errors import ValidationError

__all__ = ["funnel", "retention_chart", "revenue_ltv", "users"]

_ACTIVE = {"event_type": "_active"}


def _known(
    store: QueryReader, sources: Sequence[Source], event: Mapping[str, Any], field: str
) -> None:
    event_type = str(event["event_type"])
    if event_type == "_new":
        return
    if not store.event_exists(sources, event_type):
        raise ValidationError(field, f"event type {event_type!r} does not exist in this project")


def funnel(store: QueryReader, sources: Sequence[Source], params: FunnelParams) -> dict[str, Any]:
    """``/api/2/funnels``."""
    funnels.check(params)
    plans = []
    for index, event in enumerate(params.events):
        _known(store, sources, event, f"e[{index}]")
        plans.append(
            event_plan(
                event, params.start, params.end, interval=params.interval,
                segments=params.segments, group_by=params.group_by,
                extra_ms=0 if index == 0 else params.conversion_s * 1000,
            )
        )  # fmt: skip
    hits = [
        store.event_hits(sources, plan, first_seen=params.new_users and index == 0)
        for index, plan in enumerate(plans)
    ]
    return funnels.funnel_answer(params, plans, hits)


def retention_chart(
    store: QueryReader, sources: Sequence[Source], params: RetentionParams
) -> dict[str, Any]:
    """``/api/2/retention``."""
    _known(store, sources, params.start_event, "se")
    _known(store, sources, params.return_event, "re")
    start_event = params.start_event
    if start_event.get("event_type") == "_new":
        start_event = {**start_event, "event_type": "_active"}
    start_plan, return_plan = (
        event_plan(
            event,
            params.start,
            params.end,
            interval=params.interval,
            segments=params.segments,
            group_by=params.group_by,
        )
        for event in (start_event, params.return_event)
    )
    return retention.retention_answer(
        params,
        start_plan,
        store.event_hits(sources, start_plan, first_seen=start_event is not params.start_event),
        store.event_hits(sources, return_plan),
    )


def users(store: QueryReader, sources: Sequence[Source], params: UsersParams) -> dict[str, Any]:
    """``/api/2/users``: active users are the uniques of ``_active`` (the store's segmentation,
    rollups included); new users come from every active event's user."""
    plan = event_plan(
        _ACTIVE, params.start, params.end, interval=params.interval,
        segments=params.segments, group_by=params.group_by,
    )  # fmt: skip
    if params.metric == "active":
        rows, _ = store.segmentation(sources, plan)
        return active_users.active_answer(params, plan, rows)
    return active_users.users_answer(params, plan, store.event_hits(sources, plan, first_seen=True))


def revenue_ltv(store: QueryReader, sources: Sequence[Source], params: LtvParams) -> dict[str, Any]:
    """``/api/2/revenue/ltv``."""
    plan = event_plan(
        _ACTIVE, params.start, params.end, interval=params.interval,
        segments=params.segments, group_by=params.group_by,
    )  # fmt: skip
    revenue_plan = event_plan(
        {"event_type": "_all"}, params.start, params.end, interval=params.interval,
        extra_ms=ltv.REVENUE_DAYS * DAY_MS,
    )  # fmt: skip
    revenue = store.event_hits(sources, revenue_plan, paying=True)
    active = store.event_hits(sources, plan, first_seen=True)
    return ltv.ltv_answer(params, plan, active, revenue)
