"""The collector's ASGI application: the vendors' ingestion APIs and a window on what arrived.

One set of routes per vendor API (:mod:`trackwire.collector.routes`), each answering exactly as
the vendor documents (statuses, bodies, content types) so that trackwire and the vendors' own
SDKs work against it unchanged:

- Segment: ``POST /v1/batch`` (and its alias ``/v1/import``), ``/v1/{identify,track,page,
  screen,group,alias}``.
- Amplitude: ``POST /2/httpapi``, ``/batch`` (JSON) and ``/identify``, ``/groupidentify``
  (form-encoded).
- mParticle: ``POST /v2/events``, ``/v2/bulkevents``, ``/v2/bulkevents/historical``.
- The collector's own: ``GET /health``, ``GET /stats``, ``GET /events`` and, in development
  mode only, ``/_faults`` (see :mod:`trackwire.collector.faults`).

Bodies are read with a size cap (:mod:`trackwire.collector._http`), then parsed with orjson,
checked with the vendor's ``wire`` rules and stored in one :meth:`EventWriter.ingest` call per
request, all in a worker thread (:mod:`trackwire.collector._handler`) so the event loop only
moves bytes. Each route module documents its decisions where the vendor's documents leave room.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from starlette.applications import Starlette

from trackwire.collector import routes
from trackwire.collector._deadlines import DEFAULT_BODY_TIMEOUT
from trackwire.collector.access import AccessLog
from trackwire.collector.counters import RequestCounters
from trackwire.collector.faults import FaultConfig, FaultInjector, FaultMiddleware
from trackwire.collector.inspection import Inspection, RefusalRecorder
from trackwire.collector.keys import Keys, fingerprint
from trackwire.collector.plan import PlanMode, TrackingPlan
from trackwire.collector.store import EventRecord, IngestResult, Store, Vendor
from trackwire.collector.viewer.auth import Sessions

__all__ = ["DEFAULT_STORE_FACTOR", "MIN_STORE_BYTES", "Collector", "create_app"]

#: A request may store at most this many times its decompressed size. Shared batch data is
#: stored once, so a request stores about its own size plus a few columns per event.
DEFAULT_STORE_FACTOR: Final = 4.0
#: The per-request bound never goes below this (a tiny request with many tiny events).
MIN_STORE_BYTES: Final = 1024 * 1024


class Collector:
    """The collector application: an ASGI callable and the state behind it.

    Args:
        store: where accepted events go; the collector does not close it.
        keys: the accepted sources; None is development mode (any key, admin endpoint on).
        faults: faults to inject (a configuration or a shared injector); None injects none.
        db_path: the database location shown by ``/health``.
        body_timeout: seconds a request's body may take to arrive (then 408); None: no limit.
        store_factor: a request may store at most this many times its decompressed size
            (at least :data:`MIN_STORE_BYTES`); past it the vendor's "too large" answer.
        plan: a tracking plan every event is checked against (see :mod:`.plan`).
        plan_mode: ``"record"`` stores events that break the plan and lists their violations;
            ``"enforce"`` keeps them out of the store, among the refused.

    Attributes:
        store: the store.
        keys: the accepted sources, or None in development mode.
        faults: the fault injector; reconfigure it at any time.
        counters: request, rejection and storage counters shown by ``/stats``.
        sessions: the web page's sign-in sessions (keyed mode).
        inspection: the tracking plan, the refused requests and events, and the arrival signal
            behind the ``/_test`` endpoints (see :mod:`.inspection`).
        starlette: the inner Starlette application (without fault injection).
    """

    def __init__(
        self,
        store: Store,
        *,
        keys: Keys | None = None,
        faults: FaultConfig | FaultInjector | None = None,
        db_path: str = "",
        body_timeout: float | None = DEFAULT_BODY_TIMEOUT,
        store_factor: float = DEFAULT_STORE_FACTOR,
        plan: TrackingPlan | None = None,
        plan_mode: PlanMode = "record",
    ) -> None:
        self.store = store
        self.store_factor = store_factor
        self.body_timeout = body_timeout
        self.keys = keys
        self.faults = faults if isinstance(faults, FaultInjector) else FaultInjector(faults)
        self.counters = RequestCounters()
        self.db_path = db_path
        self.sessions = Sessions()
        self.inspection = Inspection(
            plan=plan, plan_mode=plan_mode, keep_bodies=keys is None, counters=self.counters
        )
        self.starlette = Starlette(routes=routes.build(self))
        recorder = RefusalRecorder(self.starlette, self.inspection.refused)
        self._asgi = AccessLog(FaultMiddleware(recorder, self.faults))

    @property
    def development(self) -> bool:
        """True without a keys file: any key is accepted and ``/_faults`` is available."""
        return self.keys is None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI entry point."""
        await self._asgi(scope, receive, send)

    def source(self, vendor: Vendor, key: str, secret: str | None = None) -> str | None:
        """The name events sent with ``key`` are stored under, or None for an unknown key.

        In development mode every key is accepted and named by :func:`~.keys.fingerprint`.

        Args:
            vendor: the vendor whose key it is.
            key: the Segment write key, Amplitude API key or mParticle key.
            secret: the mParticle secret (checked in keyed mode); unused for the others.
        """
        if self.keys is None:
            # Development mode: stored under a fingerprint, so /stats, /events and logs never
            # show a key someone could send with.
            return fingerprint(key)
        if vendor == "segment":
            found = self.keys.segment(key)
        elif vendor == "amplitude":
            found = self.keys.amplitude(key)
        else:
            found = self.keys.mparticle(key, secret or "")
        return None if found is None else found.name

    def write(
        self,
        vendor: Vendor,
        records: Sequence[EventRecord],
        request_key: str | None = None,
        *,
        request_bytes: int = 0,
    ) -> IngestResult:
        """Store one request's records (see :meth:`EventWriter.ingest`) and count the result.

        Args:
            vendor: the vendor the request came to.
            records: its records.
            request_key: the request's de-duplication key, if any.
            request_bytes: the decompressed request size; the request may store at most
                ``store_factor`` times that (at least :data:`MIN_STORE_BYTES`).

        Raises:
            StorageLimitError: the request would store more than its bound.
        """
        records = self.inspection.gate(vendor, records)
        if not records:
            return IngestResult(0, 0)
        bound = max(MIN_STORE_BYTES, int(self.store_factor * request_bytes))
        result = self.store.ingest(records, request_key=request_key, max_bytes=bound)
        self.inspection.stored(result)
        self.counters.add("stored", vendor, "events", result.stored)
        self.counters.add("duplicates", vendor, "events", result.duplicates)
        return result


def create_app(
    store: Store,
    *,
    keys: Keys | None = None,
    faults: FaultConfig | FaultInjector | None = None,
    db_path: str = "",
    body_timeout: float | None = DEFAULT_BODY_TIMEOUT,
    plan: TrackingPlan | None = None,
    plan_mode: PlanMode = "record",
) -> Collector:
    """Build the collector application (see :class:`Collector` for the arguments).

    The result is an ASGI application: run it under uvicorn, or use
    :func:`trackwire.collector.server.start_collector` to get it running on a free port.
    """
    return Collector(
        store,
        keys=keys,
        faults=faults,
        db_path=db_path,
        body_timeout=body_timeout,
        plan=plan,
        plan_mode=plan_mode,
    )
