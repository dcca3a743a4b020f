"""One client per process, built on first use: what every integration holds.

Pre-fork servers (gunicorn, uWSGI, Celery's prefork pool) import the application in a parent
and fork workers. trackwire's engines are fork-safe (a child starts with an empty queue and
fresh threads), but a client is best built where it is used: :class:`ProcessClient` builds it
from a factory in each process on first use, and rebuilds it when it finds itself in a new
process, so nothing the parent made (its key, its queue) is shared by accident.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["ClientLike", "ProcessClient", "build_all", "shutdown_all"]

logger = logging.getLogger("trackwire")

# Every ProcessClient, so a server hook can build or drain them all without being told which
# (gunicorn's post_fork and worker_exit, uWSGI's postfork and atexit). Weak: a dropped holder
# needs neither.
_HOLDERS: weakref.WeakSet[ProcessClient] = weakref.WeakSet()


@runtime_checkable
class ClientLike(Protocol):
    """What an integration needs of a client: any trackwire client or a FanOut."""

    def flush(self, timeout: float | None = None) -> bool: ...

    def shutdown(self, timeout: float | None = None) -> bool: ...

    def add_middleware(self, middleware: Callable[[dict[str, Any]], Any]) -> None: ...


class ProcessClient:
    """Builds a client from ``factory`` once per process, on first use.

    Args:
        factory: makes the client (``lambda: trackwire.Segment(KEY)``).
        middleware: added to every client built (the request-context middleware, say).
    """

    def __init__(
        self,
        factory: Callable[[], Any],
        middleware: tuple[Callable[[dict[str, Any]], Any], ...] = (),
    ) -> None:
        if not callable(factory):
            from trackwire.errors import ConfigError

            raise ConfigError("the client factory must be callable: lambda: trackwire.Segment(KEY)")
        self._factory = factory
        self._middleware = middleware
        self._client: Any = None
        self._pid = 0
        self._lock = threading.Lock()
        _HOLDERS.add(self)

    def get(self) -> Any:
        """This process's client, built now if this process has none yet."""
        client = self._client
        if client is not None and self._pid == os.getpid():
            return client
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                client = self._factory()
                for middleware in self._middleware:
                    client.add_middleware(middleware)
                self._client, self._pid = client, os.getpid()
            return self._client

    @property
    def built(self) -> bool:
        """True when this process has built its client."""
        return self._client is not None and self._pid == os.getpid()

    def flush(self, timeout: float | None = None) -> bool:
        """Flush this process's client, if it has one (True when there is nothing to send)."""
        return bool(self._client.flush(timeout)) if self.built else True

    def shutdown(self, timeout: float | None = None) -> bool:
        """Drain and stop this process's client, if it has one; the next :meth:`get` builds a
        new one."""
        with self._lock:
            client = self._client if self.built else None
            self._client = None
        if client is None:
            return True
        done: bool = client.shutdown(timeout)
        if not done:
            logger.warning("trackwire: the client did not drain within %s s", timeout)
        return done


def build_all() -> None:
    """Build every holder's client in this process (a pre-fork server's ``post_fork``)."""
    for holder in list(_HOLDERS):
        try:
            holder.get()
        except Exception:
            logger.exception("trackwire: building a client after fork failed")


def shutdown_all(timeout: float = 10.0) -> bool:
    """Drain every client built in this process within one ``timeout`` (a worker's exit).

    Returns:
        True if every client delivered or settled everything in time.
    """
    deadline = time.monotonic() + timeout
    done = True
    for holder in list(_HOLDERS):
        left = max(0.0, deadline - time.monotonic())
        done = holder.shutdown(left) and done
    return done
