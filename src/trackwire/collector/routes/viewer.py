"""The collector's web page (``GET /``) and the JSON it reads beyond the public APIs.

- ``GET /``, ``GET /viewer/{file}``: the page and its static files (shipped in the wheel).
- ``GET /_viewer/session``: the mode and who is signed in (with the CSRF token);
  ``POST`` signs in with ``{"token": ...}`` (an admin token or a source's read token) and sets
  the session cookie; ``DELETE`` signs out.
- ``GET /_viewer/stream``: server-sent events: batches of newly stored events (the ``/events``
  filters apply), at most :data:`STREAM_BATCH` a batch; a ``gap`` field says when more arrived
  than a batch holds. Each connection lasts at most :data:`STREAM_SECONDS` (the browser
  reconnects on its own, from the last id it saw).
- ``GET /_viewer/events/{id}``: one event with what the collector derived from it.
- ``GET /_viewer/user?vendor&source&user``: a user's properties now and after each operation,
  its events, devices and linked identities.
- ``GET /_viewer/rates?minutes=N``: events per minute by vendor over the last N minutes, and the
  top event names.

Everything here reads as :func:`~trackwire.collector.viewer.auth.reader_for` allows: all of it in
development mode; in keyed mode an admin sees every source and a source's reader its own only.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from trackwire.collector import _http
from trackwire.collector._handler import json_reply
from trackwire.collector._values import now_ms
from trackwire.collector.faults import FaultInjector
from trackwire.collector.inspection import Inspection
from trackwire.collector.keys import Reader
from trackwire.collector.store import EventReader, StoredEvent
from trackwire.collector.viewer import history
from trackwire.collector.viewer.auth import (
    COOKIE,
    Access,
    csrf_ok,
    reader_for,
    same_origin,
    session_of,
)

__all__ = ["STREAM_BATCH", "STREAM_SECONDS", "PageView", "routes"]

#: Most events one stream message carries.
STREAM_BATCH: Final = 200
#: Seconds one stream connection lasts before the browser reconnects.
STREAM_SECONDS: Final = 25.0
#: Seconds between keep-alive comments on a quiet stream.
_KEEPALIVE: Final = 10.0
#: Static files the page is made of, and their types.
_STATIC: Final[Mapping[str, str]] = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
#: Headers on the page: nothing from elsewhere, no framing, no sniffing.
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
#: Most events scanned for the rate chart.
_RATE_SCAN: Final = 20_000


@dataclass(frozen=True, slots=True)
class PageView:
    """What the web page's endpoints use of the collector.

    Attributes:
        store: the store's read side.
        access: the keys and the sign-in sessions.
        faults: the fault injector whose state the page shows in development mode.
        inspection: the tracking plan and the arrival signal the live stream waits on.
    """

    store: EventReader
    access: Access
    faults: FaultInjector
    inspection: Inspection


def routes(view: PageView) -> list[Route]:
    """The page's routes."""
    api = _Viewer(view)
    return [
        Route("/", api.page, methods=["GET"]),
        Route("/viewer/{name}", api.static, methods=["GET"]),
        Route("/_viewer/session", api.session, methods=["GET", "POST", "DELETE"]),
        Route("/_viewer/stream", api.stream, methods=["GET"]),
        Route("/_viewer/events/{event_id}", api.event, methods=["GET"]),
        Route("/_viewer/user", api.user, methods=["GET"]),
        Route("/_viewer/rates", api.rates, methods=["GET"]),
    ]


@functools.cache
def _static(name: str) -> bytes:
    folder = resources.files("trackwire.collector.viewer").joinpath("static")
    return folder.joinpath(name).read_bytes()


def _error(status: int, message: str) -> Response:
    return json_reply(status, {"error": message}).response()


def _unauthorized() -> Response:
    return _error(401, "sign in with an admin token or a source's read token")


def _who(reader: Reader) -> Any:
    if reader.source is None:
        return "admin"
    return {"vendor": reader.source.vendor, "source": reader.source.name}


