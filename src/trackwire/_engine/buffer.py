"""The bounded in-memory queue of encoded messages waiting to be sent.

The first :class:`~trackwire._engine.queue.MessageQueue`: bounded twice, by message count and
by encoded bytes, so memory stays predictable whatever the message sizes. It is a plain data
structure: the engine guards it with its lock and decides, by the client's ``on_full`` policy,
what happens when it is full. Nothing here outlives the process; the spool does that.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from itertools import repeat, starmap
from operator import itemgetter
from typing import Generic, TypeVar

from trackwire._engine.queue import Queued, QueuedItem

__all__ = ["Buffer", "Queued"]

_data = itemgetter(1)  # a waiting message's bytes (any QueuedItem), read in C

# NamedTuple's generated __new__ is a Python function; tuple.__new__ builds the same object
# without it, on the path every call takes.
_new_queued = tuple.__new__

_Item = TypeVar("_Item", bound=QueuedItem)


class _BoundedFifo(Generic[_Item]):
    """A FIFO of waiting messages, each one item, with count and byte bounds.

    Not thread-safe: the engine guards it with its lock.
    """

    __slots__ = ("_items", "max_bytes", "max_items", "nbytes", "next_seq")

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.next_seq = 0
        self._items: deque[_Item] = deque()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def head(self) -> _Item | None:
        """The oldest waiting message, or None."""
        return self._items[0] if self._items else None

    def has_room(self, size: int) -> bool:
        """True when a message of ``size`` bytes fits under both bounds."""
        return len(self._items) < self.max_items and self.nbytes + size <= self.max_bytes

    def could_ever_fit(self, size: int) -> bool:
        """False when a message of ``size`` bytes is larger than the whole byte bound."""
        return size <= self.max_bytes

    def sizes(self) -> Iterator[int]:
        """Encoded sizes from the oldest message on (for :func:`~trackwire._engine.batcher.fit`)."""
        return map(len, map(_data, self._items))

    def take(self, count: int) -> list[_Item]:
        """Remove and return the ``count`` oldest messages."""
        # C-level loops (starmap, map): a batch holds thousands of messages.
        count = min(count, len(self._items))
        taken = list(starmap(self._items.popleft, repeat((), count)))
        self.nbytes -= sum(map(len, map(_data, taken)))
        return taken

    def ack(self, items: Sequence[QueuedItem]) -> None:
        """Nothing to do: taken messages are already out of memory's way."""

    def evict_oldest(self) -> _Item | None:
        """Remove and return the oldest message, or None when empty."""
        if not self._items:
            return None
        item = self._items.popleft()
        self.nbytes -= len(item[1])
        return item

    def drain(self) -> list[_Item]:
        """Remove and return everything."""
        taken = list(self._items)
        self._items.clear()
        self.nbytes = 0
        return taken

    def close(self) -> None:
        """Nothing to release."""


class Buffer(_BoundedFifo[Queued]):
    """A FIFO of :class:`Queued` messages with count and byte bounds. Not thread-safe.

    Args:
        max_items: most messages held.
        max_bytes: most encoded bytes held.
    """

    __slots__ = ()

    def __iter__(self) -> Iterator[Queued]:
        return iter(self._items)

    def offer(self, data: bytes, enqueued_at: float) -> int:
        """Add ``data`` at the tail (the caller checked the room); returns its seq."""
        seq = self.next_seq
        self.next_seq = seq + 1
        self._items.append(_new_queued(Queued, (seq, data, enqueued_at)))
        self.nbytes += len(data)
        return seq

    def release(self, items: Sequence[Queued]) -> None:
        """Put ``items`` back at the head, in their order."""
        self._items.extendleft(reversed(items))
        self.nbytes += sum(len(item.data) for item in items)
