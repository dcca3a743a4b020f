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
from typing import Any

from starlette.applications import Starlette

from trackwire.collector import routes
from trackwire.collector._deadlines import DEFAULT_BODY_TIMEOUT
from trackwire.collector.access import AccessLog
from trackwire.collector.counters import RequestCounters
from trackwire.collector.faults import FaultConfig, FaultInjector, FaultMiddleware
from trackwire.collector.ingest_front import IngestFront
from trackwire.collector.inspection import Inspection, RefusalRecorder
from trackwire.collector.keys import Keys
from trackwire.collector.plan import PlanMode, TrackingPlan
from trackwire.collector.routes.admin import AdminView
from trackwire.collector.routes.amplitude_query import QueryView
from trackwire.collector.routes.testing import DoubleView
from trackwire.collector.routes.viewer import PageView
from trackwire.collector.store import EventRecord, IngestResult, Store, Vendor
from trackwire.collector.vendors import (
    DEFAULT_STORE_FACTOR,
    MIN_STORE_BYTES,
    Ingestion,
    vendor_api,
)
from trackwire.collector.viewer.auth import Access, Sessions

__all__ = ["DEFAULT_STORE_FACTOR", "MIN_STORE_BYTES", "Collector", "create_app"]


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
        access: the keys and the sessions, which decide who may read (see
            :mod:`trackwire.collector.viewer.auth`).
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
        self._store_factor = store_factor
        self.body_timeout = body_timeout
        self.keys = keys
        self.faults = faults if isinstance(faults, FaultInjector) else FaultInjector(faults)
        self.counters = RequestCounters()
        self.db_path = db_path
        self.sessions = Sessions()
        self.access = Access(keys, self.sessions)
        self.inspection = Inspection(
            plan=plan, plan_mode=plan_mode, keep_bodies=keys is None, counters=self.counters
        )
        self._ingestions: dict[Vendor, Ingestion] = {}
        self.starlette = Starlette(routes=routes.build(self))
        recorder = RefusalRecorder(self.starlette, self.inspection.refused)
        full = AccessLog(FaultMiddleware(recorder, self.faults))
        # Vendor ingestion POSTs skip the stack's layers, with the same logs, faults, refusals.
        self._asgi = IngestFront(self.starlette, full, self.faults, self.inspection.refused)

    @property
    def store_factor(self) -> float:
        """A request may store at most this many times its decompressed size."""
        return self._store_factor

    @store_factor.setter
    def store_factor(self, value: float) -> None:
        self._store_factor = value
        for ingestion in self._ingestions.values():
            ingestion.store_factor = value

    @property
    def development(self) -> bool:
        """True without a keys file: any key is accepted and ``/_faults`` is available."""
        return self.keys is None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI entry point."""
        await self._asgi(scope, receive, send)

    def ingestion(self, vendor: Vendor) -> Ingestion:
        """The view of this collector that ``vendor``'s ingestion routes get (see
        :mod:`trackwire.collector.vendors`)."""
        ingestion = self._ingestions.get(vendor)
        if ingestion is None:
            api = vendor_api(vendor)
            ingestion = self._ingestions[vendor] = Ingestion(
                vendor,
                api.find,
                self.store,
                self.keys,
                self.counters,
                self.body_timeout,
                self._store_factor,
                inspection=self.inspection,
            )
        return ingestion

    def query_view(self) -> QueryView:
        """The view of this collector Amplitude's query routes get."""
        source = self.ingestion("amplitude").source
        return QueryView(self.store, self.access, self.counters, source)

    def admin_view(self) -> AdminView:
        """The view of this collector its own endpoints (``/health``, ``/stats``, ``/events``,
        ``/_faults``) get."""
        return AdminView(
            self.store, self.access, self.counters, self.faults, self.inspection, self.db_path
        )

    def double_view(self) -> DoubleView:
        """The view of this collector the ``/_test`` endpoints get."""
        return DoubleView(self.store, self.access, self.inspection)

    def page_view(self) -> PageView:
        """The view of this collector the web page's endpoints get."""
        return PageView(self.store, self.access, self.faults, self.inspection)

    def source(self, vendor: Vendor, key: str, secret: str | None = None) -> str | None:
        """The name events sent with ``key`` to ``vendor`` are stored under, or None for an
        unknown key (see :meth:`Ingestion.source`)."""
        return self.ingestion(vendor).source(key, secret)

    def write(
        self,
        vendor: Vendor,
        records: Sequence[EventRecord],
        request_key: str | None = None,
        *,
        request_bytes: int = 0,
    ) -> IngestResult:
        """Store one request's records and count the result (see :meth:`Ingestion.write`).

        Raises:
            StorageLimitError: the request would store more than its bound.
        """
        return self.ingestion(vendor).write(records, request_key, request_bytes=request_bytes)


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
