"""Delivering one batch: attempts, what each answer means, retries, and settling the result.

A :class:`Sender` is what a worker thread runs for each batch it took: it sends the batch
through the transport, asks the destination what the answer means, and acts on the outcome —
delivered, split, rejected (some or all), throttled (some wait while the rest are resent), or
retried after a backoff. The engine owns the sender and keeps every piece of shared state (the
lock, the queue, the receipts, the counters); the sender changes it only through the narrow
:class:`BatchHost` interface the engine implements, so this module holds no lock of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from operator import itemgetter
from typing import Protocol

from trackwire._engine.destination import Destination
from trackwire._engine.queue import QueuedItem
from trackwire._engine.retry import Delivered, Rejected, Retry, RetryPolicy, Split, Throttled
from trackwire._engine.transport import HTTPRequest, HTTPResult, Transport, gzip_body
from trackwire.config import DeliveryConfig
from trackwire.errors import DeliveryError

__all__ = ["Batch", "BatchHost", "Sender"]


logger = logging.getLogger("trackwire")

# Fields of a queued message, read in C: a batch holds thousands of messages.
_seq = itemgetter(0)
_data = itemgetter(1)

#: Seconds between early attempts of a batch in backoff while messages pile up behind it.
_PROBE_SECONDS = 2.0


class Batch:
    """Messages sent together, with their retry state (they may wait while deferred)."""

    __slots__ = ("first_seq", "items", "retries", "started")

    def __init__(
        self, items: Sequence[QueuedItem], retries: int = 0, started: float | None = None
    ) -> None:
        self.items = items
        self.retries = retries
        self.started = time.monotonic() if started is None else started
        self.first_seq = min(map(_seq, items))


class BatchHost(Protocol):
    """What a :class:`Sender` asks of the engine that owns it (the engine's state stays there)."""

    def settle(
        self,
        items: Sequence[QueuedItem],
        error: DeliveryError | None,
        response: HTTPResult | None = None,
        *,
        sent_bytes: int = 0,
        ack: bool = True,
    ) -> None:
        """Settle ``items`` (delivered when ``error`` is None); ``ack=False`` keeps them on disk."""
        ...

    def report_retry(
        self,
        items: Sequence[QueuedItem],
        outcome: Retry | Throttled,
        result: HTTPResult,
        attempt: int,
        delay: float,
    ) -> None:
        """Tell the hooks and counters that ``items`` will be sent again in ``delay`` seconds."""
        ...

    def defer(self, batch: Batch, delay: float) -> None:
        """Hold ``batch`` for ``delay`` seconds, then hand it to a worker again."""
        ...

    def limit_batch_count(self, count: int) -> None:
        """Take at most ``count`` messages per batch from now on (the server said 413)."""
        ...

    def wait_for_retry(self, resume_at: float, probe_every: float | None) -> bool:
        """Wait until ``resume_at``; False if shutdown's deadline comes first.

        With ``probe_every``, returns early every ``probe_every`` seconds while messages pile
        up behind the batch.
        """
        ...

    def batch_done(self, batch: Batch) -> None:
        """``batch`` is no longer in flight (every message of it is settled or deferred)."""
        ...


class Sender:
    """Delivers one batch at a time to the end, for the engine that owns it.

    Args:
        destination: the vendor's request builder and response reader.
        transport: how requests are sent.
        policy: when a failed batch is tried again.
        config: the client's delivery options (gzip).
        host: the engine whose state the outcome changes.
    """

    __slots__ = ("_destination", "_gzip_level", "_host", "_policy", "transport")

    def __init__(
        self,
        destination: Destination,
        transport: Transport,
        policy: RetryPolicy,
        config: DeliveryConfig,
        host: BatchHost,
    ) -> None:
        self._destination = destination
        self.transport = transport
        self._policy = policy
        self._gzip_level = config.gzip_level if config.gzip else None
        self._host = host

    def deliver(self, batch: Batch) -> None:
        """Send one batch to the end (splitting as told), then mark it no longer in flight."""
        try:
            parts = [batch]
            while parts:
                self._send(parts.pop(), parts)
        except Exception as exc:  # a bug, a hook or transport raising: never lose the batch
            logger.exception("trackwire: %s: delivery failed unexpectedly", self._destination.name)
            self._host.settle(batch.items, DeliveryError("internal", repr(exc)))
        finally:
            self._host.batch_done(batch)

    def _attempt(self, data: Sequence[bytes], retries: int) -> tuple[HTTPRequest, HTTPResult]:
        request = self._destination.request(data, retries)
        if self._gzip_level is not None:
            request = HTTPRequest(
                request.method,
                request.url,
                {**request.headers, "Content-Encoding": "gzip"},
                gzip_body(request.body, self._gzip_level),
                request.timeout,
            )
        return request, self.transport.send(request)

    def _send(self, batch: Batch, parts: list[Batch]) -> None:
        destination = self._destination
        host = self._host
        pending = batch.items
        resume_at: float | None = None  # end of the backoff a probe is running inside
        while pending:
            data = list(map(_data, pending))  # once per attempt: request and outcome
            request, result = self._attempt(data, batch.retries)
            outcome = destination.outcome(result, data)
            if isinstance(outcome, Delivered):
                host.settle(pending, None, result, sent_bytes=len(request.body))
                return
            if isinstance(outcome, Split):
                half = len(pending) // 2
                logger.debug(
                    "trackwire: %s: splitting a batch of %d", destination.name, len(pending)
                )
                host.limit_batch_count(max(1, half))
                parts.append(Batch(pending[half:], batch.retries, batch.started))
                parts.append(Batch(pending[:half], batch.retries, batch.started))
                return
            if isinstance(outcome, Rejected):
                error = DeliveryError("rejected", outcome.reason, outcome.status)
                if outcome.indices is None:
                    host.settle(pending, error, result)
                    return
                bad = {i for i in outcome.indices if 0 <= i < len(pending)}
                host.settle([item for i, item in enumerate(pending) if i in bad], error, result)
                rest = [item for i, item in enumerate(pending) if i not in bad]
                if not outcome.resend_rest or not bad:
                    host.settle(rest, None, result, sent_bytes=len(request.body))
                    return
                pending = rest
                continue
            if isinstance(outcome, Throttled):
                pending = self._throttled(batch, pending, outcome, result)
                continue
            # Retry: the batch may succeed later.
            now = time.monotonic()
            probing = resume_at is not None and now < resume_at
            if not probing:
                delay = self._policy.next_delay(batch.retries, now - batch.started, outcome.after)
                if delay is None:
                    error = DeliveryError("retry_exhausted", outcome.reason, outcome.status)
                    host.settle(pending, error, result)
                    return
                batch.retries += 1
                resume_at = now + delay
                host.report_retry(pending, outcome, result, batch.retries, delay)
            assert resume_at is not None
            # An early try needs no Retry-After to honour: the server's word is kept.
            woke = host.wait_for_retry(
                resume_at, probe_every=_PROBE_SECONDS if outcome.after is None else None
            )
            if not woke:
                error = DeliveryError("shutdown", f"gave up at shutdown after: {outcome.reason}")
                host.settle(pending, error, result, ack=False)
                return

    def _throttled(
        self, batch: Batch, pending: Sequence[QueuedItem], outcome: Throttled, result: HTTPResult
    ) -> Sequence[QueuedItem]:
        """Fail the rejected, defer the throttled; returns what is to be sent again now."""
        count = len(pending)
        rejected = {i for i in outcome.rejected if 0 <= i < count}
        waiting = (
            set(range(count)) - rejected
            if outcome.deferred is None
            else {i for i in outcome.deferred if 0 <= i < count} - rejected
        )
        host = self._host
        error = DeliveryError("rejected", outcome.reason, outcome.status)
        host.settle([item for i, item in enumerate(pending) if i in rejected], error, result)
        deferred = [item for i, item in enumerate(pending) if i in waiting]
        if deferred:
            elapsed = time.monotonic() - batch.started
            delay = self._policy.next_delay(batch.retries, elapsed, outcome.after)
            if delay is None:
                error = DeliveryError("retry_exhausted", outcome.reason, outcome.status)
                host.settle(deferred, error, result)
            else:
                later = Batch(deferred, batch.retries + 1, batch.started)
                host.report_retry(deferred, outcome, result, later.retries, delay)
                host.defer(later, delay)
        return [item for i, item in enumerate(pending) if i not in rejected and i not in waiting]
