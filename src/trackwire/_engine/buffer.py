"""The bounded in-memory queue of encoded messages waiting to be sent.

Bounded twice, by message count and by encoded bytes, so memory stays predictable whatever
the message sizes. The buffer is a plain data structure: the engine guards it with its lock
and decides, by the client's ``on_full`` policy, what happens when it is full.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import NamedTuple

from trackwire._engine.receipts import Receipt

__all__ = ["Buffer", "Queued"]


class Queued(NamedTuple):
    """One waiting message.

    Attributes:
        seq: position in the order of acceptance (used by ``flush()`` to know what came first).
        data: the encoded message.
        receipt: settled when the message is delivered or fails.
        enqueued_at: ``time.monotonic()`` when it was accepted.
    """

    seq: int
    data: bytes
    receipt: Receipt
    enqueued_at: float


class Buffer:
    """A FIFO of :class:`Queued` messages with count and byte bounds. Not thread-safe.

    Args:
        max_items: most messages held.
        max_bytes: most encoded bytes held.
    """

    __slots__ = ("_items", "max_bytes", "max_items", "nbytes")

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: deque[Queued] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Queued]:
        return iter(self._items)

    def has_room(self, size: int) -> bool:
        """True when a message of ``size`` bytes fits under both bounds."""
        return len(self._items) < self.max_items and self.nbytes + size <= self.max_bytes

    def could_ever_fit(self, size: int) -> bool:
        """False when a message of ``size`` bytes is larger than the whole byte bound."""
        return size <= self.max_bytes

    def append(self, item: Queued, size: int) -> None:
        """Add ``item`` (``size`` bytes of data) at the tail; the caller checked the room."""
        self._items.append(item)
        self.nbytes += size

    def popleft(self) -> Queued:
        """Remove and return the oldest message."""
        item = self._items.popleft()
        self.nbytes -= len(item.data)
        return item

    def take(self, count: int) -> list[Queued]:
        """Remove and return the ``count`` oldest messages."""
        popleft = self._items.popleft
        taken = [popleft() for _ in range(min(count, len(self._items)))]
        self.nbytes -= sum(len(item.data) for item in taken)
        return taken

    def drain(self) -> list[Queued]:
        """Remove and return everything."""
        taken = list(self._items)
        self._items.clear()
        self.nbytes = 0
        return taken

    def sizes(self) -> Iterator[int]:
        """Encoded sizes from the oldest message on (for :func:`~trackwire._engine.batcher.fit`)."""
        return (len(item.data) for item in self._items)

    @property
    def head(self) -> Queued | None:
        """The oldest waiting message, or None."""
        return self._items[0] if self._items else None
