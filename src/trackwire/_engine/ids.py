"""Message ids: unique across threads, processes and restarts, and cheap to make.

Every vendor's de-duplication id (Segment ``messageId``, Amplitude ``insert_id``, mParticle
``source_message_id``) comes from :func:`new_message_id`. An id is a 72-bit random prefix,
drawn once per process (and again in a forked child), followed by a 48-bit counter, laid out
as a version-4 UUID string so that tools expecting UUIDs accept it. Two of n processes share
a prefix with probability about n²/2⁷³; within a process the 48-bit counter does not repeat.
Making one costs a counter step and one string format.
"""

from __future__ import annotations

import itertools
import os
import random
from typing import Final

__all__ = ["new_message_id"]


def _new_prefix() -> str:
    h = f"{random.SystemRandom().getrandbits(72):018x}"
    return f"{h[:8]}-{h[8:12]}-4{h[12:15]}-a{h[15:18]}-"


_prefix = _new_prefix()
_counter = itertools.count()

#: The last two hex digits of every counter value, looked up instead of formatted.
_LOW: Final = tuple(f"{n:02x}" for n in range(256))
# (counter >> 8, the id's text up to its last two digits): shared by 256 ids in a row, so
# most ids cost a counter step, a lookup and one concatenation instead of a format.
_block: tuple[int, str] = (-1, "")


def new_message_id() -> str:
    """A unique id shaped like a version-4 UUID (``xxxxxxxx-xxxx-4xxx-axxx-xxxxxxxxxxxx``)."""
    global _block
    n = next(_counter)  # atomic under the GIL: no lock needed between threads
    high = n >> 8
    block, head = _block  # one read of one tuple: a thread never sees half an update
    if block != high:
        head = f"{_prefix}{high:010x}"
        _block = (high, head)
    return head + _LOW[n & 0xFF]


def _renew_after_fork() -> None:
    global _prefix, _counter, _block
    _prefix = _new_prefix()
    _counter = itertools.count()
    _block = (-1, "")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_after_fork)
