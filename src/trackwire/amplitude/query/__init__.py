"""Amplitude's query side: export, user search, user activity, event segmentation, funnels,
retention, active/new users and revenue LTV.

:class:`AmplitudeQuery` is the stand-alone client; :class:`QueryMethods` gives the same
calls to a client that holds an :class:`AmplitudeQuery` (the Amplitude client, when it is given
a ``secret_key``). Parameters and response types live in :mod:`.params` and :mod:`.results`,
shared with the collector, which answers the same API over what it stored.
"""

from __future__ import annotations

from trackwire.amplitude.query.chart_results import ActiveUsers, Funnel, Retention, RevenueLtv
from trackwire.amplitude.query.client import DASHBOARD_URLS, AmplitudeQuery, default_query_url
from trackwire.amplitude.query.export import iter_export_events
from trackwire.amplitude.query.methods import QueryMethods
from trackwire.amplitude.query.params import INTERVALS, METRICS, OPERATORS
from trackwire.amplitude.query.results import (
    MATCH_TYPES,
    ExportResult,
    Segmentation,
    UserActivity,
    UserData,
    UserMatch,
    UserSearch,
)

__all__ = [
    "DASHBOARD_URLS",
    "INTERVALS",
    "MATCH_TYPES",
    "METRICS",
    "OPERATORS",
    "ActiveUsers",
    "AmplitudeQuery",
    "ExportResult",
    "Funnel",
    "QueryMethods",
    "Retention",
    "RevenueLtv",
    "Segmentation",
    "UserActivity",
    "UserData",
    "UserMatch",
    "UserSearch",
    "default_query_url",
    "iter_export_events",
]
