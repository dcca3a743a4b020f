"""The delivery engine: owns the buffer, the worker threads, flush, shutdown, exit and fork.

One :class:`Engine` per client. Callers hand it encoded messages (:meth:`Engine.submit`, the
hot path: one lock, one append); daemon worker threads, started on first use, take batches as
the triggers in :mod:`~trackwire._engine.batcher` say, send them through the transport, and
settle every message's receipt with the outcome the destination reads from the response.

Timing rules, because this is where SDKs usually lose data or hang:

* ``flush(timeout)`` and ``shutdown(timeout)`` compute one deadline and always return by it;
  a batch sleeping before a retry never holds them up.
* Retry sleeps wake when shutdown begins; a retry that could not happen before the shutdown
  deadline gives up at once, counted as ``shutdown``.
* An exit hook drains every live engine within its ``shutdown_timeout``, in parallel.
* After ``os.fork()`` the child gets fresh locks, an empty queue and no threads (which start
  again on first use); the parent's queued messages remain the parent's to send.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from trackwire._engine.batcher import BatchLimits, due, fit, next_wakeup
from trackwire._engine.buffer import Buffer, Queued
from trackwire._engine.receipts import (
    BatchReport,
    Counters,
    Hooks,
    Receipt,
    WarnOnce,
    reset_receipts_after_fork,
    settle_all,
)
from trackwire._engine.retry import Delivered, Outcome, Rejected, RetryPolicy, Split
from trackwire._engine.transport import HTTPRequest, HTTPResult, Transport, gzip_body
from trackwire.config import DeliveryConfig, RetryConfig
from trackwire.errors import ClientClosedError, DeliveryError

__all__ = ["Destination", "Engine", "ErrorHandler"]

logger = logging.getLogger("trackwire")

ErrorHandler = Callable[[DeliveryError, list[Any]], None]


class Destination(Protocol):
    """What the engine needs from a vendor: limits, a request per batch, and its outcome."""

    @property
    def name(self) -> str:
        """Short name for logs and thread names (``"segment"``)."""
        ...

    @property
    def limits(self) -> BatchLimits:
        """The request limits batches must stay within."""
        ...

    def request(self, messages: Sequence[bytes], retry_count: int) -> HTTPRequest:
        """The HTTP request carrying ``messages`` (uncompressed); ``retry_count`` is 0 first."""
        ...

    def outcome(self, result: HTTPResult, batch_size: int) -> Outcome:
        """What ``result`` means for the batch that was sent."""
        ...


# Every live engine, for the exit hook and the fork hook. Weak, so a client that is dropped
# is collected (its engine then needs no draining: nothing can reach its receipts either).
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


class Engine:
    """Buffers, batches and delivers encoded messages for one destination.

    Args:
        destination: the vendor's limits, request builder and response reader.
        config: delivery options.
        retry: retry options.
        transport: how requests are sent.
        hooks: the client's hooks.
        on_error: called with ``(error, messages)`` when messages finally fail.
    """

    def __init__(
        self,
        destination: Destination,
        config: DeliveryConfig,
        retry: RetryConfig,
        transport: Transport,
        hooks: Hooks,
        on_error: ErrorHandler | None = None,
    ) -> None:
        self.config = config
        self._destination = destination
        self._policy = RetryPolicy(retry)
        self._transport = transport
        self._hooks = hooks
        self._on_error = on_error
        self._closed = False
        self._init_state()
        _ENGINES.add(self)

    def _init_state(self) -> None:
        """(Re)create every lock, queue and thread handle: at start and in a forked child."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # workers wait for work here
        self._room = threading.Condition(self._lock)  # blocked callers wait for room here
        self._settled = threading.Condition(self._lock)  # flush() waits for progress here
        self._retry_sleep = threading.Condition(self._lock)  # backoff sleeps, woken by shutdown
        self._buffer = Buffer(self.config.max_queue_size, self.config.max_queue_bytes)
        self._counters = Counters()
        self._next_seq = 0
        self._flush_target = -1
        self._in_flight: dict[int, list[Queued]] = {}
        self._first_pending = self.config.send_first_immediately
        self._idle = 0
        self._blocked = 0
        self._stopping = False
        self._abandon_at: float | None = None
        self._abandoned = False
        self._workers: list[threading.Thread] = []
        self._live_workers = 0
        self._started = False
        self._warn = WarnOnce()

    # ------------------------------------------------------------------ caller side

    def submit(self, data: bytes, receipt: Receipt) -> Receipt:
        """Queue one encoded message; never blocks on I/O, never raises for delivery trouble."""
        evicted: list[Queued] = []
        size = len(data)
        with self._lock:
            buffer = self._buffer
            if self._closed:
                refused: str | None = "after_close"
            elif len(buffer) < buffer.max_items and buffer.nbytes + size <= buffer.max_bytes:
                refused = None  # the room check of Buffer.has_room, inlined: the hot path
            else:
                refused = self._make_room(size, evicted)
            if refused is None:
                seq = self._next_seq
                self._next_seq = seq + 1
                buffer.append(_new_queued(Queued, (seq, data, receipt, _monotonic())), size)
                self._counters.enqueued += 1
                if self._idle:
                    queued = len(buffer)
                    if queued == 1 or queued >= self.config.flush_at:
                        self._wake.notify()
        started = self._started
        if evicted:
            self._drop([item.receipt for item in evicted], "queue_full")
        if refused is not None:
            self._drop([receipt], refused)
        elif not started:
            self._start()
        return receipt

    def _make_room(self, size: int, evicted: list[Queued]) -> str | None:
        """Apply the full-queue policy (lock held): a drop reason, or None once there is room.

        With ``drop_oldest`` the evicted messages are appended to ``evicted`` for the caller
        to settle after releasing the lock (their callbacks must not run under it).
        """
        buffer = self._buffer
        if not buffer.could_ever_fit(size):
            return "queue_full"
        policy = self.config.on_full
        if policy == "drop_oldest":
            while not buffer.has_room(size) and len(buffer):
                evicted.append(buffer.popleft())
            return None
        if policy == "block":
            deadline = time.monotonic() + self.config.block_timeout
            self._blocked += 1
            try:
                while not buffer.has_room(size) and not self._closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return "queue_full"
                    self._room.wait(remaining)
            finally:
                self._blocked -= 1
            return "after_close" if self._closed else None
        return "queue_full"

    def drop(self, receipt: Receipt, reason: str) -> Receipt:
        """Settle a message that will not be queued (e.g. ``filtered``) like any other drop."""
        self._drop([receipt], reason)
        return receipt

    def _drop(self, receipts: list[Receipt], reason: str) -> None:
        """Settle never-sent messages as dropped, count them, tell the hooks (no lock held)."""
        if not receipts:
            return
        if reason == "after_close":
            error: DeliveryError = ClientClosedError(
                "after_close", "the client was shut down; create a new client to send more"
            )
        else:
            error = DeliveryError(reason, _DROP_TEXT.get(reason, ""))
        settled = [r for r in receipts if r._settle(error)]
        if not settled:
            return
        with self._lock:
            self._counters.dropped[reason] += len(settled)
        if reason == "filtered":  # the application asked for it: not worth a warning
            logger.debug("trackwire: %s: a middleware dropped a message", self._destination.name)
        else:
            self._warn.warn(
                reason,
                "trackwire: %s: dropped %d message(s): %s",
                self._destination.name,
                len(settled),
                error,
            )
        if self._hooks.wants("drop"):
            self._hooks.emit(
                BatchReport(
                    kind="drop",
                    count=len(settled),
                    message_ids=[r.message_id for r in settled],
                    reason=reason,
                    error=error,
                )
            )

    # ------------------------------------------------------------------ threads

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            self._workers = [thread for thread in self._workers if thread.is_alive()]
            self._live_workers += self.config.workers
            pid = self._pid
        for index in range(self.config.workers):
            thread = threading.Thread(
                target=self._run,
                args=(pid,),
                name=f"trackwire-{self._destination.name}-{index}",
                daemon=True,
            )
            try:
                thread.start()
            except RuntimeError:
                # Interpreter shutdown forbids new threads: flush() and shutdown() see no live
                # worker and send inline.
                with self._lock:
                    self._live_workers -= self.config.workers - index
                return
            self._workers.append(thread)

    def _workers_alive(self) -> bool:
        return any(thread.is_alive() for thread in self._workers)

    def _run(self, pid: int) -> None:
        exited = False
        try:
            while True:
                with self._lock:
                    batch = self._next_batch(pid, wait=True)
                    if batch is None:
                        # Unregister in the same lock hold that decided to stop: a submit
                        # that comes next sees no worker and starts one.
                        exited = True
                        self._worker_exited(pid)
                        return
                self._deliver(batch)
        finally:
            if not exited:  # pragma: no cover - _deliver catches everything
                with self._lock:
                    self._worker_exited(pid)

    def _worker_exited(self, pid: int) -> None:
        """Account for a worker that stops (lock held)."""
        if pid == self._pid:
            self._live_workers -= 1
            if self._live_workers <= 0:
                self._started = False

    def _next_batch(self, pid: int, *, wait: bool) -> list[Queued] | None:
        """Wait (lock held) until a batch is due and take it; None when the worker must stop."""
        config = self.config
        while True:
            if pid != self._pid or self._abandoned:
                return None
            buffer = self._buffer
            head = buffer.head
            now = time.monotonic()
            oldest_age = None if head is None else now - head.enqueued_at
            flush_requested = head is not None and (
                self._stopping or head.seq <= self._flush_target
            )
            if due(
                queued=len(buffer),
                oldest_age=oldest_age,
                flush_at=config.flush_at,
                flush_interval=config.flush_interval,
                flush_requested=flush_requested or not wait,
                first_message_pending=self._first_pending,
            ):
                batch = buffer.take(fit(buffer.sizes(), self._destination.limits))
                self._first_pending = False
                self._in_flight[batch[0].seq] = batch
                if self._blocked:
                    self._room.notify_all()
                return batch
            if self._stopping or not wait:
                return None
            timeout = next_wakeup(oldest_age, config.flush_interval)
            self._idle += 1
            try:
                woken = self._wake.wait(_IDLE_EXIT_SECONDS if timeout is None else timeout)
            finally:
                self._idle -= 1
            if not woken and timeout is None and not len(self._buffer):
                # Idle for long: let the thread end, so a client that is dropped without
                # shutdown() is collected instead of leaking a thread (submit restarts it).
                return None

    # ------------------------------------------------------------------ delivery

    def _deliver(self, batch: list[Queued]) -> None:
        """Send one batch to the end (splitting as told), then mark it no longer in flight."""
        try:
            parts = [batch]
            while parts:
                self._send(parts.pop(), parts)
        except Exception as exc:  # a bug, a hook or transport raising: never lose the batch
            logger.exception("trackwire: %s: delivery failed unexpectedly", self._destination.name)
            self._finish(batch, DeliveryError("internal", repr(exc)))
        finally:
            with self._lock:
                self._in_flight.pop(batch[0].seq, None)
                self._settled.notify_all()

    def _send(self, part: list[Queued], parts: list[list[Queued]]) -> None:
        destination = self._destination
        started = time.monotonic()
        retries = 0
        pending = part
        while pending:
            request = destination.request([item.data for item in pending], retries)
            if self.config.gzip:
                request = HTTPRequest(
                    request.method,
                    request.url,
                    {**request.headers, "Content-Encoding": "gzip"},
                    gzip_body(request.body, self.config.gzip_level),
                    request.timeout,
                )
            result = self._transport.send(request)
            outcome = destination.outcome(result, len(pending))
            if isinstance(outcome, Delivered):
                self._finish(pending, None, sent_bytes=len(request.body))
                return
            if isinstance(outcome, Split):
                half = len(pending) // 2
                logger.debug(
                    "trackwire: %s: splitting a batch of %d", destination.name, len(pending)
                )
                parts.append(pending[half:])
                parts.append(pending[:half])
                return
            if isinstance(outcome, Rejected):
                error = DeliveryError("rejected", outcome.reason, outcome.status)
                if outcome.indices is None:
                    self._finish(pending, error)
                    return
                bad = {i for i in outcome.indices if 0 <= i < len(pending)}
                self._finish([item for i, item in enumerate(pending) if i in bad], error)
                rest = [item for i, item in enumerate(pending) if i not in bad]
                if not outcome.resend_rest or not bad:
                    self._finish(rest, None, sent_bytes=len(request.body))
                    return
                pending = rest
                continue
            delay = self._policy.next_delay(retries, time.monotonic() - started, outcome.after)
            if delay is None:
                self._finish(
                    pending, DeliveryError("retry_exhausted", outcome.reason, outcome.status)
                )
                return
            with self._lock:
                self._counters.retries += 1
            logger.debug(
                "trackwire: %s: attempt %d failed (%s); retrying in %.2fs",
                destination.name,
                retries + 1,
                outcome.reason,
                delay,
            )
            if self._hooks.wants("retry"):
                self._hooks.emit(
                    BatchReport(
                        kind="retry",
                        count=len(pending),
                        message_ids=[item.receipt.message_id for item in pending],
                        reason=outcome.reason,
                        status=outcome.status,
                        retry_in=delay,
                        attempt=retries + 1,
                    )
                )
            if not self._sleep(delay):
                self._finish(
                    pending,
                    DeliveryError("shutdown", f"gave up at shutdown after: {outcome.reason}"),
                )
                return
            retries += 1

    def _sleep(self, delay: float) -> bool:
        """Wait ``delay`` seconds before a retry; False if shutdown's deadline comes first."""
        end = time.monotonic() + delay
        with self._lock:
            while True:
                if self._abandoned or (self._abandon_at is not None and end > self._abandon_at):
                    return False
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return True
                self._retry_sleep.wait(remaining)

    def _finish(
        self, items: Sequence[Queued], error: DeliveryError | None, sent_bytes: int = 0
    ) -> None:
        """Settle ``items`` with ``error`` (None = delivered); count and report what changed."""
        if not items:
            return
        settled = settle_all(items, error)
        if not settled:
            return
        with self._lock:
            if error is None:
                self._counters.delivered += len(settled)
                self._counters.batches += 1
                self._counters.bytes_sent += sent_bytes
            else:
                self._counters.failed[error.reason] += len(settled)
        if error is None:
            logger.debug(
                "trackwire: %s: delivered %d message(s)", self._destination.name, len(settled)
            )
            if self._hooks.wants("flush"):
                ids = [item.receipt.message_id for item in settled]
                self._hooks.emit(BatchReport(kind="flush", count=len(settled), message_ids=ids))
            return
        self._warn.warn(
            f"failed:{error.reason}",
            "trackwire: %s: %d message(s) not delivered: %s",
            self._destination.name,
            len(settled),
            error,
        )
        if self._hooks.wants("error"):
            self._hooks.emit(
                BatchReport(
                    kind="error",
                    count=len(settled),
                    message_ids=[item.receipt.message_id for item in settled],
                    reason=error.reason,
                    error=error,
                    status=error.status,
                )
            )
        if self._on_error is not None:
            try:
                self._on_error(error, [orjson.loads(item.data) for item in settled])
            except Exception:
                logger.exception("trackwire: on_error raised; ignored")

    # ------------------------------------------------------------------ flush and shutdown

    def _low_watermark(self) -> int:
        """Every message with a lower seq is settled (lock held)."""
        low = self._next_seq
        head = self._buffer.head
        if head is not None:
            low = head.seq
        if self._in_flight:
            low = min(low, min(self._in_flight))
        return low

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued before this call; True once all of it is settled in time."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        self._check_fork()
        with self._lock:
            target = self._next_seq - 1
            if self._low_watermark() > target:
                return True
            self._flush_target = max(self._flush_target, target)
            self._wake.notify_all()
            inline = not self._workers_alive()
        if inline:
            self._drain_inline(deadline)
        return self._wait_settled(target, deadline)

    def _wait_settled(self, target: int, deadline: float | None) -> bool:
        with self._lock:
            while self._low_watermark() <= target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._settled.wait(remaining)
            return True

    def _drain_inline(self, deadline: float | None) -> None:
        """Deliver in the calling thread: when no worker can run (exit, failed thread start)."""
        while deadline is None or time.monotonic() < deadline:
            with self._lock:
                batch = self._next_batch(self._pid, wait=False)
            if batch is None:
                return
            self._deliver(batch)

    def begin_shutdown(self, deadline: float) -> None:
        """Refuse new messages and ask workers to send everything by ``deadline``."""
        with self._lock:
            self._closed = True
            self._stopping = True
            self._abandon_at = deadline if self._abandon_at is None else self._abandon_at
            self._wake.notify_all()
            self._room.notify_all()
            self._retry_sleep.notify_all()

    def finish_shutdown(self, deadline: float) -> bool:
        """Wait for the drain begun by :meth:`begin_shutdown`; drop what is left at ``deadline``."""
        with self._lock:
            target = self._next_seq - 1
            inline = bool(len(self._buffer)) and not self._workers_alive()
        if inline:
            self._drain_inline(deadline)
        delivered_all = self._wait_settled(target, deadline)
        with self._lock:
            self._abandoned = True
            leftovers = self._buffer.drain()
            in_flight = [item for batch in self._in_flight.values() for item in batch]
            self._wake.notify_all()
            self._retry_sleep.notify_all()
        self._drop([item.receipt for item in leftovers], "shutdown")
        self._finish(
            in_flight, DeliveryError("shutdown", "still being sent when shutdown's time ran out")
        )
        for thread in self._workers:
            thread.join(max(0.0, min(0.2, deadline - time.monotonic())))
        _ENGINES.discard(self)
        if delivered_all:
            self._transport.close()
        return delivered_all

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush, then stop. True when everything was delivered or settled by the deadline."""
        if timeout is None:
            timeout = self.config.shutdown_timeout
        deadline = time.monotonic() + max(0.0, timeout)
        self.begin_shutdown(deadline)
        return self.finish_shutdown(deadline)

    @property
    def closed(self) -> bool:
        """True after shutdown began; new messages are refused."""
        return self._closed

    def stats(self) -> dict[str, Any]:
        """Counters and queue depth, as a plain dict."""
        with self._lock:
            in_flight = sum(len(batch) for batch in self._in_flight.values())
            return self._counters.snapshot(len(self._buffer), self._buffer.nbytes, in_flight)

    # ------------------------------------------------------------------ fork

    def _check_fork(self) -> None:
        # Backstop for forks that bypass os.register_at_fork (e.g. a raw fork() from C code).
        if os.getpid() != self._pid:
            self._after_fork_in_child()

    def _after_fork_in_child(self) -> None:
        reset = getattr(self._transport, "reset_after_fork", None)
        if callable(reset):
            reset()
        self._init_state()


# NamedTuple's generated __new__ is a Python function; tuple.__new__ builds the same object
# without it, on the path every call takes.
_new_queued = tuple.__new__
_monotonic = time.monotonic

#: Seconds a worker with nothing to do waits before its thread ends.
_IDLE_EXIT_SECONDS = 60.0

_DROP_TEXT = {
    "queue_full": "the queue is full; raise max_queue_size or use on_full='block'",
    "shutdown": "still queued when shutdown's time ran out; raise shutdown_timeout",
    "filtered": "a middleware dropped the message",
}


def _after_fork_in_child() -> None:
    reset_receipts_after_fork()
    for engine in list(_ENGINES):
        engine._after_fork_in_child()


def _shutdown_all_at_exit() -> None:
    """Drain every live engine in parallel, each within its own ``shutdown_timeout``."""
    engines = [engine for engine in list(_ENGINES) if not engine.closed]
    now = time.monotonic()
    deadlines = [now + engine.config.shutdown_timeout for engine in engines]
    for engine, deadline in zip(engines, deadlines, strict=True):
        engine.begin_shutdown(deadline)
    for engine, deadline in zip(engines, deadlines, strict=True):
        try:
            engine.finish_shutdown(deadline)
        except Exception:  # pragma: no cover - never let exit fail because of us
            logger.exception("trackwire: error while draining at exit")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_shutdown_all_at_exit)
