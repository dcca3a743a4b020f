"""Work a worker hands to its transport, to be done while the server answers a request.

A worker sends a batch and then waits for the server to read, check and store it. The work
for the next batch (its envelope and gzip) need not wait until then: the worker registers it
with :func:`while_waiting` around ``transport.send``, and the default transport's connection
runs it (:func:`run_waiting_work`) once the request is on the wire and before it reads the
answer. A transport that does not call it simply leaves the work undone; the worker then does
it in its turn. Per thread, so workers never run each other's work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["run_waiting_work", "while_waiting"]

logger = logging.getLogger("trackwire")


class _Pending(threading.local):
    work: Callable[[], None] | None = None


_pending = _Pending()


@contextmanager
def while_waiting(work: Callable[[], None]) -> Iterator[None]:
    """Offer ``work`` to the requests this thread sends inside the block (run once at most)."""
    _pending.work = work
    try:
        yield
    finally:
        _pending.work = None


def run_waiting_work() -> None:
    """Run the work this thread offered, if any (a request was just sent); never raises."""
    work = _pending.work
    if work is None:
        return
    _pending.work = None
    try:
        work()
    except Exception:  # the request in flight must not fail for it
        logger.exception("trackwire: preparing the next batch failed; it is sent in its turn")
