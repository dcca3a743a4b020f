"""What became of each call: receipts, hooks and counters.

Every call returns a :class:`Receipt` at once. Its message is settled exactly once, as
delivered or failed with a :class:`~trackwire.errors.DeliveryError`: a queued message in its
engine's :class:`~trackwire._engine.ledger.Ledger` (by sequence number: the engine keeps no
receipt), a message that was never queued on the receipt itself. Settling wakes anyone waiting
on the receipt and runs its done-callbacks; the engine's reporter counts what was settled, so
the counters and the hooks always agree.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from trackwire._engine import ledger as _ledger
from trackwire._engine.ledger import PAGE_MASK, Outcome, Page
from trackwire.errors import DeliveryError

if TYPE_CHECKING:
    import asyncio

    from trackwire._engine.transport import HTTPResult

__all__ = [
    "BatchReport",
    "Counters",
    "HookName",
    "Hooks",
    "Receipt",
    "WarnOnce",
    "reset_receipts_after_fork",
    "settle_all",
]

logger = logging.getLogger("trackwire")


class Receipt:
    """The outcome of one call, known later.

    A receipt is cheap: no lock or event is made unless someone waits on it, and the library
    keeps none of it while the message waits (a queued receipt reads its outcome from its
    engine's ledger when asked). It can be waited on from a thread (:meth:`wait`) or awaited
    from asyncio (``await receipt``).

    Attributes:
        message_id: the message's de-duplication id (Segment ``messageId``, Amplitude
            ``insert_id``), or None when the vendor has none.
    """

    __slots__ = ("_callbacks", "_event", "_outcome", "_page", "_seq", "message_id")

    # Set by the engine when the message is queued: the ledger page holding its outcome and
    # its sequence number. A receipt never queued (dropped, disabled) keeps its own outcome.
    _page: Page | None
    _seq: int

    def __init__(self, message_id: str | None = None) -> None:
        self.message_id = message_id
        self._outcome: Outcome | None = None
        self._page = None
        self._event: threading.Event | None = None
        self._callbacks: list[Callable[[Receipt], None]] | None = None

    def __repr__(self) -> str:
        state = "pending" if self._state() is None else "delivered" if self.ok else "failed"
        return f"<Receipt {self.message_id} {state}>"

    def _state(self) -> Outcome | None:
        """The outcome, or None while pending."""
        outcome = self._outcome
        if outcome is None:
            page = self._page
            if page is not None:
                outcome = page.outcomes[self._seq & PAGE_MASK]
        return outcome

    @property
    def done(self) -> bool:
        """True once the message was delivered or finally failed."""
        return self._state() is not None

    @property
    def ok(self) -> bool:
        """True once the message was delivered; False while pending or after a failure."""
        outcome = self._state()
        return outcome is not None and outcome[0] is None

    @property
    def error(self) -> DeliveryError | None:
        """Why the message failed (``error.reason`` is from a closed set), or None."""
        outcome = self._state()
        return None if outcome is None else outcome[0]

    @property
    def response(self) -> HTTPResult | None:
        """The vendor's answer to the final attempt of this message's batch, once settled
        (None when no response arrived or the message was never sent)."""
        outcome = self._state()
        return None if outcome is None else outcome[1]

    def _watch(self) -> None:
        """Ask to be woken when settled (``waiters_lock`` held): a queued receipt is kept by
        its ledger until then; one not queued yet is watched when it is queued."""
        page = self._page
        if page is not None:
            page.ledger.watch(self, self._seq)

    def _unwatch(self) -> None:
        """Stop being kept by the ledger (settled: nothing left to wake)."""
        page = self._page
        if page is not None:
            with _ledger.waiters_lock:
                page.ledger.watched.pop(self._seq, None)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the message is settled or ``timeout`` seconds pass.

        Returns:
            True if the message was delivered; False if it failed or is still pending
            (check :attr:`done`).
        """
        if self._state() is None:
            with _ledger.waiters_lock:
                if self._event is None:
                    self._event = threading.Event()
                    self._watch()
                event = self._event
            # Re-read after publishing the event: the settler reads the waiters after
            # publishing the outcome, so one of the two always sees the other.
            if self._state() is None:
                event.wait(timeout)
            else:  # settled meanwhile: the ledger may not have seen this receipt
                self._unwatch()
        return self.ok

    def add_done_callback(self, fn: Callable[[Receipt], None]) -> None:
        """Call ``fn(receipt)`` once the receipt is settled (at once if it already is).

        The callback runs in the thread that settles the receipt (usually the worker);
        exceptions it raises are logged and swallowed.
        """
        with _ledger.waiters_lock:
            if self._state() is None:
                if self._callbacks is None:
                    self._callbacks = []
                    if self._event is None:
                        self._watch()
                self._callbacks.append(fn)
                queued = True
            else:
                queued = False
        if not queued:
            _run_callback(fn, self)
        elif self._state() is not None:
            # Settled while the callback was being added: the settler may have looked for
            # callbacks before this one was there. _wake runs each callback exactly once.
            self._wake()

    def __await__(self) -> Generator[Any, None, bool]:
        """``await receipt`` waits without blocking the event loop and returns :attr:`ok`."""
        if self._state() is None:
            import asyncio  # here, not at the top: importing asyncio costs ~50 ms

            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()

            def wake(_: Receipt) -> None:
                loop.call_soon_threadsafe(_resolve, future)

            self.add_done_callback(wake)
            yield from future.__await__()
        return self.ok

    def _settle(self, error: DeliveryError | None, response: HTTPResult | None = None) -> bool:
        """Settle once: delivered when ``error`` is None. Returns False if already settled."""
        return bool(settle_all((self,), error, response))

    def _wake(self) -> None:
        """Release waiters and run callbacks, once (the receipt is already settled)."""
        with _ledger.waiters_lock:
            event, callbacks, self._callbacks = self._event, self._callbacks, None
            page = self._page
            if page is not None:  # settled: the ledger need not keep it any longer
                page.ledger.watched.pop(self._seq, None)
        if event is not None:
            event.set()
        for fn in callbacks or ():
            _run_callback(fn, self)


