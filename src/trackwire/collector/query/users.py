"""User search and user activity answers, from the store's user state and a user's events."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trackwire.amplitude.query.results import empty_user_data
from trackwire.collector.query import mapping

__all__ = [
    "FoundUser",
    "UserSummary",
    "day",
    "search_answer",
    "user_activity_answer",
    "user_data",
]


def day(ms: int | None) -> str | None:
    """``YYYY-MM-DD`` (UTC) of an epoch-ms time."""
    if ms is None:
        return None
    t = time.gmtime(ms // 1000)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"


@dataclass(frozen=True, slots=True)
class FoundUser:
    """A user search match."""

    amplitude_id: int
    user_id: str | None
    last_seen_ms: int


def search_answer(match_type: str, users: Sequence[FoundUser]) -> dict[str, Any]:
    """``{"matches": [...], "type": ...}`` (``nomatch`` when there are none)."""
    if not users:
        return {"matches": [], "type": "nomatch"}
    return {
        "matches": [
            {"user_id": u.user_id, "amplitude_id": u.amplitude_id, "last_seen": day(u.last_seen_ms)}
            for u in users
        ],
        "type": match_type,
    }


@dataclass(frozen=True, slots=True)
class UserSummary:
    """What a store knows of one user, for ``userData``.

    Attributes:
        amplitude_id: the user.
        vendor: the vendor the user's events came through.
        user_id: the known user id.
        device_id: the device last seen.
        device_ids: every device that leads to the user.
        properties: the user properties now.
        num_events: stored events.
        num_sessions: distinct session ids.
        purchases: events with revenue.
        revenue: their total.
        first_ms: earliest event time.
        last_ms: latest event time.
        first_payload: the earliest event's payload (decoded), for ``start_version``.
        last_payload: the latest event's payload (decoded), for the device fields.
    """

    amplitude_id: int
    vendor: str
    user_id: str | None
    device_id: str | None
    device_ids: Sequence[str]
    properties: Mapping[str, Any]
    num_events: int
    num_sessions: int
    purchases: int
    revenue: float
    first_ms: int | None
    last_ms: int | None
    first_payload: Mapping[str, Any]
    last_payload: Mapping[str, Any]


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def user_data(summary: UserSummary | None) -> dict[str, Any]:
    """The ``userData`` object (Amplitude's zeroed shape for an unknown user)."""
    if summary is None:
        return empty_user_data()
    last = mapping.built_ins_of(summary.vendor, summary.last_payload)
    first = mapping.built_ins_of(summary.vendor, summary.first_payload)
    lat = summary.last_payload.get("location_lat")
    lng = summary.last_payload.get("location_lng")
    location = {"lat": lat, "lng": lng} if lat is not None and lng is not None else None
    return {
        "user_id": summary.user_id,
        "canonical_amplitude_id": summary.amplitude_id,
        "merged_amplitude_ids": [],
        "num_events": summary.num_events,
        "num_sessions": summary.num_sessions,
        # Session lengths are not kept; Amplitude's usage time is their sum.
        "usage_time": 0,
        "first_used": day(summary.first_ms),
        "last_used": day(summary.last_ms),
        "purchases": summary.purchases,
        "revenue": _number(summary.revenue),
        "platform": last.get("platform"),
        "os": last.get("os"),
        "version": last.get("version"),
        "device": last.get("device"),
        "device_type": last.get("device_type"),
        "carrier": last.get("carrier"),
        "country": last.get("country"),
        "region": last.get("region"),
        "city": last.get("city"),
        "dma": last.get("DMA"),
        "language": last.get("language"),
        "library": last.get("library"),
        "start_version": first.get("version"),
        "device_ids": list(summary.device_ids),
        "last_device_id": summary.device_id,
        "last_location": location,
        "properties": dict(summary.properties),
    }


def user_activity_answer(summary: UserSummary | None, events: Sequence[Any]) -> dict[str, Any]:
    """``{"userData": {...}, "events": [...]}``; the events as export dicts or as their
    encoded JSON (``orjson.Fragment``)."""
    return {"userData": user_data(summary), "events": list(events)}
