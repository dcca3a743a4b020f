"""A negative filter over 64-bit key hashes: a blocked Bloom filter of 64-bit words.

The SQLite store keeps its older de-duplication keys in ``dedup_keys``, ordered by hash; probing
it for every message id of a request landed each probe on a random page of a growing table. The
filter, kept in the writer's memory, answers "certainly not stored" for almost every new id, so
the table is probed only for the few hashes it cannot rule out.

Each hash sets a few bits of one 64-bit word: the word is picked by the hash's bits from 16 up,
the bits by a table of :data:`_MASKS` indexed by its low 16 bits (one lookup instead of a shift
per bit: this runs in Python for every message id). A hash is "maybe there" when all its bits
are set. There are no false negatives; false positives are about 1 % at :data:`BITS_PER_KEY`
bits per key, fewer below that (the filter is built with room to grow, and rebuilt larger by
its owner once full: see :attr:`KeyFilter.full`).
"""

from __future__ import annotations

import array
import functools
from collections.abc import Iterable
from typing import Final

__all__ = ["BITS_PER_KEY", "MIN_WORDS", "KeyFilter"]

#: Bits of filter per key at full capacity: about 1 % false positives with 5 bits set per key
#: (1.5 bytes per key; fewer keys than that, fewer false positives).
BITS_PER_KEY: Final = 12
#: The smallest filter: 2**20 words, 8 MiB, room for ~5.6M keys. Outgrowing a filter means
#: reading every hash of ``dedup_keys`` into a larger one (~0.5 µs a key: at 1.4M keys, the
#: 2 MiB size this started at, that re-read cost the collector a tenth of its rate over a
#: tenth of a 2M-event run); 8 MiB is small beside the recent keys the writer holds anyway.
MIN_WORDS: Final = 1 << 20
#: Bits set per key (fewer when two land on the same bit).
_BITS_SET: Final = 5
_LOW_16: Final = 0xFFFF


@functools.cache
def _masks() -> array.array[int]:
    """The bit mask of each low-16-bit value: :data:`_BITS_SET` bit positions in 0-63, taken
    from a fixed multiplicative mix of the index (built once, on first use: ~65k masks). An
    array, not a list: 512 KiB in one block stays in the CPU's caches, where 65k int objects
    did not, and a probe runs per message id."""
    masks = array.array("Q")
    for index in range(1 << 16):
        mixed = ((index + 1) * 0x9E3779B97F4A7C15) & 0xFFFF_FFFF_FFFF_FFFF
        mixed ^= mixed >> 29
        mixed = (mixed * 0xBF58476D1CE4E5B9) & 0xFFFF_FFFF_FFFF_FFFF
        mask = 0
        for field in range(_BITS_SET):
            mask |= 1 << ((mixed >> (6 * field)) & 63)
        masks.append(mask)
    return masks


class KeyFilter:
    """The filter: :meth:`add` hashes, :meth:`maybe` tells which of some hashes may be there.

    Args:
        capacity: keys it should hold at :data:`BITS_PER_KEY` bits per key; the word count is
            the next power of two (at least :data:`MIN_WORDS`).
    """

    __slots__ = ("_count", "_masks", "_select", "_words")

    def __init__(self, capacity: int = 0) -> None:
        words = MIN_WORDS
        while words * 64 < capacity * BITS_PER_KEY:
            words *= 2
        self._words = array.array("Q", bytes(8 * words))
        self._select = words - 1  # the word's index bits, after the 16 mask bits
        self._masks = _masks()
        self._count = 0

    @property
    def count(self) -> int:
        """Hashes added (a hash added twice counts twice)."""
        return self._count

    @property
    def capacity(self) -> int:
        """Keys it holds at :data:`BITS_PER_KEY` bits each (about 1 % false positives)."""
        return len(self._words) * 64 // BITS_PER_KEY

    @property
    def full(self) -> bool:
        """More keys than :attr:`capacity`: false positives grow past ~1 % from here on."""
        return self._count > self.capacity

    @property
    def nbytes(self) -> int:
        """The memory its bits take."""
        return len(self._words) * 8

    def add(self, hashes: Iterable[int]) -> None:
        """Add signed (or unsigned) 64-bit hashes."""
        words, masks, select = self._words, self._masks, self._select
        added = 0
        for hash_ in hashes:
            words[(hash_ >> 16) & select] |= masks[hash_ & _LOW_16]
            added += 1
        self._count += added

    def maybe(self, hashes: Iterable[int]) -> list[int]:
        """The hashes that may have been added: every one that was, and ~1 % of the others."""
        words, masks, select = self._words, self._masks, self._select
        return [
            hash_
            for hash_ in hashes
            if words[(hash_ >> 16) & select] & (mask := masks[hash_ & _LOW_16]) == mask
        ]