def settle_all(
    receipts: Sequence[Receipt | None],
    error: DeliveryError | None,
    response: HTTPResult | None = None,
) -> list[Receipt]:
    """Settle each receipt (None entries are skipped); returns the receipts that changed.

    For receipts whose message was never queued (dropped at the call, FanOut's joined
    receipts); a queued one is settled through its page's ledger, so that settling it twice
    still counts once.
    """
    outcome: Outcome = (error, response)
    settled: list[Receipt] = []
    for receipt in receipts:
        if receipt is None:
            continue
        page = receipt._page
        if page is not None:
            # Its page leaves the ledger only once all of it is settled: check here first.
            if receipt._state() is None and page.ledger.settle([receipt._seq], outcome):
                settled.append(receipt)
            continue
        if receipt._outcome is not None:
            continue
        receipt._outcome = outcome
        # Looked at after publishing the outcome: a waiter installs itself first and reads
        # the outcome after, so one of the two always sees the other.
        if receipt._event is not None or receipt._callbacks is not None:
            receipt._wake()
        settled.append(receipt)
    return settled


def reset_receipts_after_fork() -> None:
    """Replace the waiters' lock in a forked child: another thread may have held it."""
    _ledger.waiters_lock = threading.Lock()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _run_callback(fn: Callable[[Receipt], None], receipt: Receipt) -> None:
    try:
        fn(receipt)
    except Exception:
        logger.exception("trackwire: a receipt callback raised; ignored")


