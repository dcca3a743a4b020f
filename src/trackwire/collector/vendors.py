"""One registry entry per vendor ingestion API, and the narrow view of the collector its
routes get.

What the collector knows about a vendor is written here once: its name, its routes, how its
key (and secret) find a source in a keys file. A route module receives an :class:`Ingestion`
bound to its vendor — the source lookup, the store's write side, the counters, the body
deadline — not the whole :class:`~trackwire.collector.app.Collector`, so it can reach nothing
else (no read side, no faults, no other vendor's keys).

To add a vendor API: write its ``routes/<vendor>.py`` with ``routes(ingestion)`` and add a
:class:`VendorAPI` to :data:`VENDOR_APIS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from trackwire.collector.counters import RequestCounters
from trackwire.collector.keys import Keys, Source, fingerprint
from trackwire.collector.store import EventRecord, EventWriter, IngestResult, Vendor

if TYPE_CHECKING:
    from starlette.routing import Route

    from trackwire.collector.inspection import Inspection

__all__ = [
    "DEFAULT_STORE_FACTOR",
    "MIN_STORE_BYTES",
    "VENDOR_APIS",
    "Ingestion",
    "VendorAPI",
    "vendor_api",
]

#: A request may store at most this many times its decompressed size. Shared batch data is
#: stored once, so a request stores about its own size plus a few columns per event.
DEFAULT_STORE_FACTOR: Final = 4.0
#: The per-request bound never goes below this (a tiny request with many tiny events).
MIN_STORE_BYTES: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class VendorAPI:
    """A vendor's ingestion API as the collector composes it.

    Attributes:
        vendor: the vendor's name (a record's, a counter's).
        title: the API's name in the vendor's documents.
        routes: builds the API's routes around an :class:`Ingestion` bound to ``vendor``.
        find: the keys-file source a key (and secret) authenticates, or None.
    """

    vendor: Vendor
    title: str
    routes: Callable[[Ingestion], list[Route]]
    find: Callable[[Keys, str, str | None], Source | None]


class Ingestion:
    """What one vendor API's routes may use of the collector.

    Args:
        vendor: the vendor the routes speak for.
        find: that vendor's key lookup (see :attr:`VendorAPI.find`).
        writer: the store's write side.
        keys: the accepted sources; None is development mode.
        counters: the collector's request counters.
        body_timeout: seconds a request's body may take to arrive; None: no limit.
        store_factor: a request may store this many times its size (see :meth:`write`).
        inspection: the tracking plan's gate and the arrival signal (see
            :mod:`trackwire.collector.inspection`); None checks nothing.

    Attributes:
        vendor: the vendor.
        counters: the collector's request counters.
        body_timeout: the body deadline in seconds, or None.
        store_factor: a request may store this many times its size.
    """

    def __init__(
        self,
        vendor: Vendor,
        find: Callable[[Keys, str, str | None], Source | None],
        writer: EventWriter,
        keys: Keys | None,
        counters: RequestCounters,
        body_timeout: float | None,
        store_factor: float = DEFAULT_STORE_FACTOR,
        *,
        inspection: Inspection | None = None,
    ) -> None:
        self.vendor: Vendor = vendor
        self._find = find
        self._writer = writer
        self._keys = keys
        self.counters = counters
        self.body_timeout = body_timeout
        self.store_factor = store_factor
        self._inspection = inspection

    def source(self, key: str, secret: str | None = None) -> str | None:
        """The name events sent with ``key`` are stored under, or None for an unknown key.

        In development mode every key is accepted and named by :func:`~.keys.fingerprint`,
        so ``/stats``, ``/events`` and logs never show a key someone could send with.
        """
        if self._keys is None:
            return fingerprint(key)
        found = self._find(self._keys, key, secret)
        return None if found is None else found.name

    def write(
        self,
        records: Sequence[EventRecord],
        request_key: str | None = None,
        *,
        request_bytes: int = 0,
    ) -> IngestResult:
        """Store one request's records (see :meth:`EventWriter.ingest`) and count the result.

        Args:
            records: the request's records.
            request_key: the request's de-duplication key, if any.
            request_bytes: the decompressed request size; the request may store at most
                ``store_factor`` times that (at least :data:`MIN_STORE_BYTES`).

        Raises:
            StorageLimitError: the request would store more than its bound.
        """
        if self._inspection is not None:
            # The tracking plan's check; in enforce mode it keeps violating events out.
            records = self._inspection.gate(self.vendor, records)
        if not records:
            return IngestResult(0, 0)
        bound = max(MIN_STORE_BYTES, int(self.store_factor * request_bytes))
        result = self._writer.ingest(records, request_key=request_key, max_bytes=bound)
        if self._inspection is not None:
            self._inspection.stored(result)
        self.counters.add("stored", self.vendor, "events", result.stored)
        self.counters.add("duplicates", self.vendor, "events", result.duplicates)
        return result


def _segment_routes(ingestion: Ingestion) -> list[Route]:
    from trackwire.collector.routes import segment

    return segment.routes(ingestion)


def _amplitude_routes(ingestion: Ingestion) -> list[Route]:
    from trackwire.collector.routes import amplitude

    return amplitude.routes(ingestion)


def _mparticle_routes(ingestion: Ingestion) -> list[Route]:
    from trackwire.collector.routes import mparticle

    return mparticle.routes(ingestion)


#: Every vendor ingestion API, in matching order.
VENDOR_APIS: Final[tuple[VendorAPI, ...]] = (
    VendorAPI(
        "segment",
        "Segment HTTP Tracking API",
        _segment_routes,
        lambda keys, key, _secret: keys.segment(key),
    ),
    VendorAPI(
        "amplitude",
        "Amplitude HTTP V2, Batch, Identify and Group Identify APIs",
        _amplitude_routes,
        # Ingestion needs the API key alone, as Amplitude's does.
        lambda keys, key, _secret: keys.amplitude(key),
    ),
    VendorAPI(
        "mparticle",
        "mParticle Events API v2",
        _mparticle_routes,
        lambda keys, key, secret: keys.mparticle(key, secret or ""),
    ),
)


def vendor_api(vendor: str) -> VendorAPI:
    """The registry entry of ``vendor``.

    Raises:
        KeyError: no vendor API has that name.
    """
    for api in VENDOR_APIS:
        if api.vendor == vendor:
            return api
    raise KeyError(vendor)
