"""Process-wide events every engine must answer: interpreter exit and ``os.fork()``.

Every live engine registers here. At exit, all of them drain in parallel, each within its
own ``shutdown_timeout``, so a script that never calls ``flush()`` still delivers and a dead
endpoint cannot hold the exit longer than that. In a forked child, each engine drops what
belongs to the parent (locks another thread may have held, the queue, pooled sockets) and
starts afresh on first use; the parent's queued messages remain the parent's to send.
"""

from __future__ import annotations

import atexit
import enum
import logging
import os
import time
import weakref
from typing import Protocol

from trackwire._engine.receipts import reset_receipts_after_fork

__all__ = ["State", "drain_all", "register", "unregister"]

logger = logging.getLogger("trackwire")


class State(enum.IntEnum):
    """An engine's lifecycle; it only moves forward, except IDLE <-> RUNNING."""

    IDLE = 0  # no worker thread (none started yet, or they exited when idle)
    RUNNING = 1  # workers are running
    STOPPING = 2  # shutdown began: new messages are refused, workers drain
    CLOSED = 3  # shutdown's deadline passed: workers stop, nothing more is sent


class _Drainable(Protocol):
    @property
    def closed(self) -> bool: ...

    @property
    def shutdown_timeout(self) -> float: ...

    def begin_shutdown(self, deadline: float) -> None: ...

    def finish_shutdown(self, deadline: float) -> bool: ...

    def after_fork_in_child(self) -> None: ...


# Weak, so a client that is dropped is collected (its engine then needs no draining: nothing
# can reach its receipts either).
_ENGINES: weakref.WeakSet[_Drainable] = weakref.WeakSet()


def register(engine: _Drainable) -> None:
    """Drain ``engine`` at exit and reset it in forked children."""
    _ENGINES.add(engine)


def unregister(engine: _Drainable) -> None:
    """Forget ``engine`` (it was shut down)."""
    _ENGINES.discard(engine)


def drain_all() -> None:
    """Drain every live engine in parallel, each within its own ``shutdown_timeout``.

    Runs at exit; the SIGTERM handler runs it too.
    """
    engines = [engine for engine in list(_ENGINES) if not engine.closed]
    now = time.monotonic()
    deadlines = [now + engine.shutdown_timeout for engine in engines]
    for engine, deadline in zip(engines, deadlines, strict=True):
        engine.begin_shutdown(deadline)
    for engine, deadline in zip(engines, deadlines, strict=True):
        try:
            engine.finish_shutdown(deadline)
        except Exception:  # pragma: no cover - never let exit fail because of us
            logger.exception("trackwire: error while draining at exit")


def _after_fork_in_child() -> None:
    reset_receipts_after_fork()
    for engine in list(_ENGINES):
        engine.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(drain_all)
