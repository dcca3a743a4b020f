"""Pure batching decisions: when to send, and how many waiting messages fit in one request.

Kept free of threads and clocks so each trigger can be tested at its exact boundary: the
worker passes in the queue's state and the time, and gets a decision back.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate, islice, repeat
from operator import add

__all__ = ["BatchLimits", "due", "fit", "next_wakeup"]


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """A destination's request limits.

    Attributes:
        max_count: most messages in one request.
        max_bytes: most bytes in one request body, envelope included (before compression).
        overhead: bytes the envelope adds around the messages.
        separator: bytes between two messages (1 for the comma of a JSON array).
    """

    max_count: int
    max_bytes: int
    overhead: int = 0
    separator: int = 1


def fit(sizes: Iterable[int], limits: BatchLimits) -> int:
    """How many messages, taken in order from ``sizes``, fit in one request (at least one).

    The first message always fits: the caller refused any message larger than the
    per-message limit, which each destination keeps below its request limit.
    """
    # k messages take overhead + (s1 + sep) + ... + (sk + sep) - sep bytes. Sizes are read in
    # chunks (a batch that fills on bytes does not read the whole count limit). A chunk that
    # fits whole is summed in one C call; only the chunk in which the budget runs out is
    # searched: its running sums only grow, so the count that fits is a bisection of them.
    # Everything runs in C loops, which matters at thousands of messages per batch.
    separator = limits.separator
    budget = limits.max_bytes - limits.overhead + separator
    remaining = islice(sizes, limits.max_count)
    count = 0
    total = 0
    while True:
        chunk = list(islice(remaining, _CHUNK))
        chunk_total = sum(chunk) + separator * len(chunk)
        if total + chunk_total <= budget:
            count += len(chunk)
            total += chunk_total
            if len(chunk) < _CHUNK:
                break
            continue
        running = list(accumulate(map(add, chunk, repeat(separator)), initial=total))
        count += bisect_right(running, budget, 1) - 1
        break
    # The first message always fits; no messages, no batch.
    return max(count, 1) if (count or chunk) else 0


#: Messages read at a time by :func:`fit`.
_CHUNK = 256


def due(
    *,
    queued: int,
    oldest_age: float | None,
    flush_at: int,
    flush_interval: float,
    flush_requested: bool,
    first_message_pending: bool,
) -> bool:
    """Whether a batch should be sent now.

    Args:
        queued: messages waiting.
        oldest_age: seconds since the oldest waiting message was queued, or None if none is.
        flush_at: the count trigger.
        flush_interval: the age trigger, seconds.
        flush_requested: ``flush()`` or shutdown asked for everything queued to go now.
        first_message_pending: the client sends its very first message at once.
    """
    if queued == 0:
        return False
    if flush_requested or first_message_pending or queued >= flush_at:
        return True
    return oldest_age is not None and oldest_age >= flush_interval


def next_wakeup(oldest_age: float | None, flush_interval: float) -> float | None:
    """Seconds until the age trigger fires for the oldest message, or None with none queued."""
    if oldest_age is None:
        return None
    return max(0.0, flush_interval - oldest_age)
