"""Moving bytes over HTTP: a small protocol, request/result values, and the urllib3 default.

The engine hands a :class:`HTTPRequest` to a :class:`Transport` and gets a :class:`HTTPResult`
back. Transports never raise for network trouble: a refused connection, a timeout or a broken
TLS session become a result with ``status=None`` and an ``error`` text, so the vendor's wire
module can classify every case in one place.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import urllib3

__all__ = [
    "HTTPRequest",
    "HTTPResult",
    "Transport",
    "Urllib3Transport",
    "gzip_body",
]

logger = logging.getLogger("trackwire")


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    """One HTTP request, ready to send. ``body`` is already compressed when ``headers`` say so."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class HTTPResult:
    """What came back: a status, headers and body, or ``error`` when no response arrived.

    Attributes:
        status: the HTTP status, or None when the request failed before a response.
        headers: response headers, keys lower-cased.
        body: response body bytes (may be empty).
        error: ``"timeout"``, ``"connection: ..."`` or another short text when status is None.
    """

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None


@runtime_checkable
class Transport(Protocol):
    """Sends one request and returns its result; never raises for network errors."""

    def send(self, request: HTTPRequest) -> HTTPResult:
        """Send ``request`` and return what happened."""
        ...

    def close(self) -> None:
        """Release pooled connections."""
        ...

    def reset_after_fork(self) -> None:
        """Drop what the parent's process owns (pooled sockets); called in a forked child."""
        ...


def gzip_body(body: bytes, level: int) -> bytes:
    """Gzip ``body`` at ``level`` with a fixed mtime, so equal bodies compress to equal bytes."""
    return gzip.compress(body, compresslevel=level, mtime=0)


class Urllib3Transport:
    """The default transport: a thread-safe urllib3 pool with keep-alive.

    Args:
        connect_timeout: seconds to establish a connection.
        read_timeout: seconds to wait for the response (a request's own ``timeout`` overrides it).
        proxy: an ``http://`` or ``https://`` proxy URL for every request, or None.
        ca_certs: path of a CA bundle to verify servers against, or None for the system's.
        pool_maxsize: connections kept per host (one per worker thread is enough).
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        proxy: str | None = None,
        ca_certs: str | None = None,
        pool_maxsize: int = 4,
    ) -> None:
        # Both imported when the first client is made, not by ``import trackwire``: urllib3 and
        # the ssl module it loads cost ~50 ms of import time. Python would load the IDNA codec
        # on the first connection, in a worker thread; a fork during that import leaves the
        # child with a half-loaded codec whose failed lookup is cached, so the child could
        # never connect. Here, in the thread making the client, it loads before any worker.
        import encodings.idna  # noqa: F401

        import urllib3

        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._connect_timeout = connect_timeout
        self._proxy = proxy
        self._ca_certs = ca_certs
        self._pool_maxsize = pool_maxsize
        self._pool = self._make_pool()

    def _make_pool(self) -> urllib3.PoolManager:
        import urllib3

        options: dict[str, object] = {"maxsize": self._pool_maxsize, "retries": False}
        if self._ca_certs:
            options["ca_certs"] = self._ca_certs
        if self._proxy:
            return urllib3.ProxyManager(self._proxy, **options)  # type: ignore[arg-type]
        return urllib3.PoolManager(**options)  # type: ignore[arg-type]

    def send(self, request: HTTPRequest) -> HTTPResult:
        """Send ``request`` over the pool; network errors come back as values."""
        import urllib3  # a dict lookup once imported; keeps urllib3 out of `import trackwire`

        timeout = (
            self._timeout
            if request.timeout is None
            else urllib3.Timeout(connect=self._connect_timeout, read=request.timeout)
        )
        try:
            response = self._pool.request(
                request.method,
                request.url,
                body=request.body or None,
                headers=dict(request.headers),
                timeout=timeout,
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except urllib3.exceptions.TimeoutError:
            return HTTPResult(status=None, error="timeout")
        except urllib3.exceptions.HTTPError as exc:
            return HTTPResult(status=None, error=f"connection: {type(exc).__name__}")
        except Exception as exc:  # errors are values here, whatever raised them
            return HTTPResult(status=None, error=f"connection: {type(exc).__name__}: {exc}")
        headers = {key.lower(): value for key, value in response.headers.items()}
        return HTTPResult(status=response.status, headers=headers, body=response.data or b"")

    def reset_after_fork(self) -> None:
        """Drop the inherited pool: its sockets belong to the parent process."""
        self._pool = self._make_pool()

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.clear()
