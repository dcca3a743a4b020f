"""The queue under the engine: what any store of waiting messages must do.

The engine talks to a :class:`MessageQueue` and nothing else: the in-memory
:class:`~trackwire._engine.buffer.Buffer` is one implementation, the on-disk spool another.
Receipts are not the queue's business: the engine keeps them beside it, keyed by the sequence
number the queue hands out, so a message replayed from disk after a restart (whose caller is
gone) is simply one without a receipt.

The life of a message::

    offer() -> waiting --take()--> in flight --ack()------> gone (delivered or finally failed)
                  ^                    |
                  +----release()-------+   (sent again later: a deferred retry)
    waiting --evict_oldest()/drain()--> out of the queue without being sent

Every method is called with the engine's lock held; implementations need no lock of their own
and must not block for long (the spool writes with ``os.write``, never ``fsync``, here).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple, Protocol, TypeAlias

__all__ = ["MessageQueue", "Queued", "QueuedItem"]


class Queued(NamedTuple):
    """One waiting message.

    Attributes:
        seq: position in the order of acceptance, unique within the queue; ``flush()`` uses
            it to know what came first, the engine to find the message's receipt.
        data: the encoded message.
        enqueued_at: ``time.monotonic()`` when it was accepted (or replayed).
    """

    seq: int
    data: bytes
    enqueued_at: float


#: What the engine reads of a waiting message, by position (``item[0]`` and so on, read in C
#: by ``itemgetter``): a :class:`Queued`, or in the default in-memory queue
#: (:class:`~trackwire._engine.memory_queue.MemoryQueue`) a tuple with the message id as a
#: fourth item, made when the worker takes it.
QueuedItem: TypeAlias = tuple[int, bytes, float] | tuple[int, bytes, float, str | None]


class MessageQueue(Protocol):
    """A bounded FIFO of encoded messages, with acknowledgement of what was settled."""

    def __len__(self) -> int:
        """Messages waiting (not in flight)."""
        ...

    @property
    def nbytes(self) -> int:
        """Encoded bytes waiting."""
        ...

    @property
    def next_seq(self) -> int:
        """The sequence number the next :meth:`offer` will hand out."""
        ...

    @property
    def head(self) -> Queued | None:
        """The oldest waiting message, or None."""
        ...

    def has_room(self, size: int) -> bool:
        """True when a message of ``size`` bytes fits under every bound now."""
        ...

    def could_ever_fit(self, size: int) -> bool:
        """False when a message of ``size`` bytes is larger than the queue could ever hold."""
        ...

    def offer(self, data: bytes, enqueued_at: float) -> int:
        """Append ``data`` at the tail (the caller checked :meth:`has_room`); returns its seq.

        A durable queue has recorded the message when this returns.
        """
        ...

    def sizes(self) -> Iterator[int]:
        """Encoded sizes of the waiting messages, oldest first."""
        ...

    def take(self, count: int) -> list[Queued]:
        """Remove the ``count`` oldest waiting messages and hand them out as in flight."""
        ...

    def ack(self, items: Sequence[Queued]) -> None:
        """Forget in-flight ``items`` for good: they were delivered or finally failed."""
        ...

    def release(self, items: Sequence[Queued]) -> None:
        """Put in-flight ``items`` back at the head, in order, to be taken again."""
        ...

    def evict_oldest(self) -> Queued | None:
        """Remove and return the oldest waiting message for good (``drop_oldest``), or None."""
        ...

    def drain(self) -> list[Queued]:
        """Remove and return every waiting message (shutdown's leftovers).

        A durable queue keeps them on disk, to be replayed by the next process; an
        in-memory queue simply lets them go.
        """
        ...

    def close(self) -> None:
        """Release files and locks. The queue is not used afterwards."""
        ...
