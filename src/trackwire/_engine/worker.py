"""The delivery engine: owns the queue, the worker threads, flush and shutdown.

One :class:`Engine` per client. Callers hand it encoded messages (:meth:`Engine.submit`, the
hot path: one lock, one append); daemon worker threads, started on first use, take batches as
the triggers in :mod:`~trackwire._engine.batcher` say, and hand each one to the engine's
:class:`~trackwire._engine.delivery.Sender`, which sends it, reads the destination's outcome,
retries or settles every message's receipt. The sender changes the engine's state only through
the engine's ``BatchHost`` methods (``settle``, ``defer``, ``wait_for_retry``, ...).

The engine knows no vendor: a :class:`~trackwire._engine.destination.Destination` says what a
request looks like and what a response means, a
:class:`~trackwire._engine.queue.MessageQueue` holds what waits (in memory or on disk), and the
receipts live here, beside the queue, keyed by the sequence number the queue hands out.

Timing rules, because this is where SDKs usually lose data or hang:

* ``flush(timeout)`` and ``shutdown(timeout)`` compute one deadline and always return by it;
  a batch sleeping before a retry never holds them up.
* Retry sleeps wake when shutdown begins; a retry that could not happen before the shutdown
  deadline gives up at once, counted as ``shutdown``.
* While messages pile up behind a batch that waits out a backoff, the batch tries again every
  couple of seconds (without spending a retry), so delivery resumes soon after an outage ends
  instead of after the full backoff while new calls are refused.
* At exit and after ``os.fork()`` :mod:`~trackwire._engine.lifecycle` drains every engine,
  or gives the child fresh locks, an empty queue and no threads.
"""

from __future__ import annotations

import heapq
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, cast

from trackwire._engine import ledger as ledger_module
from trackwire._engine import lifecycle
from trackwire._engine.batcher import due, fit, next_wakeup
from trackwire._engine.buffer import Buffer
from trackwire._engine.delivery import Batch, Sender
from trackwire._engine.destination import Destination
from trackwire._engine.ledger import Ledger
from trackwire._engine.lifecycle import State
from trackwire._engine.memory_queue import MemoryQueue
from trackwire._engine.queue import MessageQueue, Queued, QueuedItem
from trackwire._engine.receipts import Hooks, Receipt
from trackwire._engine.reporting import ErrorHandler, Reporter
from trackwire._engine.retry import Retry, RetryPolicy, Throttled
from trackwire._engine.threads import start_background
from trackwire._engine.transport import HTTPResult, Transport
from trackwire.config import DeliveryConfig, RetryConfig
from trackwire.errors import DeliveryError

__all__ = ["Engine", "ErrorHandler", "QueueFactory", "State", "buffer_queue", "default_queue"]

logger = logging.getLogger("trackwire")

#: Makes the engine's queue: at start and again in a forked child. The default
#: :class:`~trackwire._engine.memory_queue.MemoryQueue` binds each call's receipt to its ledger
#: itself; for any other :class:`~trackwire._engine.queue.MessageQueue` (the spool) the engine
#: does, by the sequence number the queue hands out.
QueueFactory = Callable[[DeliveryConfig], MessageQueue | MemoryQueue]


def default_queue(config: DeliveryConfig) -> MemoryQueue:
    """The default queue: bounded memory, as the config says; receipts read the ledger."""
    return MemoryQueue(config.max_queue_size, config.max_queue_bytes)


def buffer_queue(config: DeliveryConfig) -> MessageQueue:
    """Bounded memory as a plain :class:`~trackwire._engine.queue.MessageQueue` (a fallback)."""
    return Buffer(config.max_queue_size, config.max_queue_bytes)


