"""Typed results of the query APIs. Each keeps the decoded JSON it came from as ``raw``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "MATCH_TYPES",
    "ExportResult",
    "Segmentation",
    "UserActivity",
    "UserData",
    "UserMatch",
    "UserSearch",
    "empty_user_data",
    "parse_segmentation",
    "parse_user_activity",
    "parse_user_search",
]

#: How a user search matched, as Amplitude names it.
MATCH_TYPES: Final = (
    "match_user_or_device_id",
    "match_amplitude_id",
    "match_user_prefix",
    "nomatch",
)


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    return default


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 0.0


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What :meth:`AmplitudeQuery.export` wrote.

    Attributes:
        bytes_written: size of the zip archive written.
        empty: True when the range held no data (Amplitude's 404); an empty zip was written.
    """

    bytes_written: int
    empty: bool = False


@dataclass(frozen=True, slots=True)
class UserMatch:
    """One user search match: ``user_id``, ``amplitude_id`` and, when given, ``last_seen``."""

    user_id: str | None
    amplitude_id: int
    last_seen: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class UserSearch:
    """A user search: the matches and how they matched (one of :data:`MATCH_TYPES`)."""

    matches: list[UserMatch]
    type: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def parse_user_search(body: Any) -> UserSearch:
    """The typed result of a ``/api/2/usersearch`` body."""
    data = _dict(body)
    matches = [
        UserMatch(
            user_id=_text(item.get("user_id")),
            amplitude_id=_int(item.get("amplitude_id")),
            last_seen=_text(item.get("last_seen")),
            raw=dict(item),
        )
        for item in _list(data.get("matches"))
        if isinstance(item, Mapping)
    ]
    return UserSearch(matches=matches, type=str(data.get("type", "nomatch")), raw=data)


@dataclass(frozen=True, slots=True)
class UserData:
    """The ``userData`` summary of a user activity answer (the commonly read fields).

    Every other field (``platform``, ``country``, ``properties``, ...) is in ``raw``.
    """

    user_id: str | None
    canonical_amplitude_id: int
    merged_amplitude_ids: list[int]
    num_events: int
    num_sessions: int
    usage_time: int
    purchases: int
    revenue: float
    first_used: str | None
    last_used: str | None
    device_ids: list[str]
    last_device_id: str | None
    last_location: dict[str, Any] | None
    properties: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def empty_user_data() -> dict[str, Any]:
    """The ``userData`` Amplitude answers for an unknown Amplitude ID (documented, zeroed)."""
    return {
        "num_sessions": 0,
        "purchases": 0,
        "revenue": 0,
        "merged_amplitude_ids": [],
        "num_events": 0,
        "canonical_amplitude_id": 1,
        "user_id": None,
        "last_location": None,
        "usage_time": 0,
        "last_device_id": None,
        "device_ids": [],
    }


@dataclass(frozen=True, slots=True)
class UserActivity:
    """A user activity answer: the user summary and their events (export-style dicts)."""

    user_data: UserData
    events: list[dict[str, Any]]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def found(self) -> bool:
        """False for Amplitude's answer to an unknown id (no events, zeroed summary)."""
        return bool(self.events) or self.user_data.num_events > 0


def parse_user_activity(body: Any) -> UserActivity:
    """The typed result of a ``/api/2/useractivity`` body."""
    data = _dict(body)
    user = _dict(data.get("userData"))
    location = user.get("last_location")
    user_data = UserData(
        user_id=_text(user.get("user_id")),
        canonical_amplitude_id=_int(user.get("canonical_amplitude_id")),
        merged_amplitude_ids=[_int(i) for i in _list(user.get("merged_amplitude_ids"))],
        num_events=_int(user.get("num_events")),
        num_sessions=_int(user.get("num_sessions")),
        usage_time=_int(user.get("usage_time")),
        purchases=_int(user.get("purchases")),
        revenue=_number(user.get("revenue")),
        first_used=_text(user.get("first_used")),
        last_used=_text(user.get("last_used")),
        device_ids=[str(d) for d in _list(user.get("device_ids"))],
        last_device_id=_text(user.get("last_device_id")),
        last_location=dict(location) if isinstance(location, Mapping) else None,
        properties=_dict(user.get("properties")),
        raw=user,
    )
    events = [dict(e) for e in _list(data.get("events")) if isinstance(e, Mapping)]
    return UserActivity(user_data=user_data, events=events, raw=data)


@dataclass(frozen=True, slots=True)
class Segmentation:
    """An event segmentation answer.

    Attributes:
        series: one list per group, one value per x value.
        series_labels: one label per group (``0`` ungrouped, else ``[0, "<group value>"]``).
        series_collapsed: per group, the whole range's value (``[{"setId": "", "value": n}]``).
        x_values: the periods, ``YYYY-MM-DD`` (or ``YYYY-MM-DDTHH:MM:SS`` hourly).
        raw: the whole decoded body (``{"data": {...}}``).
    """

    series: list[list[float]]
    series_labels: list[Any]
    series_collapsed: list[list[dict[str, Any]]]
    x_values: list[str]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def label(self, index: int) -> str:
        """A readable label for series ``index`` (the group value, or the event)."""
        label = self.series_labels[index] if index < len(self.series_labels) else index
        if isinstance(label, list) and len(label) > 1:
            return str(label[1])
        return "total" if label == 0 else str(label)

    def collapsed(self, index: int) -> float:
        """The whole range's value of series ``index`` (0 when absent)."""
        entries = self.series_collapsed[index] if index < len(self.series_collapsed) else []
        return _number(entries[0].get("value")) if entries else 0.0


def parse_segmentation(body: Any) -> Segmentation:
    """The typed result of a ``/api/2/events/segmentation`` body (``{"data": {...}}``)."""
    outer = _dict(body)
    data = _dict(outer.get("data"))
    series = [[_number(v) for v in _list(row)] for row in _list(data.get("series"))]
    collapsed = [
        [dict(entry) for entry in _list(row) if isinstance(entry, Mapping)]
        for row in _list(data.get("seriesCollapsed"))
    ]
    return Segmentation(
        series=series,
        series_labels=_list(data.get("seriesLabels")),
        series_collapsed=collapsed,
        x_values=[str(x) for x in _list(data.get("xValues"))],
        raw=outer,
    )
