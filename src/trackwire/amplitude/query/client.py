"""The Amplitude query client: export, user search, user activity and event segmentation.

It speaks Amplitude's Dashboard REST and Export APIs with HTTP Basic ``api_key:secret_key``,
against Amplitude itself or anything that answers the same API, such as the trackwire
collector. Calls are synchronous and raise :class:`~trackwire.errors.QueryError` subclasses:
unlike ``track()``, a query's caller is waiting for the answer.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import IO, Any, Final

import orjson
import urllib3

from trackwire._engine.destination import basic_auth_header
from trackwire._engine.retry import parse_retry_after
from trackwire._version import __version__
from trackwire.amplitude import wire
from trackwire.amplitude.query import charts as c
from trackwire.amplitude.query import params as p
from trackwire.amplitude.query.chart_results import (
    ActiveUsers,
    Funnel,
    Retention,
    RevenueLtv,
    parse_funnel,
    parse_retention,
    parse_revenue_ltv,
    parse_users,
)
from trackwire.amplitude.query.results import (
    ExportResult,
    Segmentation,
    UserActivity,
    UserSearch,
    parse_segmentation,
    parse_user_activity,
    parse_user_search,
)
from trackwire.errors import (
    ConfigError,
    QueryAuthError,
    QueryBadRequestError,
    QueryError,
    QueryRateLimitError,
    QueryServerError,
)

__all__ = ["DASHBOARD_URLS", "DEFAULT_TIMEOUT", "AmplitudeQuery", "default_query_url"]

# Amplitude's Dashboard REST and Export API origin by server zone (written once, in wire).
DASHBOARD_URLS: Final = wire.DASHBOARD_URLS
#: Seconds to wait for a query answer (segmentation over a year can take a while).
DEFAULT_TIMEOUT: Final = 60.0
_CHUNK: Final = 64 * 1024
_EMPTY_ZIP: Final = b"PK\x05\x06" + b"\x00" * 18

#: A query string: a mapping, or pairs when a name repeats (a funnel's ``e``).
Query = Mapping[str, str] | Sequence[tuple[str, str]]

#: Progress callback of :meth:`AmplitudeQuery.export`: bytes so far, total bytes (None if
#: the server did not say).
Progress = Callable[[int, "int | None"], None]


def _zone(server_zone: str) -> str:
    zone = server_zone.upper() if isinstance(server_zone, str) else server_zone
    if zone not in DASHBOARD_URLS:
        raise ConfigError(f"server_zone must be 'US' or 'EU', got {server_zone!r}")
    return str(zone)


def default_query_url(server_url: str | None = None, server_zone: str = "US") -> str:
    """The query base for a client whose ingestion URL is ``server_url``.

    Amplitude's dashboard API for the zone when ``server_url`` is Amplitude's own (or not
    given); otherwise the same origin as ``server_url``, so a client pointed at a collector
    queries that collector.

    Raises:
        ConfigError: ``server_zone`` is not US or EU, or ``server_url`` is not an http(s) URL.
    """
    zone = _zone(server_zone)
    if not server_url:
        return DASHBOARD_URLS[zone]
    parts = urllib.parse.urlsplit(server_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"server_url must be an http(s) URL, got {server_url!r}")
    host = (parts.hostname or "").lower()
    if host == "amplitude.com" or host.endswith(".amplitude.com"):
        return DASHBOARD_URLS["EU" if ".eu." in f".{host}" else zone]
    return f"{parts.scheme}://{parts.netloc}"


def _message(body: bytes) -> str:
    """Amplitude's error text from a body: JSON ``error``/``message``, else the text."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace").strip()[:500]
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return body.decode("utf-8", "replace").strip()[:500]


