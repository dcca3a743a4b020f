"""The worker threads the vendor routes' flows run in, off the event loop.

A small pool per event loop: a job is an :class:`asyncio.Future` of that loop, put on a
:class:`queue.SimpleQueue` (a C queue) that up to :data:`MAX_WORKERS` threads take from; the
thread that ran it hands the outcome back with ``loop.call_soon_threadsafe``. That is the
same threads-and-wake-up as AnyIO's ``to_thread.run_sync`` (what Starlette's
``run_in_threadpool`` calls) and ``loop.run_in_executor``, without their per-call capacity
limiter, cancel scopes, context copy, or ``concurrent.futures`` future and its condition
variable: the event loop's CPU per hand-off is ~7 µs against ~13 µs (``run_in_executor``)
and ~28-45 µs (AnyIO) in a scratch measurement of 8 concurrent callers.

What AnyIO promises and the flows need is kept: at most :data:`MAX_WORKERS` threads per loop
(AnyIO's default), and a cancelled caller still waits for its call to finish, so a request
being stored when the server shuts down is stored (or refused) before the store is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, Final, TypeVar

__all__ = ["IDLE_S", "MAX_WORKERS", "in_worker"]

#: Threads per event loop, as AnyIO's default capacity limiter allows. (The query routes still
#: run on AnyIO's own threads, under its own limit.)
MAX_WORKERS: Final = 40
#: Seconds a thread waits for a job before it stops (AnyIO's workers retire after 10 s too).
IDLE_S: Final = 10.0

_T = TypeVar("_T")
_A = TypeVar("_A")

#: A job: the caller's loop and future, the function and its argument; None stops a thread.
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[Any], Any], Any]


class _Pool:
    """The worker threads of one event loop; they stop when the pool is collected, and each
    after :data:`IDLE_S` without a job."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a job that no queued job has claimed yet
        self._threads = 0
        weakref.finalize(self, _stop_all, self.jobs)

    def start(self, job: _Job) -> None:
        """Queue ``job``, starting a thread when none is idle (up to :data:`MAX_WORKERS`).

        Raises:
            RuntimeError: no thread could be started and none is running to take the job.
        """
        with self._lock:
            start = self._idle == 0 and self._threads < MAX_WORKERS
            if start:
                self._threads += 1
            elif self._idle:
                self._idle -= 1  # an idle thread takes this job
        if start:
            # Daemon threads: a server waits for its requests (and so for their calls) before
            # it stops, and an idle thread must not hold the process open at exit.
            try:
                threading.Thread(
                    target=_work,
                    args=(self.jobs, weakref.ref(self)),
                    name="trackwire-worker",
                    daemon=True,
                ).start()
            except BaseException:
                with self._lock:
                    self._threads -= 1
                    alone = self._threads == 0
                if alone:
                    raise
        self.jobs.put(job)

    def idle(self) -> None:
        """A thread finished its job and waits for the next."""
        with self._lock:
            self._idle += 1

    def retire(self) -> bool:
        """A thread waited :data:`IDLE_S` for a job: True if it may stop. It may not when a
        job queued since counted on it (no idle thread is left unclaimed)."""
        with self._lock:
            if self._idle == 0:
                return False
            self._idle -= 1
            self._threads -= 1
            return True


def _stop_all(jobs: queue.SimpleQueue[_Job | None]) -> None:
    # Called when the pool is collected: as many stops as threads could be waiting.
    for _ in range(MAX_WORKERS):
        jobs.put(None)


def _work(jobs: queue.SimpleQueue[_Job | None], pool: weakref.ref[_Pool]) -> None:
    while True:
        try:
            job = jobs.get(timeout=IDLE_S)
        except queue.Empty:
            alive = pool()
            if alive is None or alive.retire():
                return
            del alive
            continue
        if job is None:
            return
        loop, future, function, argument = job
        del job
        deliver: Callable[[asyncio.Future[Any], Any], None] = _set_result
        try:
            value = function(argument)
        except StopIteration as exc:
            # A future refuses StopIteration; AnyIO hands it on as this RuntimeError too.
            deliver, value = _set_exception, RuntimeError("the call raised StopIteration")
            value.__cause__ = exc
        except BaseException as exc:  # handed to the caller, who raises it
            deliver, value = _set_exception, exc
        del function, argument
        # Idle before the outcome is handed back: a caller that submits its next job at once
        # finds this thread, rather than starting another.
        alive = pool()
        if alive is None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(deliver, future, value)
            return
        alive.idle()
        del alive
        # A closed loop: its caller is gone, nobody waits for the outcome.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, future, value)
        del future, value, loop


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


#: Each running event loop's pool; a loop that is gone takes its pool with it.
_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()


async def in_worker(function: Callable[[_A], _T], argument: _A) -> _T:
    """``function(argument)`` in a worker thread; its result or exception.

    Cancelled while the call runs, it waits for the call to end, then raises the cancellation
    (the call's result is dropped), as AnyIO's ``run_sync`` does by default.
    """
    loop = asyncio.get_running_loop()
    pool = _POOLS.get(loop)
    if pool is None:
        pool = _POOLS[loop] = _Pool()
    outcome: asyncio.Future[_T] = loop.create_future()
    pool.start((loop, outcome, function, argument))
    # Awaited through a shield, so a cancellation leaves the outcome to be waited for.
    try:
        return await asyncio.shield(outcome)
    except asyncio.CancelledError:
        while not outcome.done():
            try:
                await asyncio.shield(outcome)
            except asyncio.CancelledError:
                continue
            except BaseException:  # the call's own failure: the cancellation goes on
                break
        if not outcome.cancelled():
            outcome.exception()  # marked as retrieved: it is dropped with the result
        raise
