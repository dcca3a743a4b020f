"""The collector's own endpoints: ``GET /health``, ``/stats``, ``/events`` and, in development
mode only, ``/_faults`` (see :mod:`trackwire.collector.faults`).

In development mode (loopback only) they are open. In keyed mode each needs a credential in
``Authorization``: an admin token from the keys file (``Bearer TOKEN``, or as the Basic user)
reads every source; a source's own credentials as HTTP Basic (Segment ``WRITE_KEY:``, Amplitude
``API_KEY:SECRET_KEY``, mParticle ``KEY:SECRET``) read that source only. ``/health`` without a
credential says only that the server is up.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Final

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackwire._version import __version__
from trackwire.collector import _http
from trackwire.collector._handler import Reply, json_reply
from trackwire.collector._http import BodyError
from trackwire.collector.counters import RequestCounters
from trackwire.collector.faults import FaultConfig, FaultInjector
from trackwire.collector.inspection import Inspection
from trackwire.collector.keys import Reader
from trackwire.collector.store import EventReader
from trackwire.collector.viewer.auth import PAGE_HEADER, Access, csrf_ok, reader_for
from trackwire.errors import ConfigError

__all__ = ["AdminView", "routes"]

logger = logging.getLogger("trackwire.collector")

#: Largest ``/_faults`` configuration body.
_FAULTS_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class AdminView:
    """What the collector's own endpoints use of it.

    Attributes:
        store: the store's read side (``/stats``, ``/events``).
        access: the keys and sessions that decide who may read.
        counters: the request counters shown by ``/stats``.
        faults: the fault injector ``/_faults`` reconfigures.
        inspection: the tracking plan ``/events`` lists violations of.
        db_path: the database location ``/health`` shows an admin.
    """

    store: EventReader
    access: Access
    counters: RequestCounters
    faults: FaultInjector
    inspection: Inspection
    db_path: str = ""


def routes(view: AdminView) -> list[Route]:
    """The collector's own routes."""
    api = _Admin(view)
    found = [
        Route("/health", api.health, methods=["GET"]),
        Route("/stats", api.stats, methods=["GET"]),
        Route("/events", api.events, methods=["GET"]),
    ]
    if view.access.development:
        found.append(Route("/_faults", api.faults, methods=["GET", "POST", "DELETE"]))
    return found


_UNAUTHORIZED: Final = {"WWW-Authenticate": 'Basic realm="trackwire collector"'}


def _reader(view: AdminView, request: Request) -> Reader | None:
    """Who the request's credentials (or the web page's session) let read."""
    return reader_for(view.access, request)


def _unauthorized(request: Request) -> Response:
    text = "send an admin token (Bearer) or the source's credentials (HTTP Basic)"
    # The web page handles a 401 itself; a Basic challenge would make the browser open its
    # own password dialog over it.
    headers = {} if request.headers.get(PAGE_HEADER) else _UNAUTHORIZED
    return Reply(401, orjson.dumps({"error": text}), headers=headers).response()


class _Admin:
    def __init__(self, view: AdminView) -> None:
        self.view = view

    async def health(self, request: Request) -> Response:
        view = self.view
        reader = _reader(view, request)
        if reader is None:
            # Unauthenticated: that the server is up, nothing about what it holds or where.
            return json_reply(200, {"ok": True}).response()
        body: dict[str, Any] = {
            "ok": True,
            "version": __version__,
            "mode": "development" if view.access.development else "keys",
        }
        if reader.source is None:
            body["db"] = view.db_path
            keys = view.access.keys
            body["sources"] = 0 if keys is None else len(keys)
        return json_reply(200, body).response()

    async def stats(self, request: Request) -> Response:
        view = self.view
        reader = _reader(view, request)
        if reader is None:
            return _unauthorized(request)
        stored = await run_in_threadpool(view.store.stats)
        if reader.source is not None:
            # A source sees its own stored counts; the request counters span every source.
            mine = [
                row
                for row in stored["by_source"]
                if (row["vendor"], row["source"]) == (reader.source.vendor, reader.source.name)
            ]
            body = {"total": sum(row["count"] for row in mine), "by_source": mine}
            return json_reply(200, body).response()
        body = {**stored, **view.counters.snapshot(), "faults": view.faults.counts()}
        return json_reply(200, body).response()

    async def events(self, request: Request) -> Response:
        reader = _reader(self.view, request)
        if reader is None:
            return _unauthorized(request)
        try:
            filters = _http.event_filters(request.query_params)
        except ValueError as exc:
            return json_reply(400, {"error": str(exc)}).response()
        if reader.source is not None:
            scoped = reader.scope(filters)
            if scoped is None:
                text = (
                    f"this credential reads only {reader.source.vendor} source {reader.source.name}"
                )
                return json_reply(403, {"error": text}).response()
            filters = scoped
        found = await run_in_threadpool(functools.partial(self.view.store.events, **filters))
        limit = filters["limit"]
        inspection = self.view.inspection
        listed = [event.to_json() for event in found]
        if inspection.plan is not None:
            # Recomputed on every listing: a violation is a function of the plan and the event.
            for item, event in zip(listed, found, strict=True):
                problems = inspection.violations(event.vendor, event.type, event.payload)
                item["violations"] = [violation.to_json() for violation in problems]
        body = {
            "events": listed,
            "next_before": found[-1].id if len(found) == limit and found else None,
        }
        return json_reply(200, body).response()

    async def faults(self, request: Request) -> Response:
        injector = self.view.faults
        if request.method != "GET" and not csrf_ok(self.view.access, request):
            return json_reply(
                403, {"error": "a page of another origin cannot change faults"}
            ).response()
        if request.method == "DELETE":
            injector.configure(FaultConfig())
        elif request.method == "POST":
            try:
                raw = await _http.read_body(request, _FAULTS_BODY_LIMIT)
                config = FaultConfig.from_json(orjson.loads(raw))
            except (BodyError, orjson.JSONDecodeError, ConfigError) as exc:
                return json_reply(400, {"error": str(exc)}).response()
            injector.configure(config)
            logger.warning("fault injection reconfigured: %s", config.to_json())
        return json_reply(200, injector.state()).response()
