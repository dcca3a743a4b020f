"""The collector as a test double (development mode only): ``/_test/…``.

- ``POST /_test/reset``: forget every stored event, user, group and refused request.
- ``GET /_test/counts``: stored events by vendor, source, type and event name, and how many
  requests and events were refused.
- ``GET /_test/expect``: wait until ``count`` stored events match (``vendor``, ``source``,
  ``type``, ``event``, ``user`` and ``prop.NAME=VALUE`` / ``trait.NAME=VALUE``, where VALUE is
  read as JSON when it parses — ``3``, ``true``, ``"3"`` — and as text otherwise), answering as
  soon as they have arrived (200, with the events) or when ``timeout`` seconds (default 5, at most
  60) have passed (408, with how many matched and the nearest events, each with how it differs).
- ``GET /_test/events``: the stored events matching the same filters, oldest first, at once
  (with their violations when a plan is loaded).
- ``GET /_test/users``: users of every source of a vendor (``vendor``), found by ``user`` (a
  user id) or ``device``, with their properties now.
- ``GET /_test/bad``: the refused requests and events, newest first, each with why
  (Snowplow Micro's ``/micro/bad``); ``vendor`` and ``limit`` narrow it.
- ``GET /_test/violations``: stored events that break the tracking plan, newest first, with
  their violations (``limit``, default 100; needs ``--plan``).

They read and write through the same store and answers as the rest of the collector, so a test
in any language (curl in CI, Playwright, the pytest plugin in :mod:`trackwire.pytest_plugin`)
can drive them. They exist only without a keys file: a keyed collector holds real data.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackwire.collector._handler import json_reply
from trackwire.collector.inspection import Inspection
from trackwire.collector.matching import Expectation, nearest
from trackwire.collector.store import EventReader, StoredEvent
from trackwire.collector.viewer.auth import Access, csrf_ok

__all__ = ["MAX_EXPECT_SCAN", "MAX_EXPECT_TIMEOUT", "DoubleView", "ResettableStore", "routes"]

#: Longest ``/_test/expect`` wait, in seconds.
MAX_EXPECT_TIMEOUT: Final = 60.0
#: Newest stored events an expectation is checked against.
MAX_EXPECT_SCAN: Final = 10_000
#: Events shown as "nearest" when an expectation is not met.
_NEAREST: Final = 5


@runtime_checkable
class ResettableStore(Protocol):
    """A store that can forget everything and count by event name (the test endpoints' needs)."""

    def reset(self) -> None:
        """Delete every stored event, user, group, link and request key."""
        ...

    def event_counts(self) -> list[dict[str, Any]]:
        """``[{"vendor", "source", "type", "event", "count"}]`` over every stored event."""
        ...


@dataclass(frozen=True, slots=True)
class DoubleView:
    """What the ``/_test`` endpoints use of the collector.

    Attributes:
        store: the store's read side; reset and counts also need it to be a
            :class:`ResettableStore`.
        access: the keys (none: development mode) and the sessions a state change is checked
            against.
        inspection: the tracking plan, the refused requests and the arrival signal.
    """

    store: EventReader
    access: Access
    inspection: Inspection


def routes(view: DoubleView) -> list[Route]:
    """The ``/_test`` routes, in development mode only."""
    if not view.access.development:
        return []
    api = _TestRoutes(view)
    return [
        Route("/_test/reset", api.reset, methods=["POST"]),
        Route("/_test/counts", api.counts, methods=["GET"]),
        Route("/_test/expect", api.expect, methods=["GET"]),
        Route("/_test/events", api.events, methods=["GET"]),
        Route("/_test/users", api.users, methods=["GET"]),
        Route("/_test/bad", api.bad, methods=["GET"]),
        Route("/_test/violations", api.violations, methods=["GET"]),
    ]


def _bad_request(message: str) -> Response:
    return json_reply(400, {"error": message}).response()


def _number(params: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text[:32])
    except ValueError:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}")
    return value


