"""Telling the world what became of messages: receipts, counters, hooks, logs, ``on_error``.

The engine decides what happened to a batch; a :class:`Reporter` makes it known, the same way
for every outcome, so that receipts, ``stats()``, hooks and log lines always agree. It settles
receipts outside the engine's lock (their callbacks run user code) and takes the lock only to
count.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, Final

import orjson

from trackwire._engine.ledger import Ledger
from trackwire._engine.queue import QueuedItem
from trackwire._engine.receipts import BatchReport, Counters, Hooks, Receipt, WarnOnce, settle_all
from trackwire._engine.transport import HTTPResult
from trackwire.errors import ClientClosedError, DeliveryError

__all__ = ["DROP_REASONS", "ErrorHandler", "Reporter"]

logger = logging.getLogger("trackwire")

ErrorHandler = Callable[[DeliveryError, list[Any]], None]

#: Why a message was never sent, with the text its receipt's error carries.
DROP_REASONS: Final = {
    "queue_full": "the queue is full; raise max_queue_bytes or use on_full='block'",
    "shutdown": "still queued when shutdown's time ran out; raise shutdown_timeout",
    "filtered": "a middleware dropped the message",
    "disabled": "not sent: the client was made with enable=False (or TRACKWIRE_DISABLE=1)",
    "middleware_error": "a middleware failed, so the message was dropped (fail-closed)",
    "after_close": "the client was shut down; create a new client to send more",
}
#: Drops the application asked for: logged at DEBUG, not warned about.
_QUIET_DROPS: Final = frozenset({"filtered", "disabled"})


_seq = itemgetter(0)  # a queued message's sequence number, read in C


class Reporter:
    """Settles, counts and reports outcomes for one engine.

    Queued messages are settled in the engine's ledger by sequence number; receipts of
    messages never queued, on the receipts themselves. Hooks get the messages' ids from the
    engine (``ids``, in the order of ``items``).

    Args:
        name: the destination's name, for log lines.
        lock: the engine's lock, which guards ``counters``.
        hooks: the client's hooks.
        on_error: the client's ``on_error(error, messages)``, or None.
        ledger: where the engine's queued messages are settled.
    """

    def __init__(
        self,
        name: str,
        lock: threading.Lock,
        hooks: Hooks,
        on_error: ErrorHandler | None,
        ledger: Ledger,
    ) -> None:
        self.counters = Counters()
        self._ledger = ledger
        self._name = name
        self._lock = lock
        self._hooks = hooks
        self._on_error = on_error
        self._warn = WarnOnce()

    def dropped(
        self,
        reason: str,
        detail: str = "",
        *,
        receipts: Sequence[Receipt] = (),
        items: Sequence[QueuedItem] = (),
        ids: Sequence[str | None] = (),
    ) -> None:
        """Messages that were never sent: ``receipts`` of calls never queued, and queued
        ``items`` (with their ``ids``) taken out of the queue unsent."""
        if not receipts and not items:
            return
        text = detail or DROP_REASONS.get(reason, "")
        error = (
            ClientClosedError(reason, text)
            if reason == "after_close"
            else DeliveryError(reason, text)
        )
        settled = settle_all(receipts, error)
        dropped_ids = [receipt.message_id for receipt in settled]
        if items:
            seqs = list(map(_seq, items))
            new = self._ledger.settle(seqs, (error, None))
            dropped_ids += _newly_settled(items, ids, seqs, new)[1]
        count = len(dropped_ids)
        with self._lock:
            self.counters.dropped[reason] += count
        if not count:
            return
        if reason in _QUIET_DROPS:  # the application asked for it: not worth a warning
            logger.debug("trackwire: %s: %s", self._name, error)
        else:
            message = "trackwire: %s: dropped %d message(s): %s"
            summary = f"trackwire: {self._name}: dropped %d more message(s) ({reason})"
            self._warn.warn(reason, message, self._name, count, error, count=count, summary=summary)
        if self._hooks.wants("drop"):
            report = BatchReport(
                kind="drop", count=count, message_ids=dropped_ids, reason=reason, error=error
            )
            self._hooks.emit(report)

    def summarize(self) -> None:
        """Log what the warning rate limit held back and has not said yet (at shutdown)."""
        self._warn.summarize()

    def retrying(
        self,
        ids: Sequence[str | None],
        reason: str,
        status: int | None,
        result: HTTPResult,
        attempt: int,
        delay: float,
    ) -> None:
        """An attempt failed and the messages will be sent again in ``delay`` seconds."""
        with self._lock:
            self.counters.retries += 1
        logger.debug(
            "trackwire: %s: attempt %d failed (%s); retrying in %.2fs",
            self._name,
            attempt,
            reason,
            delay,
        )
        if self._hooks.wants("retry"):
            report = BatchReport(
                kind="retry",
                count=len(ids),
                message_ids=list(ids),
                reason=reason,
                status=status,
                retry_in=delay,
                attempt=attempt,
                response=result if result.status is not None else None,
            )
            self._hooks.emit(report)

    def settled(
        self,
        items: Sequence[QueuedItem],
        ids: Sequence[str | None],
        error: DeliveryError | None,
        response: HTTPResult | None,
        sent_bytes: int = 0,
    ) -> None:
        """Messages were sent: delivered when ``error`` is None, else finally failed."""
        answer = response if response is not None and response.status is not None else None
        seqs = list(map(_seq, items))
        new = self._ledger.settle(seqs, (error, answer))
        # Some may have been settled before (shutdown failed them in flight, the worker
        # answered after): the first outcome stands, only the others are counted and reported.
        items, ids = _newly_settled(items, ids, seqs, new)
        if not items:
            return
        count = len(items)
        with self._lock:
            if error is None:
                self.counters.delivered += count
                self.counters.batches += 1
                self.counters.bytes_sent += sent_bytes
            else:
                self.counters.failed[error.reason] += count
        if error is None:
            logger.debug("trackwire: %s: delivered %d message(s)", self._name, count)
            if self._hooks.wants("flush"):
                self._hooks.emit(
                    BatchReport(kind="flush", count=count, message_ids=list(ids), response=answer)
                )
            return
        message = "trackwire: %s: %d message(s) not delivered: %s"
        summary = f"trackwire: {self._name}: %d more message(s) not delivered ({error.reason})"
        key = f"failed:{error.reason}"
        self._warn.warn(key, message, self._name, count, error, count=count, summary=summary)
        if self._hooks.wants("error"):
            report = BatchReport(
                kind="error",
                count=count,
                message_ids=list(ids),
                reason=error.reason,
                error=error,
                status=error.status,
                response=answer,
                last_attempt=True,
            )
            self._hooks.emit(report)
        if self._on_error is not None:
            try:
                self._on_error(error, [orjson.loads(item[1]) for item in items])
            except Exception:
                logger.exception("trackwire: on_error raised; ignored")


def _newly_settled(
    items: Sequence[QueuedItem],
    ids: Sequence[str | None],
    seqs: Sequence[int],
    new: Sequence[int],
) -> tuple[Sequence[QueuedItem], Sequence[str | None]]:
    """The ``items`` (and their ``ids``) whose ``seqs`` the ledger settled just now (``new``,
    what :meth:`Ledger.settle` returned): all of them, without a copy, in the common case."""
    if new is seqs or len(new) == len(seqs):
        return items, ids
    fresh = set(new)
    kept = [index for index, seq in enumerate(seqs) if seq in fresh]
    return [items[index] for index in kept], [ids[index] for index in kept]
