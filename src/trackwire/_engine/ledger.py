"""What became of each queued message, by sequence number, kept where the collector won't look.

A queued message is a plain tuple in the queue; the engine keeps no object of its receipt. The
worker records each message's outcome here, by sequence number, and a
:class:`~trackwire._engine.receipts.Receipt` reads its own outcome from here when asked.

Why: every object the library keeps alive per queued message that the garbage collector tracks
(an instance, a dict, a list) is visited by its collections, and with 100,000 messages queued
those collections cost the caller about a microsecond per call. Here the outcomes of 256
consecutive sequence numbers share one :class:`Page` (a list holding, per message, the outcome
tuple shared by its whole batch), so 100,000 queued messages are ~400 tracked objects. A
receipt the caller keeps holds its page; the ledger lets go of a page once every message of it
is settled, so the pages of dropped receipts are freed by reference counting alone.

Only receipts someone waits on or gave a callback are kept (:attr:`Ledger.watched`), to be
woken when their message is settled.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from trackwire._engine.receipts import Receipt
    from trackwire._engine.transport import HTTPResult
    from trackwire.errors import DeliveryError

__all__ = ["MAX_FREED_PAGES", "PAGE_BITS", "PAGE_MASK", "Ledger", "Outcome", "Page", "waiters_lock"]

#: A settled message's outcome: (error, response); error None means delivered. One tuple is
#: shared by every message settled together, so settling a message is one store.
Outcome: TypeAlias = "tuple[DeliveryError | None, HTTPResult | None]"

#: Pages let go above one still held that the ledger remembers (see Ledger._let_go): 2M
#: messages behind a message still pending, in a set of at most this many ints.
MAX_FREED_PAGES = 8192
#: Sequence numbers per page: 2 ** PAGE_BITS.
PAGE_BITS = 8
PAGE_SIZE = 1 << PAGE_BITS
PAGE_MASK = PAGE_SIZE - 1

# Guards the rare, slow path of a receipt: installing a waiter or a callback, and the ledgers'
# watched receipts. Settling takes it only when a receipt is watched. Replaced in a forked
# child (trackwire._engine.receipts.reset_receipts_after_fork): another thread may hold it.
waiters_lock = threading.Lock()


class Page:
    """The outcomes of :data:`PAGE_SIZE` consecutive sequence numbers.

    Attributes:
        ledger: the ledger the page belongs to (a receipt asks it to be watched).
        outcomes: per message (by ``seq & PAGE_MASK``), its outcome, or None while pending.
        pending: messages of the page not settled yet (unsent ones included).
    """

    __slots__ = ("ledger", "outcomes", "pending")

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.outcomes: list[Outcome | None] = [None] * PAGE_SIZE
        self.pending = PAGE_SIZE


class Ledger:
    """One engine's settled outcomes, by sequence number; settles each message once.

    Not guarded by the engine's lock: :meth:`page` is called under it (from the caller's
    submit), :meth:`settle` by the worker without it. A page is only ever added by
    :meth:`page` for sequence numbers not handed out yet or by :meth:`settle` for ones being
    settled, with atomic dict operations. Settling takes the ledger's own lock, so that
    several workers (or shutdown beside a worker) settle each message once and count each
    page's pending messages right; callers never take it.
    """

    __slots__ = ("_freed", "_freed_below", "_lock", "_pages", "watched")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: dict[int, Page] = {}
        # Pages let go once all their messages were settled, so that a message settled again
        # later (shutdown fails what is in flight; the worker answers after) is known as such
        # instead of counted twice: every page below _freed_below, and those in _freed (pages
        # are freed about in order, so the set stays small). Guarded by _lock.
        self._freed_below = 0
        self._freed: set[int] = set()
        #: Receipts waited on or with callbacks, by seq, until their message is settled.
        self.watched: dict[int, Receipt] = {}

    def page(self, seq: int) -> Page:
        """The page of ``seq`` (made when missing)."""
        index = seq >> PAGE_BITS
        page = self._pages.get(index)
        if page is None:  # setdefault: atomic, should the worker make the same page
            page = self._pages.setdefault(index, Page(self))
        return page

    def outcome(self, seq: int) -> Outcome | None:
        """The outcome of ``seq`` if the ledger still holds its page (tests and diagnostics)."""
        page = self._pages.get(seq >> PAGE_BITS)
        return None if page is None else page.outcomes[seq & PAGE_MASK]

    def __len__(self) -> int:
        """Pages held (each holds at least one pending message or unassigned seq)."""
        return len(self._pages)

    def _settling(self, index: int) -> Page | None:
        """The page of ``index`` to settle messages in (made when missing), or None when it
        was let go: every message of it is settled already. Called under ``_lock``."""
        page = self._pages.get(index)
        if page is None:
            if index < self._freed_below or index in self._freed:
                return None
            page = self._pages.setdefault(index, Page(self))
        return page

    def _let_go(self, index: int) -> None:
        """Every message of page ``index`` is settled: drop it, remember it was. Under _lock."""
        del self._pages[index]
        if index != self._freed_below:
            self._freed.add(index)
            if len(self._freed) > MAX_FREED_PAGES:
                # An early page is still held (a message retried for long): forget the oldest
                # half. A message settled again must be a recent one (shutdown fails what is in
                # flight), so only pages far behind are forgotten.
                self._freed = set(sorted(self._freed)[MAX_FREED_PAGES // 2 :])
            return
        below = index + 1
        freed = self._freed
        while below in freed:
            freed.remove(below)
            below += 1
        self._freed_below = below

    def watch(self, receipt: Receipt, seq: int) -> None:
        """Keep ``receipt`` until ``seq`` is settled, to wake it then (``waiters_lock`` held)."""
        self.watched[seq] = receipt

    def settle(self, seqs: Sequence[int], outcome: Outcome) -> Sequence[int]:
        """Record ``outcome`` for every seq not settled yet; returns the ones that were new.

        Returns ``seqs`` itself when all were new (the common case: no copy). A batch taken
        from the queue is a run of consecutive seqs, settled with a slice assignment per page;
        anything else (a partial rejection, a spool's gaps) one seq at a time.
        """
        count = len(seqs)
        if not count:
            return seqs
        low = min(seqs)
        high = max(seqs)
        with self._lock:
            if high - low + 1 == count:  # distinct seqs spanning exactly count numbers: a run
                new = self._settle_run(low, high + 1, outcome)
                settled = seqs if new is None else new
            else:
                settled = self._settle_each(seqs, outcome)
        if self.watched:
            self._wake(settled)
        return settled

    def _settle_run(self, start: int, stop: int, outcome: Outcome) -> list[int] | None:
        """Settle ``range(start, stop)``; None if all were new, else the new ones."""
        origin = start
        new: list[int] | None = None
        while start < stop:
            index = start >> PAGE_BITS
            base = index << PAGE_BITS
            end = min(stop, base + PAGE_SIZE)
            page = self._settling(index)
            if page is None:  # settled before, all of it
                if new is None:
                    new = list(range(origin, start))
                start = end
                continue
            outcomes = page.outcomes
            first, last = start - base, end - base
            free = outcomes[first:last].count(None)
            if free == last - first:
                outcomes[first:last] = [outcome] * free
                if new is not None:
                    new.extend(range(start, end))
            else:
                if new is None:
                    new = list(range(origin, start))
                for offset in range(first, last):
                    if outcomes[offset] is None:
                        outcomes[offset] = outcome
                        new.append(base + offset)
            page.pending -= free
            if not page.pending:
                self._let_go(index)
            start = end
        return new

    def _settle_each(self, seqs: Sequence[int], outcome: Outcome) -> list[int]:
        new: list[int] = []
        for seq in seqs:
            index = seq >> PAGE_BITS
            page = self._settling(index)
            if page is None:  # settled before, all of it
                continue
            offset = seq & PAGE_MASK
            if page.outcomes[offset] is None:
                page.outcomes[offset] = outcome
                new.append(seq)
                page.pending -= 1
                if not page.pending:
                    self._let_go(index)
        return new

    def _wake(self, settled: Sequence[int]) -> None:
        """Wake the watched receipts among ``settled`` (their outcomes are published)."""
        # Looked at after publishing the outcomes: a waiter installs itself first and reads
        # its outcome after, so one of the two always sees the other.
        with waiters_lock:
            watched = self.watched
            if len(settled) > len(watched):
                members = set(settled)
                found = [watched.pop(seq) for seq in list(watched) if seq in members]
            else:
                found = [watched.pop(seq) for seq in settled if seq in watched]
        for receipt in found:
            receipt._wake()