def raise_for_status(status: int, body: bytes, headers: Mapping[str, str], what: str) -> None:
    """Raise the trackwire error for a non-2xx answer to ``what`` (a call name)."""
    if 200 <= status < 300:
        return
    text = _message(body)
    raw = body.decode("utf-8", "replace")[:2000]
    detail = f": {text}" if text else ""
    if status in (401, 403):
        raise QueryAuthError(
            f"{what}: HTTP {status}, the API key and secret key were refused{detail}; "
            "check both (the secret key is the project's, in Amplitude's settings)",
            status=status,
            body=raw,
        )
    if status == 429:
        after = parse_retry_after(headers.get("retry-after"), time.time())
        raise QueryRateLimitError(
            f"{what}: HTTP 429, rate limited{detail}"
            + (f"; retry after {after:g} s" if after is not None else ""),
            status=status,
            body=raw,
            retry_after=after,
        )
    if status >= 500:
        raise QueryServerError(f"{what}: HTTP {status}{detail}", status=status, body=raw)
    if 400 <= status < 500:
        raise QueryBadRequestError(
            f"{what}: HTTP {status}{detail}", status=status, body=raw, message=text
        )
    raise QueryError(f"{what}: unexpected HTTP {status}{detail}", status=status, body=raw)


class AmplitudeQuery:
    """A client of Amplitude's Dashboard REST and Export APIs.

    Args:
        api_key: the project's API key.
        secret_key: the project's secret key (Amplitude's settings, beside the API key).
        query_url: the API origin; by default Amplitude's dashboard API for ``server_zone``,
            or the origin of ``server_url`` when that is not Amplitude's.
        server_zone: ``"US"`` or ``"EU"``.
        server_url: the ingestion URL of the client this one belongs to (see ``query_url``).
        timeout: seconds to wait for each answer (and between bytes of an export).

    Raises:
        ConfigError: the API key or the secret key is missing, or a URL or zone is invalid.

    Example::

        query = AmplitudeQuery("API_KEY", "SECRET_KEY")
        days = query.event_segmentation("Song Played", "20260101", "20260131", metric="totals")
    """

    def __init__(
        self,
        api_key: str,
        secret_key: str | None,
        *,
        query_url: str | None = None,
        server_zone: str = "US",
        server_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not isinstance(api_key, str) or not api_key:
            raise ConfigError("api_key is required: the Amplitude project's API key")
        if not isinstance(secret_key, str) or not secret_key:
            raise ConfigError(
                "secret_key is required for Amplitude's query APIs (export, user search, user "
                "activity, event segmentation): pass secret_key='...' (the project's secret "
                "key, in Amplitude's project settings)"
            )
        if query_url is None:
            query_url = default_query_url(server_url, server_zone)
        else:
            _zone(server_zone)
            parts = urllib.parse.urlsplit(query_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"query_url must be an http(s) URL, got {query_url!r}")
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.query_url = query_url.rstrip("/")
        self.timeout = float(timeout)
        self._headers = {
            "Authorization": basic_auth_header(api_key, secret_key),
            "User-Agent": f"trackwire/{__version__}",
            "Accept": "application/json",
        }
        self._pool = urllib3.PoolManager(retries=False, timeout=self.timeout)

    def __repr__(self) -> str:
        # Never the keys.
        return f"AmplitudeQuery(query_url={self.query_url!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self._pool.clear()

    def __enter__(self) -> AmplitudeQuery:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- HTTP -----------------------------------------------------------------------------------

    def _url(self, path: str, query: Query) -> str:
        return f"{self.query_url}{path}?{urllib.parse.urlencode(query)}"

    def _open(self, path: str, query: Query, what: str) -> urllib3.BaseHTTPResponse:
        try:
            return self._pool.request(
                "GET", self._url(path, query), headers=self._headers, preload_content=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise QueryServerError(f"{what}: cannot reach {self.query_url}: {exc}") from exc

    def _get_json(self, path: str, query: Query, what: str) -> Any:
        response = self._open(path, query, what)
        try:
            body = response.read()
        except urllib3.exceptions.HTTPError as exc:
            raise QueryServerError(f"{what}: the answer was cut off: {exc}") from exc
        finally:
            response.release_conn()
        raise_for_status(response.status, body, response.headers, what)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise QueryServerError(
                f"{what}: the answer is not JSON ({exc})", status=response.status
            ) from exc

    # --- the calls ------------------------------------------------------------------------------

    def export(
        self,
        start: datetime | str,
        end: datetime | str,
        dest: str | os.PathLike[str] | IO[bytes],
        *,
        progress: Progress | None = None,
    ) -> ExportResult:
        """Download the raw events uploaded from ``start`` to ``end`` (hours, UTC, inclusive).

        The zip archive is streamed to ``dest`` in chunks, never held in memory. Read its
        events with :func:`~trackwire.amplitude.query.iter_export_events`.

        Args:
            start: first hour: a datetime (naive = UTC) or ``YYYYMMDDTHH``.
            end: last hour, included.
            dest: a file path (created or replaced) or a writable binary stream.
            progress: called after each chunk with (bytes so far, total or None).

        Returns:
            The size written; ``empty`` when the range held no data (Amplitude answers 404),
            in which case an empty zip archive is written.

        Raises:
            ValidationError: a bound is not a valid hour.
            QueryError: the API refused or failed (see the subclasses).
        """
        query = {"start": p.hour_param(start, "start"), "end": p.hour_param(end, "end")}
        response = self._open("/api/2/export", query, "export")
        try:
            if response.status == 404:
                response.read()
                return ExportResult(self._write_all(dest, _EMPTY_ZIP, progress), empty=True)
            if response.status != 200:
                raise_for_status(response.status, response.read(), response.headers, "export")
            length = response.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            return ExportResult(self._stream(response, dest, total, progress))
        except urllib3.exceptions.HTTPError as exc:
            raise QueryServerError(f"export: the download was cut off: {exc}") from exc
        finally:
            response.release_conn()

    def _write_all(
        self, dest: str | os.PathLike[str] | IO[bytes], data: bytes, progress: Progress | None
    ) -> int:
        if isinstance(dest, str | os.PathLike):
            with open(dest, "wb") as handle:
                handle.write(data)
        else:
            dest.write(data)
        if progress is not None:
            progress(len(data), len(data))
        return len(data)

    def _stream(
        self,
        response: urllib3.BaseHTTPResponse,
        dest: str | os.PathLike[str] | IO[bytes],
        total: int | None,
        progress: Progress | None,
    ) -> int:
        if isinstance(dest, str | os.PathLike):
            # Into a temporary name first: an interrupted download never looks complete.
            path = os.fspath(dest)
            partial = f"{path}.part"
            try:
                with open(partial, "wb") as handle:
                    written = self._copy(response, handle, total, progress)
                os.replace(partial, path)
            except BaseException:
                if os.path.exists(partial):
                    os.unlink(partial)
                raise
            return written
        return self._copy(response, dest, total, progress)

    @staticmethod
    def _copy(
        response: urllib3.BaseHTTPResponse,
        handle: IO[bytes],
        total: int | None,
        progress: Progress | None,
    ) -> int:
        written = 0
        for chunk in response.stream(_CHUNK):
            handle.write(chunk)
            written += len(chunk)
            if progress is not None:
                progress(written, total)
        return written

    def user_search(self, user: str | int) -> UserSearch:
        """Find users by Amplitude ID, device ID, user ID or user ID prefix.

        Returns:
            The matches and the match type (``match_user_or_device_id``, ``match_amplitude_id``,
            ``match_user_prefix`` or ``nomatch``; no match is not an error).

        Raises:
            QueryError: the API refused or failed.
        """
        if not isinstance(user, str | int) or isinstance(user, bool) or user == "":
            raise QueryBadRequestError("user_search: user must be a non-empty id or prefix")
        body = self._get_json("/api/2/usersearch", {"user": str(user)}, "user_search")
        return parse_user_search(body)

    def user_activity(
        self,
        amplitude_id: int | str,
        *,
        offset: int = 0,
        limit: int = 1000,
        direction: str = "latest",
    ) -> UserActivity:
        """A user's summary and events, most recent first (``direction="earliest"`` reverses).

        An unknown id answers the documented empty shape (``found`` is False), not an error.

        Args:
            amplitude_id: the user's Amplitude ID (find it with :meth:`user_search`).
            offset: events to skip, from the most recent (or earliest).
            limit: at most this many events (1 to 1000).
            direction: ``"latest"`` or ``"earliest"``.

        Raises:
            QueryError: the API refused or failed.
        """
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise QueryBadRequestError(f"user_activity: offset must be 0 or more, got {offset!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise QueryBadRequestError(f"user_activity: limit must be 1 to 1000, got {limit!r}")
        if direction not in ("latest", "earliest"):
            raise QueryBadRequestError(
                f"user_activity: direction must be 'latest' or 'earliest', got {direction!r}"
            )
        query = {
            "user": str(amplitude_id),
            "offset": str(offset),
            "limit": str(limit),
            "direction": direction,
        }
        return parse_user_activity(self._get_json("/api/2/useractivity", query, "user_activity"))

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
        """Metrics of one event over days (see :func:`~.params.segmentation_params`).

        Args:
            event: the event type, or the ``e`` object (``event_type``, ``filters``,
                ``group_by``).
            start: first day, a date or ``YYYYMMDD``.
            end: last day, included.
            metric: ``uniques`` (default), ``totals``, ``average``, ``pct_dau``, ``sums``, ...
            interval: ``hourly``, ``daily`` (default), ``weekly``, ``monthly``.
            group_by: a user property (``"country"``, ``"gp:plan"``) or
                ``{"type": "event", "value": "<event property>"}``.
            segments: ``[{"prop": "gp:plan", "op": "is", "values": ["pro"]}]``.
            limit: at most this many groups.
            event2: ``e2``, a second event answered as a second series (labels 1, ...).
            user_type: ``n``: ``"any"`` or ``"active"``.
            rolling_window: ``rollingWindow``: each value covers this many periods.
            rolling_average: ``rollingAverage``: each value averages this many periods.

        Raises:
            ValidationError: a parameter is invalid (checked before any request).
            QueryBadRequestError: Amplitude refused the query (an unknown event, ...).
            QueryError: the API refused or failed.
        """
        query = p.segmentation_params(
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
        body = self._get_json("/api/2/events/segmentation", query.query(), "event_segmentation")
        return parse_segmentation(body)

    def funnels(
        self,
        events: Sequence[str | Mapping[str, Any]],
        start: date | datetime | str,
        end: date | datetime | str,
        *,
        mode: str = "ordered",
        new_users: bool = False,
        conversion_window_s: int = c.DEFAULT_CONVERSION_S,
        interval: int | str = "daily",
        segments: Sequence[Mapping[str, Any]] = (),
        group_by: str | None = None,
        limit: int = 100,
    ) -> Funnel:
        """A funnel over ``events`` (the steps in order; see :func:`~.charts.funnel_params`).

        Raises:
            ValidationError: a parameter is invalid (checked before any request).
            QueryError: the API refused or failed.
        """
        query = c.funnel_params(
            events, start, end, mode=mode, new_users=new_users,
            conversion_window_s=conversion_window_s, interval=interval, segments=segments,
            group_by=group_by, limit=limit,
        )  # fmt: skip
        return parse_funnel(self._get_json("/api/2/funnels", query.query(), "funnels"))

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
        """Retention from ``start_event`` (``"_new"``: new users) to ``return_event`` (see
        :func:`~.charts.retention_params`).

        Raises:
            ValidationError: a parameter is invalid (checked before any request).
            QueryError: the API refused or failed.
        """
        query = c.retention_params(
            start_event, return_event, start, end, mode=mode,
            brackets=None if brackets is None else [list(b) for b in brackets],
            interval=interval, segments=segments, group_by=group_by,
        )  # fmt: skip
        return parse_retention(self._get_json("/api/2/retention", query.query(), "retention"))

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
        """Active (``metric="active"``) or new users per day, week or month.

        Raises:
            ValidationError: a parameter is invalid (checked before any request).
            QueryError: the API refused or failed.
        """
        query = c.users_params(
            start, end, metric=metric, interval=interval, segments=segments, group_by=group_by
        )
        return parse_users(self._get_json("/api/2/users", query.query(), "users"))

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
        """Lifetime value of the users new in the range (``metric``: 0/``"arpu"``,
        1/``"arppu"``, 2/``"total"``, 3/``"paying"``).

        Raises:
            ValidationError: a parameter is invalid (checked before any request).
            QueryError: the API refused or failed.
        """
        query = c.ltv_params(
            start, end, metric=metric, interval=interval, segments=segments, group_by=group_by
        )
        return parse_revenue_ltv(self._get_json("/api/2/revenue/ltv", query.query(), "revenue_ltv"))