def _value(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def expectation(params: Mapping[str, str]) -> Expectation:
    """The expectation a ``/_test/expect`` query describes."""
    properties = {k[5:]: _value(v) for k, v in params.items() if k.startswith("prop.") and k[5:]}
    traits = {k[6:]: _value(v) for k, v in params.items() if k.startswith("trait.") and k[6:]}
    return Expectation(
        vendor=params.get("vendor") or None,
        source=params.get("source") or None,
        type=params.get("type") or None,
        event=params.get("event") or None,
        user=params.get("user") or None,
        properties=properties,
        traits=traits,
    )


class _TestRoutes:
    def __init__(self, view: DoubleView) -> None:
        self.view = view

    def _store(self) -> ResettableStore | None:
        store = self.view.store
        return store if isinstance(store, ResettableStore) else None

    async def reset(self, request: Request) -> Response:
        if not csrf_ok(self.view.access, request):
            return json_reply(403, {"error": "a page of another origin cannot reset"}).response()
        store = self._store()
        if store is None:
            return json_reply(409, {"error": "this collector's store cannot be reset"}).response()
        await run_in_threadpool(store.reset)
        self.view.inspection.reset()
        return json_reply(200, {"ok": True}).response()

    async def counts(self, request: Request) -> Response:
        store = self._store()
        if store is None:
            return json_reply(409, {"error": "this collector's store cannot count"}).response()
        rows = await run_in_threadpool(store.event_counts)
        refused = self.view.inspection.refused.entries()
        body = {
            "total": sum(row["count"] for row in rows),
            "by": rows,
            "refused": {
                "requests": sum(1 for entry in refused if entry["kind"] == "request"),
                "events": sum(1 for entry in refused if entry["kind"] == "event"),
            },
        }
        return json_reply(200, body).response()

    async def expect(self, request: Request) -> Response:
        params = request.query_params
        try:
            count = int(_number(params, "count", 1, 1, MAX_EXPECT_SCAN))
            timeout = _number(params, "timeout", 5.0, 0.0, MAX_EXPECT_TIMEOUT)
        except ValueError as exc:
            return _bad_request(str(exc))
        wanted = expectation(params)
        arrivals = self.view.inspection.arrivals
        deadline = time.monotonic() + timeout
        while True:
            seen = arrivals.generation
            matched = await run_in_threadpool(self._matching, wanted)
            if len(matched) >= count:
                body = {
                    "ok": True,
                    "expected": count,
                    "matched": len(matched),
                    "events": [self._listed(event) for event in matched],
                }
                return json_reply(200, body).response()
            left = deadline - time.monotonic()
            if left <= 0 or not await arrivals.wait(seen, left):
                break
        recent = await run_in_threadpool(functools.partial(self.view.store.events, limit=200))
        body = {
            "ok": False,
            "expected": count,
            "matched": len(matched),
            "expectation": wanted.describe(),
            "nearest": [
                {"event": event.to_json(), "differences": differences}
                for event, differences in nearest(wanted, recent, _NEAREST)
            ],
        }
        return json_reply(408, body).response()

    def _listed(self, event: StoredEvent) -> dict[str, Any]:
        item = event.to_json()
        inspection = self.view.inspection
        if inspection.plan is not None:
            problems = inspection.violations(event.vendor, event.type, event.payload)
            item["violations"] = [violation.to_json() for violation in problems]
        return item

    def _matching(self, wanted: Expectation) -> list[StoredEvent]:
        """Every matching event among the newest :data:`MAX_EXPECT_SCAN`, oldest first."""
        found: list[StoredEvent] = []
        before: int | None = None
        scanned = 0
        while scanned < MAX_EXPECT_SCAN:
            page = self.view.store.events(
                vendor=wanted.vendor,
                source=wanted.source,
                type=wanted.type,
                user_id=wanted.user,
                event_name=wanted.event,
                limit=1000,
                before_id=before,
            )
            found += [event for event in page if wanted.matches(event)]
            scanned += len(page)
            if len(page) < 1000:
                break
            before = page[-1].id
        return found[::-1]

    async def events(self, request: Request) -> Response:
        found = await run_in_threadpool(self._matching, expectation(request.query_params))
        return json_reply(200, {"events": [self._listed(event) for event in found]}).response()

    async def users(self, request: Request) -> Response:
        params = request.query_params
        vendor = params.get("vendor") or None
        user_id = params.get("user") or None
        device_id = params.get("device") or None
        if user_id is None and device_id is None:
            return _bad_request("give user (a user id) or device (a device id)")
        store = self.view.store

        def found() -> list[dict[str, Any]]:
            sources = {
                (row["vendor"], row["source"])
                for row in store.stats()["by_source"]
                if vendor in (None, row["vendor"])
            }
            users = []
            for source_vendor, source in sorted(sources):
                state = store.user(source_vendor, source, user_id=user_id, device_id=device_id)
                if state is not None:
                    users.append(dataclasses.asdict(state))
            return users

        return json_reply(200, {"users": await run_in_threadpool(found)}).response()

    async def bad(self, request: Request) -> Response:
        try:
            limit = int(_number(request.query_params, "limit", 100, 1, 1000))
        except ValueError as exc:
            return _bad_request(str(exc))
        log = self.view.inspection.refused
        entries = log.entries(vendor=request.query_params.get("vendor") or None, limit=limit)
        return json_reply(200, {"total": log.total, "refused": entries}).response()

    async def violations(self, request: Request) -> Response:
        inspection = self.view.inspection
        if inspection.plan is None:
            return _bad_request("no tracking plan: start the collector with --plan FILE")
        try:
            limit = int(_number(request.query_params, "limit", 100, 1, 1000))
        except ValueError as exc:
            return _bad_request(str(exc))

        def listing() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            before: int | None = None
            for _ in range(MAX_EXPECT_SCAN // 1000):
                page = self.view.store.events(limit=1000, before_id=before)
                for event in page:
                    problems = inspection.violations(event.vendor, event.type, event.payload)
                    if problems:
                        item = event.to_json()
                        item["violations"] = [violation.to_json() for violation in problems]
                        found.append(item)
                        if len(found) == limit:
                            return found
                if len(page) < 1000:
                    break
                before = page[-1].id
            return found

        found = await run_in_threadpool(listing)
        return json_reply(200, {"events": found}).response()