class Engine:
    """Queues, batches and delivers encoded messages for one destination.

    Args:
        destination: the vendor's limits, request builder and response reader.
        config: delivery options.
        retry: retry options.
        transport: how requests are sent.
        hooks: the client's hooks.
        on_error: called with ``(error, messages)`` when messages finally fail.
        queue_factory: makes the queue (default: bounded memory); called again after a fork.
    """

    def __init__(
        self,
        destination: Destination,
        config: DeliveryConfig,
        retry: RetryConfig,
        transport: Transport,
        hooks: Hooks,
        on_error: ErrorHandler | None = None,
        queue_factory: QueueFactory = default_queue,
    ) -> None:
        self.config = config
        self._destination = destination
        self._transport = transport
        # Delivering a batch is the sender's job; it changes the engine's state only through
        # the BatchHost methods below (settle, defer, wait_for_retry, ...).
        self._sender = Sender(destination, transport, RetryPolicy(retry), config, self)
        self._hooks = hooks
        self._on_error = on_error
        self._queue_factory = queue_factory
        self._init_state()
        lifecycle.register(self)
        if len(self._queue):  # a durable queue holding messages an earlier process left
            self._start()

    def _init_state(self) -> None:
        """(Re)create every lock, queue and thread handle: at start and in a forked child."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # workers wait for work here
        self._room = threading.Condition(self._lock)  # blocked callers wait for room here
        self._settled = threading.Condition(self._lock)  # flush() waits for progress here
        self._retry_sleep = threading.Condition(self._lock)  # backoff sleeps, woken by shutdown
        self._queue = self._queue_factory(self.config)
        queue = self._queue
        # What became of every queued message, by seq: the engine keeps no receipt.
        self._ledger = queue.ledger if isinstance(queue, MemoryQueue) else Ledger()
        # Message ids of a MessageQueue's messages, by seq, for the hooks (a MemoryQueue's
        # entries carry theirs).
        self._message_ids: dict[int, str | None] = {}
        # Bound once: submit() is the path every call takes.
        self._try_put = queue.try_put if isinstance(queue, MemoryQueue) else self._offer
        self._flush_at = self.config.flush_at
        self._reporter = Reporter(
            self._destination.name, self._lock, self._hooks, self._on_error, self._ledger
        )
        self._counters = self._reporter.counters
        self._flush_target = -1
        self._in_flight: dict[int, Batch] = {}  # by first seq
        self._deferred: list[tuple[float, int, Batch]] = []  # heap of (due, first seq, batch)
        self._max_count = self._destination.limits.max_count
        self._first_pending = self.config.send_first_immediately
        self._idle = 0  # workers waiting for work
        # A submit woke an idle worker that has not run yet: later submits need not wake it
        # again (until it runs, which may take a GIL switch interval, every call would).
        self._wake_pending = False
        self._blocked = 0
        self._state = State.IDLE
        self._abandon_at: float | None = None
        self._workers: list[threading.Thread] = []
        self._live_workers = 0

    # ------------------------------------------------------------------ caller side

    def submit(self, data: bytes, receipt: Receipt) -> Receipt:
        """Queue one encoded message; never blocks on I/O, never raises for delivery trouble."""
        # The path nearly every call takes: a running engine with room. One short lock hold
        # and one call into the queue; everything else is in _submit_slow.
        with self._lock:
            if self._state is _RUNNING:
                queued = self._try_put(receipt, data, _monotonic())
                if queued:
                    self._counters.enqueued += 1
                    if (
                        self._idle
                        and not self._wake_pending
                        and (queued == 1 or queued >= self._flush_at)
                    ):
                        self._wake_pending = True
                        self._wake.notify()
                    return receipt
        return self._submit_slow(data, receipt)

    def _offer(self, receipt: Receipt, data: bytes, enqueued_at: float) -> int:
        """Queue into a MessageQueue if there is room (lock held); the receipt reads the ledger.

        Returns the messages now waiting, or 0 when there is no room (as MemoryQueue.try_put).
        """
        queue = self._queue
        assert not isinstance(queue, MemoryQueue)
        if not queue.has_room(len(data)):
            return 0
        self._bind(receipt, queue.offer(data, enqueued_at))
        return len(queue)

    def _bind(self, receipt: Receipt, seq: int) -> None:
        """Point a MessageQueue message's receipt at the ledger (lock held)."""
        receipt._page = self._ledger.page(seq)
        receipt._seq = seq
        self._message_ids[seq] = receipt.message_id
        if receipt._callbacks is not None:  # a callback given with the call: keep it
            with ledger_module.waiters_lock:
                self._ledger.watch(receipt, seq)

    def _put(self, receipt: Receipt, data: bytes) -> None:
        """Queue a message the caller made room for (lock held)."""
        queue = self._queue
        if isinstance(queue, MemoryQueue):
            queue.put(receipt, data, _monotonic())
        else:
            self._bind(receipt, queue.offer(data, _monotonic()))

    def _ids_of(self, items: Sequence[QueuedItem], *, keep: bool = False) -> list[str | None]:
        """The message ids of ``items``, forgotten by the engine unless ``keep`` (no lock needed).

        A MemoryQueue's entries carry theirs; a MessageQueue's are looked up by seq (dict.pop
        and dict.get are atomic, and submit() only ever adds other keys; a message replayed
        from disk has none).
        """
        if isinstance(self._queue, MemoryQueue):
            return list(map(_message_id, cast("Sequence[tuple[int, bytes, float, str]]", items)))
        lookup = self._message_ids.get if keep else self._message_ids.pop
        return [lookup(item[0], None) for item in items]

    def _submit_slow(self, data: bytes, receipt: Receipt) -> Receipt:
        """:meth:`submit` when the engine is not running yet, is closing, or the queue is full."""
        size = len(data)
        with self._lock:
            if self._state < _STOPPING and self._queue.has_room(size):
                self._put(receipt, data)
                self._counters.enqueued += 1
                if self._idle:
                    queued = len(self._queue)
                    if queued == 1 or queued >= self._flush_at:
                        self._wake.notify()
                if self._state == _RUNNING:
                    return receipt
                refused: str | None = None
                evicted: list[QueuedItem] = []
            else:
                refused, evicted = self._make_room(size, data, receipt)
        if refused is None:
            if evicted:
                self._drop_queued(evicted, "queue_full")
            self._start()
        else:
            self._drop([receipt], refused)
        return receipt

    def _make_room(
        self, size: int, data: bytes, receipt: Receipt
    ) -> tuple[str | None, list[QueuedItem]]:
        """The slow path of :meth:`submit` (lock held): apply the full-queue policy.

        Returns the drop reason (None once the message is queued) and the messages evicted to
        make room, for the caller to settle after releasing the lock (their receipts'
        callbacks must not run under it).
        """
        if self._state >= _STOPPING:
            return "after_close", []
        queue = self._queue
        if not queue.could_ever_fit(size):
            return "queue_full", []
        evicted: list[QueuedItem] = []
        policy = self.config.on_full
        if policy == "drop_oldest":
            while not queue.has_room(size):
                item = queue.evict_oldest()
                if item is None:
                    return "queue_full", evicted
                evicted.append(item)
        elif policy == "block":
            deadline = time.monotonic() + self.config.block_timeout
            self._blocked += 1
            try:
                while not queue.has_room(size) and self._state < _STOPPING:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return "queue_full", evicted
                    self._room.wait(remaining)
            finally:
                self._blocked -= 1
            if self._state >= _STOPPING:
                return "after_close", evicted
        elif not queue.has_room(size):
            return "queue_full", evicted
        self._put(receipt, data)
        self._counters.enqueued += 1
        if self._idle:
            self._wake.notify()
        return None, evicted

    def drop(self, receipt: Receipt, reason: str, detail: str = "") -> Receipt:
        """Settle a message that will not be queued (``filtered``, ``disabled``, ...)."""
        self._drop([receipt], reason, detail)
        return receipt

    def _drop(self, receipts: Sequence[Receipt], reason: str, detail: str = "") -> None:
        """Settle calls never queued as dropped, count them, tell the hooks (no lock held)."""
        self._reporter.dropped(reason, detail, receipts=receipts)

    def _drop_queued(self, items: Sequence[QueuedItem], reason: str) -> None:
        """Settle queued messages taken out unsent as dropped, count them, tell the hooks."""
        self._reporter.dropped(reason, items=items, ids=self._ids_of(items))

    # ------------------------------------------------------------------ threads

    def _start(self) -> None:
        with self._lock:
            if self._state != State.IDLE:
                return
            self._state = State.RUNNING
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
                start_background(thread)
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
                self._sender.deliver(batch)
        finally:
            if not exited:  # pragma: no cover - Sender.deliver catches everything
                with self._lock:
                    self._worker_exited(pid)

    def _worker_exited(self, pid: int) -> None:
        """Account for a worker that stops (lock held)."""
        if pid == self._pid:
            self._live_workers -= 1
            if self._live_workers <= 0 and self._state == State.RUNNING:
                self._state = State.IDLE

    def _next_batch(self, pid: int, *, wait: bool) -> Batch | None:
        """Wait (lock held) until a batch is due and take it; None when the worker must stop."""
        config = self.config
        while True:
            if pid != self._pid or self._state == State.CLOSED:
                return None
            now = time.monotonic()
            stopping = self._state == State.STOPPING
            deferred = self._deferred
            if deferred and (deferred[0][0] <= now or stopping or not wait):
                batch = heapq.heappop(deferred)[2]
                self._in_flight[batch.first_seq] = batch
                return batch
            queue = self._queue
            head = queue.head
            oldest_age = None if head is None else now - head[2]
            flush_requested = head is not None and (stopping or head[0] <= self._flush_target)
            if due(
                queued=len(queue),
                oldest_age=oldest_age,
                flush_at=config.flush_at,
                flush_interval=config.flush_interval,
                flush_requested=flush_requested or not wait,
                first_message_pending=self._first_pending,
            ):
                limits = self._destination.limits
                if self._max_count < limits.max_count:
                    limits = type(limits)(
                        self._max_count, limits.max_bytes, limits.overhead, limits.separator
                    )
                batch = Batch(queue.take(fit(queue.sizes(), limits)))
                self._first_pending = False
                self._in_flight[batch.first_seq] = batch
                if self._blocked:
                    self._room.notify_all()
                return batch
            if stopping or not wait:
                return None
            timeout = next_wakeup(oldest_age, config.flush_interval)
            if deferred:
                until_deferred = max(0.0, deferred[0][0] - now)
                timeout = until_deferred if timeout is None else min(timeout, until_deferred)
            self._idle += 1
            try:
                woken = self._wake.wait(_IDLE_EXIT_SECONDS if timeout is None else timeout)
            finally:
                self._idle -= 1
                self._wake_pending = False
            if not woken and timeout is None and not len(self._queue) and not self._deferred:
                # Idle for long: let the thread end, so a client that is dropped without
                # shutdown() is collected instead of leaking a thread (submit restarts it).
                return None

    # ------------------------------------------------------------------ for the sender
    # The BatchHost interface (trackwire._engine.delivery): how delivering a batch changes
    # the engine's state. Each takes the lock only as long as the state change needs.

    def settle(
        self,
        items: Sequence[QueuedItem],
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
        # The in-memory queue forgets what it hands out: nothing to acknowledge, and no lock
        # to take (every lock the worker waits for is a GIL round trip with the callers).
        if ack and not isinstance(self._queue, MemoryQueue):
            with self._lock:
                # A MessageQueue only ever hands out its own Queued items.
                self._queue.ack(cast("Sequence[Queued]", items))
                if self._blocked:  # a durable queue frees its room at ack, not at take
                    self._room.notify_all()
        # Not under the lock: a long hold here would make every caller wait for a whole
        # batch's bookkeeping.
        self._reporter.settled(items, self._ids_of(items), error, response, sent_bytes)

    def report_retry(
        self,
        items: Sequence[QueuedItem],
        outcome: Retry | Throttled,
        result: HTTPResult,
        attempt: int,
        delay: float,
    ) -> None:
        """Count the retry and tell the hooks; the messages' receipts stay pending."""
        ids = self._ids_of(items, keep=True)
        self._reporter.retrying(ids, outcome.reason, outcome.status, result, attempt, delay)

    def defer(self, batch: Batch, delay: float) -> None:
        """Hold ``batch`` for ``delay`` seconds; a worker takes it again when it is due."""
        with self._lock:
            heapq.heappush(self._deferred, (time.monotonic() + delay, batch.first_seq, batch))
            self._wake.notify()

    def limit_batch_count(self, count: int) -> None:
        """Take at most ``count`` messages per batch from now on (never more than before)."""
        with self._lock:
            self._max_count = min(self._max_count, count)

    def batch_done(self, batch: Batch) -> None:
        """``batch`` is out of flight: wake flush() and shutdown() to look again."""
        with self._lock:
            self._in_flight.pop(batch.first_seq, None)
            self._settled.notify_all()

    def wait_for_retry(self, resume_at: float, probe_every: float | None) -> bool:
        """Wait until ``resume_at`` for a retry; False if shutdown's deadline comes first.

        With ``probe_every`` (the sender passes it when no ``Retry-After`` is to be honoured),
        returns early every ``probe_every`` seconds if messages pile up, so the batch tries
        again sooner.
        """
        next_probe = None if probe_every is None else time.monotonic() + probe_every
        with self._lock:
            while True:
                if self._state == State.CLOSED or (
                    self._abandon_at is not None and resume_at > self._abandon_at
                ):
                    return False
                now = time.monotonic()
                if now >= resume_at:
                    return True
                if next_probe is not None and probe_every is not None and now >= next_probe:
                    if self._under_pressure():
                        return True
                    next_probe = now + probe_every
                wake_at = resume_at if next_probe is None else min(resume_at, next_probe)
                self._retry_sleep.wait(wake_at - now)

    def _under_pressure(self) -> bool:
        """Messages pile up (lock held): half the queue is full or callers are blocked."""
        queue = self._queue
        return (
            self._blocked > 0
            or not queue.has_room(0)
            or len(queue) * 2 >= self.config.max_queue_size
            or queue.nbytes * 2 >= self.config.max_queue_bytes
        )

    # ------------------------------------------------------------------ flush and shutdown

    def _low_watermark(self) -> int:
        """Every message with a lower seq is settled (lock held)."""
        low = self._queue.next_seq
        head = self._queue.head
        if head is not None:
            low = min(low, head[0])
        for batch in self._in_flight.values():
            low = min(low, batch.first_seq)
        for _, first_seq, _ in self._deferred:
            low = min(low, first_seq)
        return low

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued before this call; True once all of it is settled in time."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        self._check_fork()
        with self._lock:
            target = self._queue.next_seq - 1
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
            self._sender.deliver(batch)

    def begin_shutdown(self, deadline: float) -> None:
        """Refuse new messages and ask workers to send everything by ``deadline``."""
        with self._lock:
            if self._state < State.STOPPING:
                self._state = State.STOPPING
            self._abandon_at = deadline if self._abandon_at is None else self._abandon_at
            self._wake.notify_all()
            self._room.notify_all()
            self._retry_sleep.notify_all()

    def finish_shutdown(self, deadline: float) -> bool:
        """Wait for the drain begun by :meth:`begin_shutdown`; drop what is left at ``deadline``."""
        with self._lock:
            target = self._queue.next_seq - 1
            inline = (bool(len(self._queue)) or bool(self._deferred)) and not self._workers_alive()
        if inline:
            self._drain_inline(deadline)
        delivered_all = self._wait_settled(target, deadline)
        with self._lock:
            self._state = State.CLOSED
            leftovers: list[QueuedItem] = list(self._queue.drain())
            leftovers += [item for _, _, batch in self._deferred for item in batch.items]
            self._deferred.clear()
            in_flight = [item for batch in self._in_flight.values() for item in batch.items]
            self._wake.notify_all()
            self._retry_sleep.notify_all()
        self._drop_queued(leftovers, "shutdown")
        self.settle(
            in_flight,
            DeliveryError("shutdown", "still being sent when shutdown's time ran out"),
            ack=False,
        )
        for thread in self._workers:
            thread.join(max(0.0, min(0.2, deadline - time.monotonic())))
        lifecycle.unregister(self)
        with self._lock:
            self._queue.close()
        self._reporter.summarize()
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
    def state(self) -> State:
        """Where the engine is in its lifecycle."""
        return self._state

    @property
    def shutdown_timeout(self) -> float:
        """Seconds the exit drain gives this engine."""
        return self.config.shutdown_timeout

    @property
    def closed(self) -> bool:
        """True after shutdown began; new messages are refused."""
        return self._state >= State.STOPPING

    def stats(self) -> dict[str, Any]:
        """Counters and queue depth, as a plain dict."""
        with self._lock:
            in_flight = sum(len(batch.items) for batch in self._in_flight.values())
            in_flight += sum(len(batch.items) for _, _, batch in self._deferred)
            return self._reporter.counters.snapshot(len(self._queue), self._queue.nbytes, in_flight)

    # ------------------------------------------------------------------ fork

    def _check_fork(self) -> None:
        # Backstop for forks that bypass os.register_at_fork (e.g. a raw fork() from C code).
        if os.getpid() != self._pid:
            self.after_fork_in_child()

    def after_fork_in_child(self) -> None:
        """Forget what the parent owns (called in a forked child): start afresh on first use."""
        self._transport.reset_after_fork()
        self._init_state()


_monotonic = time.monotonic
_message_id = itemgetter(3)  # a MemoryQueue entry's message id, read in C
_STOPPING = State.STOPPING
_RUNNING = State.RUNNING

#: Seconds a worker with nothing to do waits before its thread ends.
_IDLE_EXIT_SECONDS = 60.0
