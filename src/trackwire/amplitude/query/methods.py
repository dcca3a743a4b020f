"""The query calls for a client that holds an :class:`AmplitudeQuery`.

The Amplitude client mixes :class:`QueryMethods` in and, in its ``__init__``, calls
:meth:`QueryMethods._init_query` with its own keys and URLs. Without a ``secret_key`` the client
still sends events; only a query call then raises :class:`~trackwire.errors.ConfigError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import IO, Any

from trackwire.amplitude.query.chart_results import ActiveUsers, Funnel, Retention, RevenueLtv
from trackwire.amplitude.query.charts import DEFAULT_CONVERSION_S
from trackwire.amplitude.query.client import DEFAULT_TIMEOUT, AmplitudeQuery, Progress
from trackwire.amplitude.query.results import ExportResult, Segmentation, UserActivity, UserSearch
from trackwire.errors import ConfigError

__all__ = ["QueryMethods"]


class QueryMethods:
    """``export``, ``user_search``, ``user_activity``, ``event_segmentation``, ``funnels``,
    ``retention``, ``users`` and ``revenue_ltv`` for a client.

    The query client is made on first use, so a client that never queries opens no pool.
    """

    _query_client: AmplitudeQuery | None = None

    def _init_query(
        self,
        api_key: str,
        secret_key: str | None,
        *,
        server_url: str | None = None,
        server_zone: str = "US",
        query_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Remember the query settings; checks the URL and zone now, the secret at first call.

        Raises:
            ConfigError: the zone or a URL is invalid (a missing secret is only an error when
                a query is made).
        """
        if secret_key:
            # Build it now so bad settings fail at construction, where they were given.
            self._query_client = AmplitudeQuery(
                api_key,
                secret_key,
                query_url=query_url,
                server_zone=server_zone,
                server_url=server_url,
                timeout=timeout,
            )

    @property
    def query(self) -> AmplitudeQuery:
        """The query client.

        Raises:
            ConfigError: the client was made without ``secret_key``.
        """
        if self._query_client is None:
            raise ConfigError(
                "secret_key is required for Amplitude's query APIs (export, user search, user "
                "activity, event segmentation): create the client with secret_key='...' (the "
                "project's secret key, in Amplitude's project settings)"
            )
        return self._query_client

    def export(
        self,
        start: datetime | str,
        end: datetime | str,
        dest: str | os.PathLike[str] | IO[bytes],
        *,
        progress: Any = None,
    ) -> ExportResult:
        """See :meth:`AmplitudeQuery.export`."""
        callback: Progress | None = progress
        return self.query.export(start, end, dest, progress=callback)

    def user_search(self, user: str | int) -> UserSearch:
        """See :meth:`AmplitudeQuery.user_search`."""
        return self.query.user_search(user)

    def user_activity(
        self,
        amplitude_id: int | str,
        *,
        offset: int = 0,
        limit: int = 1000,
        direction: str = "latest",
    ) -> UserActivity:
        """See :meth:`AmplitudeQuery.user_activity`."""
        return self.query.user_activity(
            amplitude_id, offset=offset, limit=limit, direction=direction
        )

    def event_segmentation(
        self,
        event: str | Mapping[str, Any],
        start: date | datetime | str,
        end: date | datetime | str,
        *,
        metric: str = "uniques",
        interval: int | str = "daily",
        group_by: str | Mapping[str, Any] | None = None,
        segments: Sequence[Mapping[str, Any]] = (),
        limit: int = 100,
        event2: str | Mapping[str, Any] | None = None,
        user_type: str = "any",
        rolling_window: int | None = None,
        rolling_average: int | None = None,
    ) -> Segmentation:
        """See :meth:`AmplitudeQuery.event_segmentation`."""
        return self.query.event_segmentation(
            event,
            start,
            end,
            metric=metric,
            interval=interval,
            group_by=group_by,
            segments=segments,
            limit=limit,
            event2=event2,
            user_type=user_type,
            rolling_window=rolling_window,
            rolling_average=rolling_average,
        )

    def funnels(
        self,
        events: Sequence[str | Mapping[str, Any]],
        start: date | datetime | str,
        end: date | datetime | str,
        *,
        mode: str = "ordered",
        new_users: bool = False,
        conversion_window_s: int = DEFAULT_CONVERSION_S,
        interval: int | str = "daily",
        segments: Sequence[Mapping[str, Any]] = (),
        group_by: str | None = None,
        limit: int = 100,
    ) -> Funnel:
        """See :meth:`AmplitudeQuery.funnels`."""
        return self.query.funnels(
            events, start, end, mode=mode, new_users=new_users,
            conversion_window_s=conversion_window_s, interval=interval, segments=segments,
            group_by=group_by, limit=limit,
        )  # fmt: skip

    def retention(
        self,
        start_event: str | Mapping[str, Any],
        return_event: str | Mapping[str, Any],
        start: date | datetime | str,
        end: date | datetime | str,
        *,
        mode: str = "n-day",
        brackets: Sequence[Sequence[int]] | None = None,
        interval: int | str = "daily",
        segments: Sequence[Mapping[str, Any]] = (),
        group_by: str | None = None,
    ) -> Retention:
        """See :meth:`AmplitudeQuery.retention`."""
        return self.query.retention(
            start_event, return_event, start, end, mode=mode, brackets=brackets,
            interval=interval, segments=segments, group_by=group_by,
        )  # fmt: skip

    def users(
        self,
        start: date | datetime | str,
        end: date | datetime | str,
        *,
        metric: str = "active",
        interval: int | str = "daily",
        segments: Sequence[Mapping[str, Any]] = (),
        group_by: str | None = None,
    ) -> ActiveUsers:
        """See :meth:`AmplitudeQuery.users`."""
        return self.query.users(
            start, end, metric=metric, interval=interval, segments=segments, group_by=group_by
        )

    def revenue_ltv(
        self,
        start: date | datetime | str,
        end: date | datetime | str,
        *,
        metric: int | str = 0,
        interval: int | str = "daily",
        segments: Sequence[Mapping[str, Any]] = (),
        group_by: str | None = None,
    ) -> RevenueLtv:
        """See :meth:`AmplitudeQuery.revenue_ltv`."""
        return self.query.revenue_ltv(
            start, end, metric=metric, interval=interval, segments=segments, group_by=group_by
        )
