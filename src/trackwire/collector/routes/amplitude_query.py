"""Amplitude's Dashboard REST and Export API, answered over what the collector stored.

``GET /api/2/export``, ``/api/2/usersearch``, ``/api/2/useractivity``,
``/api/2/events/segmentation``, ``/api/2/funnels``, ``/api/2/retention``, ``/api/2/users`` and
``/api/2/revenue/ltv`` take HTTP Basic ``api_key:secret_key``: with a keys file, an
Amplitude source's API key and secret key; in development mode any key (the API key then names
the project). A request without Basic credentials is a 401 in every mode, as Amplitude answers.
A query covers every event stored under the project's name (the keys-file source name, or in
development mode the key's fingerprint: the same for a Segment write key, Amplitude API key or
mParticle key with the same text), whichever vendor's API it came through (see
:mod:`trackwire.collector.query.mapping`). Every answer is in UTC and says so in
``X-Time-Zone: UTC``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Final

import anyio
import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from trackwire.amplitude.query import charts as c
from trackwire.amplitude.query import params as p
from trackwire.collector import _http
from trackwire.collector.counters import RequestCounters
from trackwire.collector.query import charts, segmentation, users
from trackwire.collector.query.export import archive_chunks, export_line
from trackwire.collector.query.limits import QueryTimeoutError
from trackwire.collector.query.reader import QueryReader, Source
from trackwire.collector.store import StoreClosedError
from trackwire.collector.viewer.auth import Access, reader_for
from trackwire.errors import ValidationError

__all__ = ["QueryRoutes", "QueryView", "routes"]

#: Longest export range, as Amplitude allows.
MAX_EXPORT_DAYS: Final = 365
_HOUR_MS: Final = 3_600_000
#: Largest ``offset`` of user activity (SQLite's integers end at 2**63 - 1).
_MAX_OFFSET: Final = 10**12
_TZ: Final = {"X-Time-Zone": "UTC"}


#: The header the collector's web page names the Amplitude source to query with (it signs in
#: with a session, not with the source's API and secret keys).
SOURCE_HEADER: Final = "x-trackwire-source"


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json(status: int, data: Any) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json", headers=_TZ)


@dataclass(frozen=True, slots=True)
class QueryView:
    """What Amplitude's query routes use of the collector.

    Attributes:
        store: the store's query side.
        access: the keys (query credentials) and the page's sessions.
        counters: the request counters each answer is counted in.
        source: the name the Amplitude ingestion routes store a key's events under (a
            development-mode key names its project this way), or None for an unknown key.
    """

    store: QueryReader
    access: Access
    counters: RequestCounters
    source: Callable[[str], str | None]


def routes(view: QueryView) -> list[Route]:
    """Amplitude's query routes, over ``view``."""
    return QueryRoutes(view).routes()


