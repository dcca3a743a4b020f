"""The mParticle client: ``upload(batch)`` queues a batch; a worker sends them in bulk.

Each upload builds and checks the batch in the caller's thread, fixes its
``source_request_id`` (and each event's ``source_message_id``) so every retry is idempotent,
encodes it once and queues the bytes. The worker packs up to 100 queued batches, within
mParticle's 256 KB request limit, into each ``/v2/bulkevents`` request. Batches whose events
are older than 30 days belong on ``/v2/bulkevents/historical``: they go through a second,
internal queue to that endpoint, created on first use (or every batch does, with
``historical=True``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from trackwire._client import Client, ClientOptions, parse_options
from trackwire._engine.batcher import BatchLimits
from trackwire._engine.destination import HTTPDestination
from trackwire._engine.receipts import Receipt
from trackwire._engine.retry import Outcome
from trackwire._engine.transport import HTTPResult
from trackwire.errors import ConfigError
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

__all__ = ["MParticle"]

# mParticle documents no gzip support and neither official SDK compresses: off by default.
# A bulk request holds up to 100 batches; waiting for 100 fills one.
_DEFAULTS: Final[Mapping[str, Any]] = {"gzip": False, "flush_at": MAX_BULK_BATCHES}
_LIMITS: Final = BatchLimits(
    max_count=MAX_BULK_BATCHES, max_bytes=MAX_REQUEST_BYTES, overhead=2, separator=1
)


def bulk_envelope(batches: Sequence[bytes]) -> bytes:
    """The ``/v2/bulkevents`` body: a JSON array of the already-encoded batches."""
    return b"[" + b",".join(batches) + b"]"


def bulk_outcome(result: HTTPResult, batches: Sequence[bytes]) -> Outcome:
    """What a bulk response means for its batches (see :func:`~.wire.outcome`)."""
    return wire.outcome(result, time.time(), len(batches))


def _destination(
    name: str, url: str, key: str, secret: str, options: ClientOptions
) -> HTTPDestination:
    return HTTPDestination(
        name=name,
        url=url,
        limits=_LIMITS,
        envelope=bulk_envelope,
        outcome=bulk_outcome,
        basic_auth=(key, secret),
        timeout=options.delivery.timeout,
        retry_header="X-Retry-Count",
    )


class MParticle(Client):
    """An mParticle input: queues batches and sends them in bulk, in the background.

    ::

        client = trackwire.MParticle("KEY", "SECRET", environment="development", pod="eu1")
        batch = mparticle.Batch(user_identities=mparticle.UserIdentities(customer_id="42"))
        batch.add_event(mparticle.AppEvent("Hello World", "navigation"))
        receipt = client.upload(batch)

    Args:
        api_key: the input's (or feed's) key.
        api_secret: its secret.
        environment: ``"production"`` or ``"development"``, for batches that set none.
        host: the API base URL (``https://s2s.mparticle.com`` by default; ``/v2`` accepted).
        pod: ``"us1"``, ``"us2"``, ``"eu1"`` or ``"au1"`` instead of ``host``.
        historical: send every batch to ``/v2/bulkevents/historical`` (a backfill client).
            By default only batches with events older than 30 days go there.
        **options: the shared client options (``flush_at``, which defaults to 100 batches
            here, ``flush_interval``, ``max_retries``, ``on_error``, ``debug``, ...); ``gzip``
            defaults to off, since mParticle does not document compressed requests.

    Raises:
        ConfigError: a missing key or secret, an invalid option.
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
            raise ConfigError("api_secret must be a non-empty str (your mParticle input's secret)")
        if environment is not None and environment not in ENVIRONMENTS:
            raise ConfigError(f"environment must be production or development, got {environment!r}")
        shared, _own = parse_options(dict(options), vendor="mparticle", defaults=_DEFAULTS)
        self.host = resolve_base_url(host, pod)
        self.environment = environment
        self._historical_only = historical
        path = wire.HISTORICAL_PATH if historical else wire.BULK_PATH
        super().__init__(
            _destination("mparticle", self.host + path, api_key, api_secret, shared), shared
        )
        # The historical route, made on the first old batch: its own queue and worker, the
        # same options (transport, callbacks, middleware).
        self._route_old: Callable[[], MParticle] | None = None
        if not historical:
            self._route_old = lambda: MParticle(
                api_key, api_secret, environment=environment, host=self.host,
                historical=True, **options,
            )  # fmt: skip
        self._old: MParticle | None = None

    def upload(
        self,
        batch: Batch | Mapping[str, Any],
        *,
        callback: Callable[[Receipt], None] | None = None,
    ) -> Receipt:
        """Queue one batch (one user's data and events) for delivery.

        The batch is built, checked and encoded now; changing it afterwards changes nothing
        that was queued. Its ``source_request_id`` (made here unless set) is kept on every
        retry, so mParticle stores it once.

        Args:
            batch: a :class:`~trackwire.mparticle.Batch`, or a dict in mParticle's JSON shape.
            callback: called with the receipt once the batch is delivered or has failed.

        Returns:
            The batch's receipt; its ``message_id`` is the ``source_request_id``.

        Raises:
            ValidationError: the batch breaks a rule or limit (names the field).
            MessageTooLargeError: the encoded batch is over 128 KB.
        """
        built = build(batch, environment=self.environment)
        if not self._historical_only and is_historical(built):
            return self._historical_client().upload(built, callback=callback)
        return self._enqueue(
            built,
            message_id=built["source_request_id"],
            max_bytes=MAX_BATCH_BYTES,
            what="batch",
            recheck=check_built,
            callback=callback,
        )

    def _historical_client(self) -> MParticle:
        if self._old is None:
            assert self._route_old is not None
            self._old = self._route_old()
        return self._old