HookName = Literal["flush", "retry", "error", "drop"]
HOOK_NAMES: Final = ("flush", "retry", "error", "drop")


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What a hook is told.

    Attributes:
        kind: ``"flush"`` (a batch was delivered), ``"retry"`` (an attempt failed and will be
            retried), ``"error"`` (messages finally failed) or ``"drop"`` (messages were dropped
            before sending: queue full, closed client, shutdown, fork).
        count: how many messages this report covers.
        message_ids: their ids, in order.
        reason: a closed-set reason for errors and drops (``rejected``, ``retry_exhausted``,
            ``queue_full``, ``after_close``, ``shutdown``, ``filtered``, ``middleware_error``,
            ``disabled``); the failure text for retries.
        error: the error the messages' receipts carry, for ``error`` and ``drop``.
        status: the HTTP status of the attempt, if a response arrived.
        retry_in: seconds until the next attempt, for ``retry``.
        attempt: the attempt number (1 = first send).
        response: the vendor's answer to that attempt, when one arrived.
        last_attempt: for ``retry`` and ``error``: True when no further attempt follows.
    """

    kind: HookName
    count: int
    message_ids: Sequence[str | None] = ()
    reason: str = ""
    error: DeliveryError | None = None
    status: int | None = None
    retry_in: float | None = None
    attempt: int = 1
    response: HTTPResult | None = None
    last_attempt: bool = False


class Hooks:
    """Client hooks: ``on("flush" | "retry" | "error" | "drop", fn)``; failures are isolated."""

    def __init__(self) -> None:
        self._hooks: dict[str, list[Callable[[BatchReport], None]]] = {n: [] for n in HOOK_NAMES}

    def add(self, name: str, fn: Callable[[BatchReport], None]) -> None:
        """Register ``fn`` for hook ``name``."""
        if name not in self._hooks:
            from trackwire.errors import ConfigError

            raise ConfigError(f"unknown hook {name!r}; use one of {', '.join(HOOK_NAMES)}")
        if not callable(fn):
            from trackwire.errors import ConfigError

            raise ConfigError(f"the {name!r} hook must be callable")
        self._hooks[name].append(fn)

    def wants(self, name: str) -> bool:
        """True when at least one function is registered for ``name``."""
        return bool(self._hooks[name])

    def emit(self, report: BatchReport) -> None:
        """Call every function registered for ``report.kind``; log and swallow their errors."""
        for fn in self._hooks[report.kind]:
            try:
                fn(report)
            except Exception:
                logger.exception("trackwire: a %r hook raised; ignored", report.kind)


@dataclass
class Counters:
    """Running totals for :meth:`stats`. Mutated only under the engine's lock."""

    enqueued: int = 0
    delivered: int = 0
    retries: int = 0
    batches: int = 0
    bytes_sent: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)

    def snapshot(self, queued: int, queued_bytes: int, in_flight: int) -> dict[str, Any]:
        """A plain dict copy, safe to hand to callers."""
        return {
            "enqueued": self.enqueued,
            "delivered": self.delivered,
            "retries": self.retries,
            "batches": self.batches,
            "bytes_sent": self.bytes_sent,
            "dropped": dict(self.dropped),
            "failed": dict(self.failed),
            "queued": queued,
            "queued_bytes": queued_bytes,
            "in_flight": in_flight,
        }


class WarnOnce:
    """Logs a warning at most once per ``interval`` seconds per key; what it holds back is
    counted in messages, not lines, and said by the next line of that key or by
    :meth:`summarize` (so a last burst never vanishes under the limit)."""

    def __init__(self, interval: float = 60.0) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}
        self._held: Counter[str] = Counter()  # messages in the lines held back, per key
        self._summaries: dict[str, str] = {}  # per held key: "... %d more message(s) ..."
        self._lock = threading.Lock()

    def warn(
        self, key: str, message: str, *args: object, count: int = 1, summary: str = ""
    ) -> None:
        """Log ``message % args`` unless ``key`` was logged less than ``interval`` ago.

        Args:
            count: how many messages the line is about (what a held-back line adds up).
            summary: the line :meth:`summarize` logs for what was held back, with one ``%d``
                for the count (default: the key and the count).
        """
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._held[key] += count
                self._summaries[key] = summary or f"trackwire: {key}: %d more message(s)"
                return
            self._last[key] = now
            held = self._held.pop(key, 0)
            self._summaries.pop(key, None)
        if held:
            more = " (and %d more message(s) since the last warning)"
            logger.warning(message + more, *args, held)
        else:
            logger.warning(message, *args)

    def summarize(self) -> None:
        """Log what was held back and not said yet (at shutdown), one line per key."""
        with self._lock:
            held = [(self._summaries.pop(key, ""), count) for key, count in self._held.items()]
            self._held.clear()
        for summary, count in held:
            logger.warning(summary + " since the last warning", count)
