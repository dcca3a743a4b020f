"""The collector's own endpoints: ``GET /health``, ``/stats``, ``/events`` and, in development
mode only, ``/_faults`` (see :mod:`trackwire.collector.faults`)."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackwire._version import __version__
from trackwire.collector import _http
from trackwire.collector._handler import json_reply
from trackwire.collector._http import BodyError
from trackwire.collector.faults import FaultConfig
from trackwire.errors import ConfigError

if TYPE_CHECKING:
    from trackwire.collector.app import Collector

__all__ = ["routes"]

logger = logging.getLogger("trackwire.collector")

#: Largest ``/_faults`` configuration body.
_FAULTS_BODY_LIMIT = 64 * 1024


def routes(collector: Collector) -> list[Route]:
    """The collector's own routes."""
    api = _Admin(collector)
    found = [
        Route("/health", api.health, methods=["GET"]),
        Route("/stats", api.stats, methods=["GET"]),
        Route("/events", api.events, methods=["GET"]),
    ]
    if collector.development:
        found.append(Route("/_faults", api.faults, methods=["GET", "POST", "DELETE"]))
    return found


class _Admin:
    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    async def health(self, request: Request) -> Response:
        collector = self.collector
        body = {
            "ok": True,
            "version": __version__,
            "db": collector.db_path,
            "mode": "development" if collector.development else "keys",
            "sources": 0 if collector.keys is None else len(collector.keys),
        }
        return json_reply(200, body).response()

    async def stats(self, request: Request) -> Response:
        collector = self.collector
        stored = await run_in_threadpool(collector.store.stats)
        body = {**stored, **collector.counters.snapshot(), "faults": collector.faults.counts()}
        return json_reply(200, body).response()

    async def events(self, request: Request) -> Response:
        try:
            filters = _http.event_filters(request.query_params)
        except ValueError as exc:
            return json_reply(400, {"error": str(exc)}).response()
        found = await run_in_threadpool(functools.partial(self.collector.store.events, **filters))
        limit = filters["limit"]
        body = {
            "events": [event.to_json() for event in found],
            "next_before": found[-1].id if len(found) == limit and found else None,
        }
        return json_reply(200, body).response()

    async def faults(self, request: Request) -> Response:
        injector = self.collector.faults
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
