"""What the collector knows beyond its store, for tests: the plan, the refused, the arrivals.

:class:`Inspection` is the collector's test-double side, composed into
:class:`~trackwire.collector.app.Collector`:

- a tracking plan (:mod:`.plan`) checked on every event the collector is about to store: in
  ``record`` mode the event is stored and its violations counted (and listed, recomputed, by
  ``/events`` and ``/_test/violations``); in ``enforce`` mode it is kept out of the store, as
  Segment Protocols, Amplitude Data and mParticle data plans block events — the request is
  still answered as accepted, so the good events beside it are stored — and listed among the
  refused with its violations;
- the refused requests and events (:mod:`.refused`), filled by :class:`RefusalRecorder`;
- the arrival signal (:mod:`.arrivals`) that ``/_test/expect`` waits on.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any, Final

from trackwire.collector.arrivals import Arrivals
from trackwire.collector.counters import RequestCounters
from trackwire.collector.plan import PlanMode, TrackingPlan, Violation
from trackwire.collector.refused import MAX_BODY_BYTES, RefusedLog
from trackwire.collector.store import EventRecord, IngestResult, expand

__all__ = ["Inspection", "RefusalRecorder", "full_message", "record_refusal", "refusal_vendor"]


def full_message(record: EventRecord) -> dict[str, Any]:
    """A record's whole message, expanded with the context it shares (as ``/events`` shows it)."""
    if record.context is None:
        return dict(record.payload)
    return expand(record.context.kind, record.context.data, dict(record.payload))


class Inspection:
    """The plan, the refused log and the arrival signal of one collector.

    Args:
        plan: the tracking plan, or None to check nothing.
        plan_mode: ``"record"`` or ``"enforce"``.
        keep_bodies: keep refused request bodies and refused events' payloads (development mode).
        counters: where plan violations are counted (``plan`` group, by vendor).
    """

    def __init__(
        self,
        *,
        plan: TrackingPlan | None,
        plan_mode: PlanMode,
        keep_bodies: bool,
        counters: RequestCounters,
    ) -> None:
        self.plan = plan
        self.plan_mode = plan_mode
        self.refused = RefusedLog(keep_bodies=keep_bodies)
        self.arrivals = Arrivals()
        self._counters = counters

    def violations(self, vendor: str, type: str, message: Any) -> list[Violation]:
        """The plan's violations for one message; none without a plan."""
        if self.plan is None or not isinstance(message, dict):
            return []
        return self.plan.check(vendor, type, message)

    def gate(self, vendor: str, records: Sequence[EventRecord]) -> Sequence[EventRecord]:
        """The records to store: all of them, or in ``enforce`` mode those that follow the plan."""
        if self.plan is None:
            return records
        kept: list[EventRecord] = []
        for record in records:
            message = full_message(record)
            found = self.plan.check(vendor, record.type, message)
            if not found:
                kept.append(record)
                continue
            self._counters.add("plan", vendor, "violating_events")
            if self.plan_mode == "enforce":
                self._counters.add("plan", vendor, "refused_events")
                problems = [violation.to_json() for violation in found]
                self.refused.event(
                    vendor, record.source, record.type, record.event_name, problems, message
                )
            else:
                kept.append(record)
        return kept

    def stored(self, result: IngestResult) -> None:
        """A request was stored: wake whoever waits for events."""
        if result.stored:
            self.arrivals.notify()

    def reset(self) -> None:
        """Forget the refused entries (the store is reset by its owner)."""
        self.refused.clear()


#: Ingestion path prefixes → vendor, for naming a refused request.
_VENDOR_PATHS: Final = (
    ("/v1/", "segment"),
    ("/2/httpapi", "amplitude"),
    ("/batch", "amplitude"),
    ("/identify", "amplitude"),
    ("/groupidentify", "amplitude"),
    ("/v2/", "mparticle"),
)


def refusal_vendor(path: str) -> str | None:
    """The vendor whose ingestion API ``path`` is, for naming a refused request; None for the
    collector's own paths."""
    for prefix, vendor in _VENDOR_PATHS:
        if path.startswith(prefix):
            return vendor
    return None


class RefusalRecorder:
    """ASGI middleware keeping every ingestion request answered with a 4xx in a :class:`RefusedLog`.

    It sits inside fault injection, so an injected failure is not mistaken for a bad request.
    The request's body is teed as it is read (up to :data:`~.refused.MAX_BODY_BYTES`, as
    received on the wire), the answer's body likewise; nothing is kept for other answers.
    """

    def __init__(self, app: Any, refused: RefusedLog) -> None:
        self.app = app
        self.refused = refused

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        vendor = refusal_vendor(str(scope.get("path", ""))) if scope["type"] == "http" else None
        if vendor is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        answer = bytearray()
        status = 0

        async def receiving() -> Any:
            message = await receive()
            if message["type"] == "http.request" and len(body) < MAX_BODY_BYTES + 1:
                body.extend(message.get("body", b"")[: MAX_BODY_BYTES + 1 - len(body)])
            return message

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and 400 <= status < 500:
                answer.extend(message.get("body", b"")[: MAX_BODY_BYTES - len(answer)])
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        finally:
            if 400 <= status < 500:
                record_refusal(self.refused, vendor, scope, status, bytes(answer), bytes(body))


def record_refusal(
    refused: RefusedLog, vendor: str, scope: Any, status: int, answer: bytes, body: bytes
) -> None:
    """Keep a request answered ``status`` (a 4xx) with ``answer``: ``body`` is the start of its
    body as received (at least :data:`~.refused.MAX_BODY_BYTES` + 1 bytes when it had more)."""
    kept = _inflated(body[: MAX_BODY_BYTES + 1], _header(scope, b"content-encoding"))
    path = str(scope["path"])[:200]
    refused.request(vendor, path, status, answer[:MAX_BODY_BYTES], kept)


def _header(scope: Any, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1").strip().lower()
    return ""


def _inflated(body: bytes, encoding: str) -> bytes:
    """The start of a compressed body, inflated as far as it goes (it may be cut short)."""
    if encoding not in ("gzip", "deflate"):
        return body
    try:
        # 47: accept a gzip or a zlib header.
        return zlib.decompressobj(47).decompress(body, MAX_BODY_BYTES)
    except zlib.error:
        return body
