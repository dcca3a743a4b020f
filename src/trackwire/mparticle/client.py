"""The mParticle client: ``upload(batch)`` queues a batch; a worker sends them in bulk.

Each upload builds and checks the batch in the caller's thread, fixes its
``source_request_id`` (and each event's ``source_message_id``) so that every retry is
idempotent, encodes it once and queues the bytes. The worker packs up to 100 queued batches,
within mParticle's 256 KB request limit, into each ``/v2/bulkevents`` request.

Batches with events older than 30 days belong on ``/v2/bulkevents/historical``, and one request
goes to one endpoint, so they travel through a second internal queue to that endpoint, made on
the first old batch; flush, shutdown, hooks and middleware cover both. ``historical=True``
makes a backfill client that sends every batch there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from trackwire._client import Client, parse_options
from trackwire._engine.batcher import BatchLimits
from trackwire._engine.destination import HTTPDestination
from trackwire._engine.receipts import BatchReport, Receipt
from trackwire._engine.retry import Outcome
from trackwire._engine.transport import HTTPResult
from trackwire.errors import ConfigError
from trackwire.middleware import Middleware
from trackwire.mparticle import wire
from trackwire.mparticle.models import Batch
from trackwire.mparticle.models.checks import check_built
from trackwire.mparticle.prepare import build, is_historical, resolve_base_url
from trackwire.mparticle.schema import (
    ENVIRONMENTS,
    MAX_BATCH_BYTES,
    MAX_BULK_BATCHES,
    MAX_REQUEST_BYTES,
)

__all__ = ["MParticle", "bulk_envelope", "bulk_outcome", "destination"]

# mParticle documents no compressed requests and neither official SDK sends one: gzip is off.
# One bulk request holds up to 100 batches; waiting for 100 fills one.
_DEFAULTS: Final[Mapping[str, Any]] = {"gzip": False, "flush_at": MAX_BULK_BATCHES}
# A bulk body is "[" + batches joined by "," + "]".
_LIMITS: Final = BatchLimits(
    max_count=MAX_BULK_BATCHES, max_bytes=MAX_REQUEST_BYTES, overhead=2, separator=1
)


def bulk_envelope(batches: Sequence[bytes]) -> bytes:
    """The ``/v2/bulkevents`` body: a JSON array of the already-encoded batches."""
    return b"[" + b",".join(batches) + b"]"


def bulk_outcome(result: HTTPResult, batches: Sequence[bytes]) -> Outcome:
    """What a bulk response means for its batches (see :func:`trackwire.mparticle.wire.outcome`)."""
    return wire.outcome(result, time.time(), len(batches))


def destination(url: str, key: str, secret: str, timeout: float | None) -> HTTPDestination:
    """A bulk endpoint (``url`` ends in ``/v2/bulkevents`` or its historical twin): HTTP Basic
    with the key and secret, up to 100 batches and 256 KB per request."""
    return HTTPDestination(
        name="mparticle",
        url=url,
        limits=_LIMITS,
        envelope=bulk_envelope,
        outcome=bulk_outcome,
        basic_auth=(key, secret),
        timeout=timeout,
        retry_header="X-Retry-Count",
    )


class MParticle(Client):
    """An mParticle input: queues batches and sends them in bulk requests, in the background.

    ::

        from trackwire import mparticle as mp

        client = trackwire.MParticle("KEY", "SECRET", environment="development", pod="eu1")
        batch = mp.Batch(user_identities=mp.UserIdentities(customer_id="123456"))
        batch.add_event(mp.AppEvent("Hello World", "navigation"))
        receipt = client.upload(batch)

    Args:
        api_key: the input's (or feed's) key.
        api_secret: its secret.
        environment: ``"production"`` or ``"development"``, for batches that set none.
        host: the API base URL (``https://s2s.mparticle.com`` by default; ``/v2`` accepted).
        pod: ``"us1"``, ``"us2"``, ``"eu1"`` or ``"au1"`` instead of ``host``.
        historical: send every batch to ``/v2/bulkevents/historical`` (a backfill client);
            by default only batches with events older than 30 days go there.
        **options: the shared client options (``flush_at`` — here in batches, default 100 —
            ``flush_interval``, ``max_retries``, ``retry``, ``on_error``, ``middleware``,
            ``debug``, ``transport``, ...); ``gzip`` is off by default, since mParticle does
            not document compressed requests.

    Raises:
        ConfigError: a missing key or secret, an unknown environment, pod or option.
    """

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        environment: str | None = None,
        host: str | None = None,
        pod: str | None = None,
        historical: bool = False,
        **options: Any,
    ) -> None:
        if not isinstance(api_key, str) or not api_key:
            raise ConfigError("api_key must be a non-empty str (your mParticle input's key)")
        if not isinstance(api_secret, str) or not api_secret:
            raise ConfigError("api_secret must be a non-empty str (the input's secret)")
        if environment is not None and environment not in ENVIRONMENTS:
            raise ConfigError(f"environment must be production or development, got {environment!r}")
        self.host = resolve_base_url(host, pod)
        path = wire.HISTORICAL_PATH if historical else wire.BULK_PATH
        shared, _ = parse_options(
            options, vendor="MParticle", url=self.host + path, defaults=_DEFAULTS
        )
        timeout = shared.delivery.timeout
        super().__init__(destination(self.host + path, api_key, api_secret, timeout), shared)
        self.environment = environment
        self._historical_only = historical
        self._credentials = (api_key, api_secret)
        self._options = shared
        self._old: Client | None = None
        self._old_lock = threading.Lock()
        # What was added after construction, for the historical route made later.
        self._hook_fns: list[tuple[str, Callable[[BatchReport], None]]] = []
        self._added_middleware: list[Middleware] = []

    def __repr__(self) -> str:
        return f"<trackwire.MParticle {self.host} environment={self.environment}>"

    def upload(
        self,
        batch: Batch | Mapping[str, Any],
        *,
        callback: Callable[[Receipt], None] | None = None,
    ) -> Receipt:
        """Queue one batch (one user's data and events) for delivery.

        The batch is built, checked and encoded now: changing it afterwards changes nothing
        queued, and the same object may be uploaded again (as a new request). Its
        ``source_request_id`` (made here unless set) is kept on every retry, so mParticle
        stores it once.

        Args:
            batch: a :class:`~trackwire.mparticle.Batch`, or a dict in mParticle's JSON shape.
            callback: called with the receipt once the batch is delivered or has failed.

        Returns:
            The batch's receipt; its ``message_id`` is the ``source_request_id``.

        Raises:
            ValidationError: the batch breaks a rule or a limit (the error names the field).
            MessageTooLargeError: the encoded batch is over mParticle's 128 KB.
        """
        built = build(batch, environment=self.environment)
        client: Client = self
        # After shutdown the main queue refuses (after_close); no new route is made then.
        if not self._historical_only and not self.closed and is_historical(built):
            client = self._historical_route()
        return client._enqueue(
            built,
            message_id=built["source_request_id"],
            max_bytes=MAX_BATCH_BYTES,
            what="mParticle batch",
            recheck=check_built,
            callback=callback,
        )

    def _historical_route(self) -> Client:
        with self._old_lock:
            if self._old is None:
                url = self.host + wire.HISTORICAL_PATH
                route = destination(url, *self._credentials, self._options.delivery.timeout)
                old = Client(route, self._options)
                for hook, fn in self._hook_fns:
                    old.on(hook, fn)
                for middleware in self._added_middleware:
                    old.add_middleware(middleware)
                self._old = old
            return self._old

    # The historical route is part of this client: every control below covers it too.

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued so far and wait until it is delivered or finally failed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        done = super().flush(timeout)
        old = self._old
        if old is not None:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done = old.flush(left) and done
        return done

    async def aflush(self, timeout: float | None = None) -> bool:
        """:meth:`flush` for asyncio code: waits in a thread, not on the event loop."""
        import asyncio

        return await asyncio.to_thread(self.flush, timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush within ``timeout`` (default ``shutdown_timeout``), then stop the workers."""
        deadline = time.monotonic() + (self.config.shutdown_timeout if timeout is None else timeout)
        done = super().shutdown(timeout)
        with self._old_lock:
            old = self._old
        if old is not None:
            done = old.shutdown(max(0.0, deadline - time.monotonic())) and done
        return done

    async def ashutdown(self, timeout: float | None = None) -> bool:
        """:meth:`shutdown` for asyncio code: waits in a thread, not on the event loop."""
        import asyncio

        return await asyncio.to_thread(self.shutdown, timeout)

    def on(self, hook: str, fn: Callable[[BatchReport], None]) -> None:
        """Call ``fn(report)`` on ``"flush"``, ``"retry"``, ``"error"`` or ``"drop"``."""
        super().on(hook, fn)
        with self._old_lock:
            self._hook_fns.append((hook, fn))
            if self._old is not None:
                self._old.on(hook, fn)

    def add_middleware(self, middleware: Middleware) -> None:
        """Run ``middleware`` on every later batch (a dict), after those already added."""
        super().add_middleware(middleware)
        with self._old_lock:
            self._added_middleware.append(middleware)
            if self._old is not None:
                self._old.add_middleware(middleware)

    def stats(self) -> dict[str, Any]:
        """The shared counters; ``historical`` holds the historical route's, once it exists."""
        stats = super().stats()
        if self._old is not None:
            stats["historical"] = self._old.stats()
        return stats