class QueryRoutes:
    """Amplitude's query routes over a :class:`QueryView` (its store, keys and counters)."""

    def __init__(self, view: QueryView) -> None:
        self.view = view
        self.store: QueryReader = view.store

    def _count(self, status: int) -> None:
        self.view.counters.add("requests", "amplitude_query", str(status))

    def routes(self) -> list[Route]:
        """The Starlette routes."""
        return [
            Route("/api/2/export", self._export, methods=["GET"]),
            Route("/api/2/usersearch", self._usersearch, methods=["GET"]),
            Route("/api/2/useractivity", self._useractivity, methods=["GET"]),
            Route("/api/2/events/segmentation", self._segmentation, methods=["GET"]),
            Route("/api/2/funnels", self._funnels, methods=["GET"]),
            Route("/api/2/retention", self._retention, methods=["GET"]),
            Route("/api/2/users", self._users, methods=["GET"]),
            Route("/api/2/revenue/ltv", self._ltv, methods=["GET"]),
        ]

    def _project(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        named = request.headers.get(SOURCE_HEADER)
        if not header and named:
            # The web page: its session (or development mode) names the source to query.
            reader = reader_for(self.view.access, request)
            if reader is None:
                raise _Refused(401, "sign in to the collector's page first")
            if reader.source is not None and (reader.source.vendor, reader.source.name) != (
                "amplitude",
                named,
            ):
                raise _Refused(403, "this sign-in reads only its own source")
            return named
        try:
            credentials = _http.basic_credentials(header) if header else None
        except ValueError as exc:
            raise _Refused(401, str(exc)) from None
        if credentials is None or not credentials[0]:
            raise _Refused(
                401, "missing credentials: send HTTP Basic with the API key and the secret key"
            )
        api_key, secret_key = credentials
        keys = self.view.access.keys
        if keys is None:
            # Development mode: the name the ingestion routes store this key's events under.
            name = self.view.source(api_key)
            if name is None:  # pragma: no cover - every key is accepted in development mode
                raise _Refused(401, "invalid API key")
            return name
        source = keys.amplitude_query(api_key, secret_key)
        if source is None:
            raise _Refused(401, "invalid API key or secret key")
        return source.name

    async def _run(
        self, request: Request, work: Callable[[str, Mapping[str, str]], Any]
    ) -> Response:
        try:
            project = self._project(request)
            result = await run_in_threadpool(work, project, dict(request.query_params))
        except _Refused as exc:
            result = _json(exc.status, {"error": str(exc)})
        except ValidationError as exc:
            result = _json(400, {"error": str(exc)})
        except QueryTimeoutError as exc:
            result = _json(503, {"error": str(exc)})
        except StoreClosedError:
            result = _json(503, {"error": "the collector is shutting down"})
        response: Response = result if isinstance(result, Response) else _json(200, result)
        self._count(response.status_code)
        return response

    # --- export ---------------------------------------------------------------------------------

    async def _export(self, request: Request) -> Response:
        return await self._run(request, self._export_work)

    def _export_work(self, project: str, query: Mapping[str, str]) -> Response:
        for field in ("start", "end"):
            if field not in query:
                raise ValidationError(field, "required: YYYYMMDDTHH (UTC)")
        start = p.parse_hour(query["start"], "start")
        end = p.parse_hour(query["end"], "end")
        if end < start:
            raise ValidationError("end", f"{query['end']} is before start {query['start']}")
        if end - start > timedelta(days=MAX_EXPORT_DAYS):
            raise ValidationError("end", f"an export covers at most {MAX_EXPORT_DAYS} days")
        start_ms = int(start.timestamp()) * 1000
        end_ms = int(end.timestamp()) * 1000 + _HOUR_MS  # the end hour is included
        sources = self.store.project_sources(project)
        if not self.store.export_has_rows(sources, start_ms, end_ms):
            raise _Refused(404, "no data in the requested range")
        project_id = sources[0].source_id
        chunks = archive_chunks(self.store.export_pages(sources, start_ms, end_ms), project_id)
        name = f"export-{query['start']}-{query['end']}.zip"
        return StreamingResponse(
            _closing(chunks),
            media_type="application/zip",
            headers={**_TZ, "Content-Disposition": f'attachment; filename="{name}"'},
        )

    # --- users ----------------------------------------------------------------------------------

    async def _usersearch(self, request: Request) -> Response:
        return await self._run(request, self._usersearch_work)

    def _usersearch_work(self, project: str, query: Mapping[str, str]) -> dict[str, Any]:
        text = query.get("user", "")
        if not text:
            raise ValidationError("user", "required: an Amplitude ID, device ID, user ID or prefix")
        match_type, found = self.store.search_users(self.store.project_sources(project), text)
        return users.search_answer(match_type, found)

    async def _useractivity(self, request: Request) -> Response:
        return await self._run(request, self._useractivity_work)

    def _useractivity_work(self, project: str, query: Mapping[str, str]) -> dict[str, Any]:
        text = query.get("user", "")
        if not text.isascii() or not text.isdigit():
            raise ValidationError(
                "user", f"required: an Amplitude ID (a number), got {text[:40]!r}"
            )
        if len(text) > 18:
            raise ValidationError("user", f"no Amplitude ID has {len(text)} digits")
        offset = p.query_int(query, "offset", 0, 0, _MAX_OFFSET)
        limit = p.query_int(query, "limit", 1000, 1, 1000)
        direction = query.get("direction", "latest")
        if direction not in ("latest", "earliest"):
            raise ValidationError("direction", f"expected latest or earliest, got {direction!r}")
        sources = self.store.project_sources(project)
        summary = self.store.user_summary(sources, int(text))
        if summary is None:
            return users.user_activity_answer(None, [])
        source = next(s for s in sources if s.vendor == summary.vendor)
        rows = self.store.user_events(
            source, int(text), offset=offset, limit=limit, latest=direction == "latest"
        )
        project_id = sources[0].source_id
        # Each event as its export JSON, embedded as is: the response is encoded once, and no
        # event is built as a dict only to be encoded again.
        events = [orjson.Fragment(export_line(r, project_id)) for r in rows]
        return users.user_activity_answer(summary, events)

    # --- segmentation ---------------------------------------------------------------------------

    async def _segmentation(self, request: Request) -> Response:
        return await self._run(request, self._segmentation_work)

    def _segmentation_work(self, project: str, query: Mapping[str, str]) -> dict[str, Any]:
        params = p.parse_segmentation_query(query)
        plan = segmentation.plan(params)
        sources = self.store.project_sources(project)
        answers = [self._series(sources, plan, "e", 0)]
        second = segmentation.second_plan(plan)
        if second is not None:
            answers.append(self._series(sources, second, "e2", 1))
        return segmentation.combine(answers)

    def _series(
        self, sources: Sequence[Source], plan: segmentation.Plan, field: str, index: int
    ) -> dict[str, Any]:
        """One event's answer (``field`` names its parameter in errors)."""
        event_type = str(plan.params.event["event_type"])
        if not self.store.event_exists(sources, event_type):
            raise ValidationError(
                field, f"event type {event_type!r} does not exist in this project"
            )
        lead = segmentation.lead_plan(plan)
        if segmentation.needs_events(plan):
            start_ms = plan.start_ms if lead is None else lead.start_ms
            hits = self.store.event_hits(sources, replace(plan, start_ms=start_ms))
            return segmentation.window_answer(plan, lead, hits, event_index=index)
        rows, active = self.store.segmentation(sources, plan)
        lead_rows: list[segmentation.Aggregate] = []
        lead_active = None
        if lead is not None:
            lead_rows, lead_active = self.store.segmentation(sources, lead)
        return segmentation.answer(
            plan,
            rows,
            active,
            lead=lead,
            lead_rows=lead_rows,
            lead_active=lead_active,
            event_index=index,
        )

    # --- charts beyond segmentation -------------------------------------------------------------

    async def _funnels(self, request: Request) -> Response:
        steps = request.query_params.getlist("e")

        def work(project: str, query: Mapping[str, str]) -> dict[str, Any]:
            params = c.parse_funnel_query(query, steps)
            return charts.funnel(self.store, self.store.project_sources(project), params)

        return await self._run(request, work)

    async def _retention(self, request: Request) -> Response:
        def work(project: str, query: Mapping[str, str]) -> dict[str, Any]:
            params = c.parse_retention_query(query)
            return charts.retention_chart(self.store, self.store.project_sources(project), params)

        return await self._run(request, work)

    async def _users(self, request: Request) -> Response:
        def work(project: str, query: Mapping[str, str]) -> dict[str, Any]:
            params = c.parse_users_query(query)
            return charts.users(self.store, self.store.project_sources(project), params)

        return await self._run(request, work)

    async def _ltv(self, request: Request) -> Response:
        def work(project: str, query: Mapping[str, str]) -> dict[str, Any]:
            params = c.parse_ltv_query(query)
            return charts.revenue_ltv(self.store, self.store.project_sources(project), params)

        return await self._run(request, work)


async def _closing(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks, each made on a worker thread; closes the generator chain (and its read
    connection) however the response ends.

    The close runs on a worker thread too, shielded from the cancellation of a client that
    went away: it waits for the page read already under way, which must not stall the event
    loop (a sync iterator left to Starlette would be closed by the garbage collector, on the
    loop's thread).
    """
    try:
        while (chunk := await run_in_threadpool(next, chunks, None)) is not None:
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(close)
