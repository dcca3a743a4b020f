"""The default queue: bounded memory, in columns, with receipts bound to the engine's ledger.

The same bounds and order as :class:`~trackwire._engine.buffer.Buffer`, kept so that a queued
message costs the garbage collector nothing. Three deques hold the messages' bytes, the times
they were queued and their ids: strings, bytes and floats, which the collector does not track,
in deques, which it visits as one object each. Sequence numbers are not stored: the queue
holds the consecutive run ``next_seq - len(queue)`` to ``next_seq - 1``. The call's receipt is
not kept either: it is bound to its page of the :class:`~trackwire._engine.ledger.Ledger`,
where the worker records the outcome.

Why: a tracked object per queued message (a receipt, a tuple until the collector's first pass
over it) makes 100,000 queued messages 100,000 objects for collections to visit; measured, it
cost the caller ~1 µs per call as receipts and ~0.25 µs as tuples, at that depth.

The worker gets what it takes as :data:`~trackwire._engine.queue.QueuedItem` tuples
``(seq, data, enqueued_at, message_id)``, made when taken. Not thread-safe: the engine guards
the queue with its lock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from itertools import repeat, starmap

from trackwire._engine import ledger as ledger_module
from trackwire._engine.ledger import PAGE_MASK, Ledger, Page
from trackwire._engine.queue import QueuedItem
from trackwire._engine.receipts import Receipt

__all__ = ["MemoryQueue"]

#: A taken message: (seq, data, enqueued_at, message_id).
_Taken = tuple[int, bytes, float, str | None]


class MemoryQueue:
    """A FIFO of encoded messages with count and byte bounds, stored in columns.

    Args:
        max_items: most messages held.
        max_bytes: most encoded bytes held.
        ledger: where the messages' outcomes are recorded (a new one by default).
    """

    __slots__ = (
        "_add_data",
        "_add_id",
        "_add_time",
        "_data",
        "_ids",
        "_ledger",
        "_page",
        "_times",
        "max_bytes",
        "max_items",
        "nbytes",
        "next_seq",
    )

    def __init__(self, max_items: int, max_bytes: int, ledger: Ledger | None = None) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.next_seq = 0
        self._data: deque[bytes] = deque()
        self._times: deque[float] = deque()
        self._ids: deque[str | None] = deque()
        # Bound once: try_put() is the path every call takes.
        self._add_data = self._data.append
        self._add_time = self._times.append
        self._add_id = self._ids.append
        self._ledger = Ledger() if ledger is None else ledger
        self._page: Page | None = None  # the ledger page of next_seq, once made

    @property
    def ledger(self) -> Ledger:
        """Where the queued messages' outcomes are recorded."""
        return self._ledger

    def __len__(self) -> int:
        return len(self._data)

    @property
    def head(self) -> _Taken | None:
        """The oldest waiting message, or None."""
        if not self._data:
            return None
        return (self.next_seq - len(self._data), self._data[0], self._times[0], self._ids[0])

    def has_room(self, size: int) -> bool:
        """True when a message of ``size`` bytes fits under both bounds."""
        return len(self._data) < self.max_items and self.nbytes + size <= self.max_bytes

    def could_ever_fit(self, size: int) -> bool:
        """False when a message of ``size`` bytes is larger than the whole byte bound."""
        return size <= self.max_bytes

    def sizes(self) -> Iterator[int]:
        """Encoded sizes from the oldest message on (for :func:`~trackwire._engine.batcher.fit`)."""
        return map(len, self._data)

    def try_put(self, receipt: Receipt, data: bytes, enqueued_at: float) -> int:
        """Queue ``data`` for ``receipt`` if there is room: the messages now waiting, or 0.

        One call on the path every message takes, which also tells the engine whether the
        count trigger fired.
        """
        size = len(data)
        nbytes = self.nbytes + size
        waiting = len(self._data)
        if waiting >= self.max_items or nbytes > self.max_bytes:
            return 0
        # _bind() inlined: this runs on the caller's thread for every message.
        seq = self.next_seq
        self.next_seq = seq + 1
        page = self._page
        if page is None or not seq & PAGE_MASK:  # the first seq of a page: the next page
            page = self._page = self._ledger.page(seq)
        receipt._page = page
        receipt._seq = seq
        if receipt._callbacks is not None:  # a callback given with the call: keep it
            with ledger_module.waiters_lock:
                self._ledger.watch(receipt, seq)
        self._add_data(data)
        self._add_time(enqueued_at)
        self._add_id(receipt.message_id)
        self.nbytes = nbytes
        return waiting + 1

    def put(self, receipt: Receipt, data: bytes, enqueued_at: float) -> None:
        """Queue ``data`` for ``receipt`` at the tail (the caller made room)."""
        seq = self.next_seq
        self.next_seq = seq + 1
        self._bind(receipt, seq)
        self._data.append(data)
        self._times.append(enqueued_at)
        self._ids.append(receipt.message_id)
        self.nbytes += len(data)

    def _bind(self, receipt: Receipt, seq: int) -> None:
        """Point ``receipt`` at its ledger page, and keep it if it has callbacks."""
        page = self._page
        if page is None or not seq & PAGE_MASK:
            page = self._page = self._ledger.page(seq)
        receipt._page = page
        receipt._seq = seq
        if receipt._callbacks is not None:
            with ledger_module.waiters_lock:
                self._ledger.watch(receipt, seq)

    def take(self, count: int) -> list[_Taken]:
        """Remove and return the ``count`` oldest messages."""
        # C-level loops (starmap, zip): a batch holds thousands of messages.
        count = min(count, len(self._data))
        first = self.next_seq - len(self._data)
        data = list(starmap(self._data.popleft, repeat((), count)))
        times = starmap(self._times.popleft, repeat((), count))
        ids = starmap(self._ids.popleft, repeat((), count))
        self.nbytes -= sum(map(len, data))
        return list(zip(range(first, first + count), data, times, ids, strict=True))

    def ack(self, items: Sequence[QueuedItem]) -> None:
        """Nothing to do: taken messages are already out of memory's way."""

    def evict_oldest(self) -> _Taken | None:
        """Remove and return the oldest message, or None when empty."""
        taken = self.take(1)
        return taken[0] if taken else None

    def drain(self) -> list[_Taken]:
        """Remove and return everything."""
        return self.take(len(self._data))

    def close(self) -> None:
        """Nothing to release."""
