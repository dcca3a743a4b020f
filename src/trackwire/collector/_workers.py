"""The worker threads the vendor routes' flows run in, off the event loop.

One thread pool per event loop, handed work with :meth:`asyncio.loop.run_in_executor`: the
same threads-and-wake-up as AnyIO's ``to_thread.run_sync`` (what Starlette's
``run_in_threadpool`` calls) for about a third of its event-loop CPU per call (~12 against
~31 µs, measured), because it skips AnyIO's capacity limiter, cancel scopes and context copy.
What AnyIO promises and the flows need is kept: at most :data:`MAX_WORKERS` threads per loop
(AnyIO's default), and a cancelled caller still waits for its flow to finish, so a request
being stored when the server shuts down is stored (or refused) before the store is closed.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

__all__ = ["MAX_WORKERS", "in_worker"]

#: Threads per event loop, as AnyIO's default capacity limiter allows.
MAX_WORKERS: Final = 40

_T = TypeVar("_T")
_A = TypeVar("_A")

#: Each running event loop's pool; a loop that is gone takes its pool with it (its idle
#: threads exit when the pool is collected).
_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ThreadPoolExecutor] = (
    weakref.WeakKeyDictionary()
)


def _pool(loop: asyncio.AbstractEventLoop) -> ThreadPoolExecutor:
    pool = _POOLS.get(loop)
    if pool is None:
        pool = _POOLS[loop] = ThreadPoolExecutor(MAX_WORKERS, "trackwire-worker")
    return pool


async def in_worker(function: Callable[[_A], _T], argument: _A) -> _T:
    """``function(argument)`` in a worker thread; its result or exception.

    Cancelled while the call runs, it waits for the call to end, then raises the cancellation
    (the call's result is dropped), as AnyIO's ``run_sync`` does by default.
    """
    loop = asyncio.get_running_loop()
    running = _pool(loop).submit(function, argument)
    try:
        return await asyncio.wrap_future(running, loop=loop)
    except asyncio.CancelledError:
        while not running.done():
            try:
                await asyncio.shield(asyncio.wrap_future(running, loop=loop))
            except asyncio.CancelledError:
                continue
            except BaseException:  # the call's own failure; the cancellation goes on
                break
        raise
