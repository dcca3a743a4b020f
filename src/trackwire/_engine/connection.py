"""urllib3's connections with fewer blocking system calls per request.

Every system call that blocks releases the GIL, and a worker thread that released it waits up
to Python's switch interval (5 ms) to get it back from a calling thread that never blocks. A
request made through urllib3 as it comes blocks at least five times: the pool's check that a
kept-alive connection was not dropped (a ``poll``), the request head and the body as two
``sendall`` calls (each a ``poll`` and a ``send`` on a socket with a timeout), and the wait for
the answer. These subclasses take two of those away and change nothing else:

* the head and a ``bytes`` body go out in one ``sendall`` (the bytes on the wire are the same);
* a connection whose last answer arrived less than :data:`FRESH_SECONDS` ago is taken as
  still open, without the ``poll``: during a backlog the next request follows the last
  answer within milliseconds. Servers close idle connections after seconds (2 s and more in
  common servers), and one that closes a connection after an answer says
  ``Connection: close``, which makes urllib3 drop it. A connection idle for longer is
  checked as urllib3 checks it.

TLS, proxies, timeouts and the pool are urllib3's own: only ``send``, ``request``,
``getresponse`` and ``is_connected`` are wrapped. With urllib3 1.26, whose pool checks the
socket itself, only the single ``sendall`` applies.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from urllib3 import connection, connectionpool

if TYPE_CHECKING:
    import urllib3

__all__ = ["FRESH_SECONDS", "POOL_CLASSES"]

#: A connection answered this recently is reused without checking that it is still open.
FRESH_SECONDS: Final = 0.1

_monotonic = time.monotonic


class _OneWrite:
    """Mixin for urllib3's connection classes: one ``sendall`` per request, no ``poll`` when
    the connection was answered a moment ago."""

    sock: Any
    _head: bytes | None = None
    _holding = False
    _answered_at = float("-inf")

    def request(self, method: str, url: str, body: Any = None, *args: Any, **kwargs: Any) -> None:
        # http.client sends the head and then each body chunk through send(); holding the
        # head lets the one chunk of a bytes body go out with it.
        self._holding = type(body) is bytes and bool(body) and not kwargs.get("chunked")
        self._head = None
        try:
            super().request(method, url, body, *args, **kwargs)  # type: ignore[misc]
        finally:
            self._holding = False
            self._head = None

    def send(self, data: Any) -> None:
        if self._holding:
            if self._head is None and type(data) is bytes:
                self._head = data
                return
            if self._head is not None:
                data = self._head + data
                self._head = None
                self._holding = False
        super().send(data)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        response = super().getresponse(*args, **kwargs)  # type: ignore[misc]
        self._answered_at = _monotonic()
        return response

    @property
    def is_connected(self) -> bool:
        if self.sock is not None and _monotonic() - self._answered_at < FRESH_SECONDS:
            return True
        return bool(super().is_connected)  # type: ignore[misc]


class OneWriteHTTPConnection(_OneWrite, connection.HTTPConnection):
    """urllib3's plain-HTTP connection with :class:`_OneWrite`'s two changes."""


class OneWriteHTTPSConnection(_OneWrite, connection.HTTPSConnection):
    """urllib3's TLS connection with :class:`_OneWrite`'s two changes."""


class _HTTPPool(connectionpool.HTTPConnectionPool):
    ConnectionCls = OneWriteHTTPConnection


class _HTTPSPool(connectionpool.HTTPSConnectionPool):
    ConnectionCls = OneWriteHTTPSConnection


#: For a PoolManager's (or ProxyManager's) ``pool_classes_by_scheme``.
POOL_CLASSES: Final[dict[str, type[urllib3.HTTPConnectionPool]]] = {
    "http": _HTTPPool,
    "https": _HTTPSPool,
}
