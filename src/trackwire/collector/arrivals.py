"""Waiting for events to arrive: the signal behind ``GET /_test/expect``'s long poll.

The ingest path runs in worker threads; a waiter is a coroutine on the event loop. Each stored
request bumps a generation number and wakes every waiter on its own loop (thread-safe), so a
long poll re-checks the store only when something new was stored, never on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

__all__ = ["Arrivals"]


class Arrivals:
    """A generation counter that coroutines can wait on and any thread can advance."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    @property
    def generation(self) -> int:
        """How many times :meth:`notify` was called."""
        return self._generation

    def notify(self) -> None:
        """Something was stored: wake every waiter (callable from any thread)."""
        with self._lock:
            self._generation += 1
            waiters, self._waiters = self._waiters, set()
        for loop, future in waiters:
            # A closed loop raises RuntimeError: its waiter is gone with it.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, future)

    async def wait(self, seen: int, timeout: float) -> bool:
        """Wait until the generation passes ``seen`` or ``timeout`` seconds pass.

        Returns:
            True when something arrived after ``seen``; False on timeout.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            if self._generation != seen:
                return True
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(entry)
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