class _Viewer:
    def __init__(self, view: PageView) -> None:
        self.view = view

    # --- the page --------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        return Response(
            _static("index.html"), media_type=_STATIC["index.html"], headers=_PAGE_HEADERS
        )

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return _error(404, "no such file")
        return Response(_static(name), media_type=_STATIC[name], headers=_PAGE_HEADERS)

    # --- sessions --------------------------------------------------------------------------

    async def session(self, request: Request) -> Response:
        view = self.view
        access = view.access
        mode = "development" if access.development else "keys"
        if request.method == "GET":
            reader = reader_for(access, request)
            session = session_of(access, request)
            body: dict[str, Any] = {
                "mode": mode,
                "signed_in": reader is not None,
                "who": None if reader is None else _who(reader),
                "csrf": None if session is None else session.csrf,
                "faults": view.faults.state() if access.development else None,
            }
            return json_reply(200, body).response()
        if not same_origin(request):
            return _error(403, "sign-in must come from the collector's own page")
        if request.method == "DELETE":
            if not csrf_ok(access, request):
                return _error(403, "missing or wrong X-CSRF-Token")
            access.sessions.drop(request.cookies.get(COOKIE))
            response = json_reply(200, {"signed_in": False}).response()
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
            return response
        if access.keys is None:
            return _error(400, "development mode: there is nothing to sign in to")
        try:
            raw = await _http.read_body(request, 4096)
            token = orjson.loads(raw).get("token")
        except (_http.BodyError, orjson.JSONDecodeError, AttributeError):
            return _error(400, 'send {"token": "..."} as JSON')
        if not isinstance(token, str) or not token:
            return _error(400, 'send {"token": "..."} as JSON')
        reader = access.keys.reader(token, "")
        is_token = reader is not None and (
            reader.source is None or reader.source.read_token == token
        )
        if reader is None or not is_token:
            return _error(401, "not an admin token or a source's read token")
        session = access.sessions.create(reader)
        body = {"signed_in": True, "who": _who(reader), "csrf": session.csrf, "mode": mode}
        response = json_reply(200, body).response()
        response.set_cookie(
            COOKIE,
            session.id,
            max_age=int(access.sessions.seconds),
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    # --- the live stream -------------------------------------------------------------------

    async def stream(self, request: Request) -> Response:
        reader = reader_for(self.view.access, request)
        if reader is None:
            return _unauthorized()
        try:
            filters = _http.event_filters(request.query_params)
        except ValueError as exc:
            return _error(400, str(exc))
        scoped = reader.scope(filters)
        if scoped is None:
            return _error(403, "this sign-in reads only its own source")
        last = request.headers.get("last-event-id") or request.query_params.get("after")
        try:
            after = int(last) if last else None
        except ValueError:
            after = None
        return StreamingResponse(
            self._events(request, scoped, after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _events(
        self, request: Request, filters: dict[str, Any], after: int | None
    ) -> AsyncIterator[bytes]:
        arrivals = self.view.inspection.arrivals
        store = self.view.store
        page = {**filters, "limit": STREAM_BATCH, "before_id": None}
        yield b"retry: 1000\n\n"
        if after is None:
            newest = await run_in_threadpool(
                functools.partial(store.events, **{**page, "limit": 1})
            )
            after = newest[0].id if newest else 0
        deadline = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < deadline and not await request.is_disconnected():
            seen = arrivals.generation
            found = await run_in_threadpool(functools.partial(store.events, **page))
            fresh = [event for event in found if event.id > after]
            if fresh:
                # A full batch of fresh events may hide older ones: say how far it reaches.
                gap = len(fresh) == len(found) == STREAM_BATCH
                after = fresh[0].id
                data = {"events": [event.to_json() for event in fresh], "gap": gap}
                yield b"id: %d\ndata: %s\n\n" % (after, orjson.dumps(data))
                continue
            left = min(_KEEPALIVE, deadline - time.monotonic())
            if left <= 0:
                break
            if not await arrivals.wait(seen, left):
                yield b": keep-alive\n\n"
            else:
                # Let a burst settle so one message carries many events.
                await asyncio.sleep(0.1)

    # --- one event -------------------------------------------------------------------------

    async def event(self, request: Request) -> Response:
        reader = reader_for(self.view.access, request)
        if reader is None:
            return _unauthorized()
        try:
            event_id = int(request.path_params["event_id"][:20])
        except ValueError:
            return _error(400, "an event id is an integer")
        found = await run_in_threadpool(
            functools.partial(self.view.store.events, before_id=event_id + 1, limit=1)
        )
        if not found or found[0].id != event_id or reader.scope(_of(found[0])) is None:
            return _error(404, "no such event")
        event = found[0]
        item = event.to_json()
        item["derived"] = _derived(event)
        inspection = self.view.inspection
        if inspection.plan is not None:
            problems = inspection.violations(event.vendor, event.type, event.payload)
            item["violations"] = [violation.to_json() for violation in problems]
        return json_reply(200, item).response()

    # --- one user --------------------------------------------------------------------------

    async def user(self, request: Request) -> Response:
        reader = reader_for(self.view.access, request)
        if reader is None:
            return _unauthorized()
        params = request.query_params
        vendor, source, user = params.get("vendor"), params.get("source"), params.get("user")
        if not vendor or not source or not user:
            return _error(400, "give vendor, source and user (a user id or a device id)")
        if reader.scope({"vendor": vendor, "source": source}) is None:
            return _error(403, "this sign-in reads only its own source")
        body = await run_in_threadpool(self._user, vendor, source, user)
        if body is None:
            return _error(404, "no such user")
        return json_reply(200, body).response()

    def _user(self, vendor: str, source: str, user: str) -> dict[str, Any] | None:
        store = self.view.store
        state = store.user(vendor, source, user_id=user) or store.user(
            vendor, source, device_id=user
        )
        if state is None:
            return None
        ids = {user, state.user_id, state.device_id} - {None}
        events: dict[int, StoredEvent] = {}
        for each in ids:
            for event in store.events(vendor=vendor, source=source, user_id=each, limit=1000):
                events[event.id] = event
        ordered = sorted(events.values(), key=lambda e: e.id)
        links = store.links(vendor, source, user_id=state.user_id) if state.user_id else []
        return {
            "user": {
                "vendor": state.vendor,
                "source": state.source,
                "user_id": state.user_id,
                "device_id": state.device_id,
                "amplitude_id": state.amplitude_id,
                "first_seen_ms": state.first_seen_ms,
                "last_seen_ms": state.last_seen_ms,
                "properties": state.properties,
            },
            "history": history.property_history(vendor, source, ordered),
            "devices": sorted({e.device_id for e in ordered if e.device_id}),
            "links": [
                {"previous_id": link.previous_id, "linked_ms": link.linked_ms} for link in links
            ],
            "events": [event.to_json() for event in reversed(ordered[-200:])],
        }

    # --- charts ----------------------------------------------------------------------------

    async def rates(self, request: Request) -> Response:
        reader = reader_for(self.view.access, request)
        if reader is None:
            return _unauthorized()
        text = request.query_params.get("minutes", "60")
        if not text.isdecimal() or not 1 <= int(text[:4]) <= 1440:
            return _error(400, "minutes must be a whole number from 1 to 1440")
        minutes = int(text)
        scope = reader.scope({"vendor": None, "source": None}) or {}
        body = await run_in_threadpool(self._rates, minutes, scope)
        return json_reply(200, body).response()

    def _rates(self, minutes: int, scope: Mapping[str, Any]) -> dict[str, Any]:
        now = now_ms()
        first = (now // 60_000 - minutes + 1) * 60_000
        counts: dict[str, list[int]] = {}
        names: dict[tuple[str, str], int] = {}
        before: int | None = None
        scanned = 0
        while scanned < _RATE_SCAN:
            page = self.view.store.events(
                vendor=scope.get("vendor"),
                source=scope.get("source"),
                since_ms=first,
                limit=1000,
                before_id=before,
            )
            for event in page:
                slot = (event.received_time_ms - first) // 60_000
                if 0 <= slot < minutes:
                    counts.setdefault(event.vendor, [0] * minutes)[slot] += 1
                if event.event_name is not None:
                    key = (event.vendor, event.event_name)
                    names[key] = names.get(key, 0) + 1
            scanned += len(page)
            if len(page) < 1000:
                break
            before = page[-1].id
        top = sorted(names.items(), key=lambda item: (-item[1], item[0]))[:10]
        return {
            "start_ms": first,
            "minutes": minutes,
            "per_minute": counts,
            "top_events": [{"vendor": v, "event": n, "count": c} for (v, n), c in top],
            "complete": scanned < _RATE_SCAN,
        }


def _of(event: StoredEvent) -> dict[str, Any]:
    return {"vendor": event.vendor, "source": event.source}


def _derived(event: StoredEvent) -> dict[str, Any]:
    """What the collector worked out from the event, beside the payload as received."""
    skew = None
    if event.client_time_ms is not None:
        skew = event.received_time_ms - event.client_time_ms
    return {
        "user_id": event.user_id,
        "device_id": event.device_id,
        "amplitude_id": event.amplitude_id,
        "client_time_ms": event.client_time_ms,
        "received_time_ms": event.received_time_ms,
        "received_minus_client_ms": skew,
        "dedup_key": event.dedup_key,
        "deduplicated_by": (
            None
            if event.dedup_key is None
            else "a later message with this key is stored once (counted as a duplicate)"
        ),
    }
