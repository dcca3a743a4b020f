"""The mParticle client: ``upload(batch)`` queues a batch; a worker sends them in bulk.

Each upload builds and checks the batch in the caller's thread, fixes its
``source_request_id`` (and each event's ``source_message_id``) so that every retry is
idempotent, encodes it once and queues the bytes. The worker packs up to 100 queued batches,
within mParticle's 256 KB request limit, into each ``/v2/bulkevents`` request.

Batches with events older than 30 days belong on ``/v2/bulkevents/historical``, and one request
goes to one endpoint, so they travel on a second lane of the client (see
:class:`trackwire._client.Lane`), added on the first old batch; flush, shutdown, hooks,
middleware and ``stats()["historical"]`` cover it as they cover the main one.
``historical=True`` makes a backfill client that sends every batch there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from trackwire._client import Client, Lane, ReplaySpec, parse_options
from trackwire._engine.batcher import BatchLimits
from trackwire._engine.destination import HTTPDestination
from trackwire._engine.receipts import Receipt
from trackwire._engine.retry import Outcome
from trackwire._engine.transport import HTTPResult
from trackwire.errors import ConfigError
from trackwire.mparticle import wire
from trackwire.mparticle.fast import build_plain
from trackwire.mparticle.models import Batch
from trackwire.mparticle.models.checks import check_built
from trackwire.mparticle.prepare import build, is_historical, resolve_base_url
from trackwire.mparticle.schema import (
    ENVIRONMENTS,
    MAX_BATCH_BYTES,
    MAX_BULK_BATCHES,
    MAX_REQUEST_BYTES,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from 3.11; annotations only

    from trackwire.config import SharedOptions

__all__ = ["MParticle", "bulk_envelope", "bulk_outcome", "destination"]

# mParticle documents no compressed requests and neither official SDK sends one: gzip is off.
# One bulk request holds up to 100 batches; waiting for 100 fills one.
_DEFAULTS: Final[Mapping[str, Any]] = {"gzip": False, "flush_at": MAX_BULK_BATCHES}
# A bulk body is "[" + batches joined by "," + "]".
#: The lane of batches with events older than 30 days (``stats()["historical"]``).
_HISTORICAL: Final = "historical"
_LIMITS: Final = BatchLimits(
    max_count=MAX_BULK_BATCHES, max_bytes=MAX_REQUEST_BYTES, overhead=2, separator=1
)


#: The ``/v2/bulkevents`` body (kept under this name for callers of the client module).
bulk_envelope: Final = wire.bulk_body


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
        **options: Unpack[SharedOptions],
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
            dict(options), vendor="MParticle", url=self.host + path, defaults=_DEFAULTS
        )
        timeout = shared.delivery.timeout
        replay = ReplaySpec.of(
            MParticle, api_key, api_secret, environment=environment, host=host, pod=pod,
            historical=historical or None, **options,
        )  # fmt: skip
        main = destination(self.host + path, api_key, api_secret, timeout)
        super().__init__(main, shared, replay=replay)
        self.environment = environment
        self._historical_only = historical
        self._credentials = (api_key, api_secret)
        self._historical_lock = threading.Lock()

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
        built = None
        if batch.__class__ is Batch and not self._middleware.items:
            # The common batch: built, checked and given its ids in one pass (mparticle.fast).
            built = build_plain(batch, self.environment)
        if built is None:
            # Checked once: here, or after the middleware when there is any (the recheck below).
            built = build(batch, environment=self.environment, check=not self._middleware.items)
        lane = None
        # After shutdown the main queue refuses (after_close); no lane is added then.
        if not self._historical_only and not self.closed and is_historical(built):
            lane = self._historical_lane()
        return self._enqueue(
            built,
            message_id=built["source_request_id"],
            max_bytes=MAX_BATCH_BYTES,
            what="mParticle batch",
            recheck=check_built,
            callback=callback,
            lane=lane,
        )

    def _historical_lane(self) -> Lane | None:
        """The lane to ``/v2/bulkevents/historical``, added on the first old batch.

        None once the client is shut down: the main lane then refuses the batch.
        """
        lane = self.lanes.get(_HISTORICAL)
        if lane is not None:
            return lane
        with self._historical_lock:
            lane = self.lanes.get(_HISTORICAL)
            if lane is None:
                url = self.host + wire.HISTORICAL_PATH
                route = destination(url, *self._credentials, self.config.timeout)
                try:
                    lane = self.add_lane(_HISTORICAL, route)
                except ConfigError:  # shut down since the caller looked
                    return None
            return lane
