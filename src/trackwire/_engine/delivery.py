"""Delivering one batch: attempts, what each answer means, retries, and settling the result.

:class:`BatchDelivery` is the part of the :class:`~trackwire._engine.worker.Engine` that a
worker thread runs for each batch it took: it sends the batch through the transport, asks the
destination what the answer means, and acts on the outcome — delivered, split, rejected (some
or all), throttled (some wait while the rest are resent), or retried after a backoff. It owns no
state of its own; the engine's lock, queue, receipts and counters are declared here for the
type checker and made by the engine.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter

from trackwire._engine.destination import Destination
from trackwire._engine.lifecycle import State
from trackwire._engine.queue import MessageQueue, Queued
from trackwire._engine.receipts import Receipt
from trackwire._engine.reporting import Reporter
from trackwire._engine.retry import Delivered, Rejected, Retry, RetryPolicy, Split, Throttled
from trackwire._engine.transport import HTTPRequest, HTTPResult, Transport, gzip_body
from trackwire.config import DeliveryConfig
from trackwire.errors import DeliveryError

__all__ = ["Batch", "BatchDelivery"]

logger = logging.getLogger("trackwire")

# Fields of a Queued, read in C: a batch holds thousands of messages.
_seq = itemgetter(0)
_data = itemgetter(1)

#: Seconds between early attempts of a batch in backoff while messages pile up behind it.
_PROBE_SECONDS = 2.0


class Batch:
    """Messages sent together, with their retry state (they may wait while deferred)."""

    __slots__ = ("first_seq", "items", "retries", "started")

    def __init__(self, items: list[Queued], retries: int = 0, started: float | None = None) -> None:
        self.items = items
        self.retries = retries
        self.started = time.monotonic() if started is None else started
        self.first_seq = min(map(_seq, items))


class BatchDelivery:
    """Sends batches to the end; mixed into the engine, whose state it uses."""

    config: DeliveryConfig
    _destination: Destination
    _transport: Transport
    _policy: RetryPolicy
    _lock: threading.Lock
    _settled: threading.Condition
    _wake: threading.Condition
    _room: threading.Condition
    _retry_sleep: threading.Condition
    _queue: MessageQueue
    _receipts: dict[int, Receipt]
    _reporter: Reporter
    _in_flight: dict[int, Batch]
    _deferred: list[tuple[float, int, Batch]]
    _max_count: int
    _blocked: int
    _state: State
    _abandon_at: float | None

    def _deliver(self, batch: Batch) -> None:
        """Send one batch to the end (splitting as told), then mark it no longer in flight."""
        try:
            parts = [batch]
            while parts:
                self._send(parts.pop(), parts)
        except Exception as exc:  # a bug, a hook or transport raising: never lose the batch
            logger.exception("trackwire: %s: delivery failed unexpectedly", self._destination.name)
            self._finish(batch.items, DeliveryError("internal", repr(exc)))
        finally:
            with self._lock:
                self._in_flight.pop(batch.first_seq, None)
                self._settled.notify_all()

    def _attempt(self, data: Sequence[bytes], retries: int) -> tuple[HTTPRequest, HTTPResult]:
        request = self._destination.request(data, retries)
        if self.config.gzip:
            request = HTTPRequest(
                request.method,
                request.url,
                {**request.headers, "Content-Encoding": "gzip"},
                gzip_body(request.body, self.config.gzip_level),
                request.timeout,
            )
        return request, self._transport.send(request)

    def _send(self, batch: Batch, parts: list[Batch]) -> None:
        destination = self._destination
        pending = batch.items
        resume_at: float | None = None  # end of the backoff a probe is running inside
        while pending:
            data = list(map(_data, pending))  # once per attempt: request and outcome
            request, result = self._attempt(data, batch.retries)
            outcome = destination.outcome(result, data)
            if isinstance(outcome, Delivered):
                self._finish(pending, None, result, sent_bytes=len(request.body))
                return
            if isinstance(outcome, Split):
                half = len(pending) // 2
                logger.debug(
                    "trackwire: %s: splitting a batch of %d", destination.name, len(pending)
                )
                with self._lock:
                    self._max_count = max(1, min(self._max_count, half))
                parts.append(Batch(pending[half:], batch.retries, batch.started))
                parts.append(Batch(pending[:half], batch.retries, batch.started))
                return
            if isinstance(outcome, Rejected):
                error = DeliveryError("rejected", outcome.reason, outcome.status)
                if outcome.indices is None:
                    self._finish(pending, error, result)
                    return
                bad = {i for i in outcome.indices if 0 <= i < len(pending)}
                self._finish([item for i, item in enumerate(pending) if i in bad], error, result)
                rest = [item for i, item in enumerate(pending) if i not in bad]
                if not outcome.resend_rest or not bad:
                    self._finish(rest, None, result, sent_bytes=len(request.body))
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
                    self._finish(pending, error, result)
                    return
                batch.retries += 1
                resume_at = now + delay
                self._report_retry(pending, outcome, result, batch.retries, delay)
            assert resume_at is not None
            woke = self._sleep_until(resume_at, may_probe=outcome.after is None)
            if not woke:
                error = DeliveryError("shutdown", f"gave up at shutdown after: {outcome.reason}")
                self._finish(pending, error, result, ack=False)
                return

    def _throttled(
        self, batch: Batch, pending: list[Queued], outcome: Throttled, result: HTTPResult
    ) -> list[Queued]:
        """Fail the rejected, defer the throttled; returns what is to be sent again now."""
        count = len(pending)
        rejected = {i for i in outcome.rejected if 0 <= i < count}
        waiting = (
            set(range(count)) - rejected
            if outcome.deferred is None
            else {i for i in outcome.deferred if 0 <= i < count} - rejected
        )
        error = DeliveryError("rejected", outcome.reason, outcome.status)
        self._finish([item for i, item in enumerate(pending) if i in rejected], error, result)
        deferred = [item for i, item in enumerate(pending) if i in waiting]
        if deferred:
            elapsed = time.monotonic() - batch.started
            delay = self._policy.next_delay(batch.retries, elapsed, outcome.after)
            if delay is None:
                error = DeliveryError("retry_exhausted", outcome.reason, outcome.status)
                self._finish(deferred, error, result)
            else:
                later = Batch(deferred, batch.retries + 1, batch.started)
                self._report_retry(deferred, outcome, result, later.retries, delay)
                with self._lock:
                    heapq.heappush(
                        self._deferred, (time.monotonic() + delay, later.first_seq, later)
                    )
                    self._wake.notify()
        return [item for i, item in enumerate(pending) if i not in rejected and i not in waiting]

    def _report_retry(
        self,
        items: Sequence[Queued],
        outcome: Retry | Throttled,
        result: HTTPResult,
        attempt: int,
        delay: float,
    ) -> None:
        get = self._receipts.get  # atomic reads: no lock needed (see _finish)
        receipts = [get(item.seq) for item in items]
        self._reporter.retrying(receipts, outcome.reason, outcome.status, result, attempt, delay)

    def _under_pressure(self) -> bool:
        """Messages pile up (lock held): half the queue is full or callers are blocked."""
        queue = self._queue
        return (
            self._blocked > 0
            or not queue.has_room(0)
            or len(queue) * 2 >= self.config.max_queue_size
            or queue.nbytes * 2 >= self.config.max_queue_bytes
        )

    def _sleep_until(self, resume_at: float, *, may_probe: bool) -> bool:
        """Wait until ``resume_at`` for a retry; False if shutdown's deadline comes first.

        With ``may_probe`` (no ``Retry-After`` to honour), returns early after
        ``_PROBE_SECONDS`` when messages pile up, so the batch tries again sooner.
        """
        next_probe = time.monotonic() + _PROBE_SECONDS
        with self._lock:
            while True:
                if self._state == State.CLOSED or (
                    self._abandon_at is not None and resume_at > self._abandon_at
                ):
                    return False
                now = time.monotonic()
                if now >= resume_at:
                    return True
                if may_probe and now >= next_probe:
                    if self._under_pressure():
                        return True
                    next_probe = now + _PROBE_SECONDS
                wake_at = min(resume_at, next_probe) if may_probe else resume_at
                self._retry_sleep.wait(wake_at - now)

    def _finish(
        self,
        items: Sequence[Queued],
        error: DeliveryError | None,
        response: HTTPResult | None = None,
        *,
        sent_bytes: int = 0,
        ack: bool = True,
    ) -> None:
        """Settle ``items`` with ``error`` (None = delivered); count and report what changed.

        ``ack=False`` leaves the messages in a durable queue (to be sent by a later process).
        """
        if not items:
            return
        if ack:
            with self._lock:
                self._queue.ack(items)
                if self._blocked:  # a durable queue frees its room at ack, not at take
                    self._room.notify_all()
        # Not under the lock: dict.pop is atomic, and submit() only ever adds other keys. A
        # long hold here would make every caller wait for a whole batch's bookkeeping.
        receipts = list(map(self._receipts.pop, map(_seq, items), repeat(None)))
        self._reporter.settled(receipts, items, error, response, sent_bytes)
