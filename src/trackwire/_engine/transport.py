"""Moving bytes over HTTP: a small protocol, request/result values, and the urllib3 default.

The engine hands a :class:`HTTPRequest` to a :class:`Transport` and gets a :class:`HTTPResult`
back. Transports never raise for network trouble: a refused connection, a timeout or a broken
TLS session become a result with ``status=None`` and an ``error`` of the form ``"code: text"``,
where ``code`` is one of :data:`TRANSPORT_ERRORS` and ``text`` says what happened for humans
(it names the host and port, never a key or a body). The code travels unchanged into receipts
(``DeliveryError.detail``), hooks, log lines and the CLI, so a refused connection is never
reported as a timeout.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

if TYPE_CHECKING:
    import urllib3

__all__ = [
    "TRANSPORT_ERRORS",
    "HTTPRequest",
    "HTTPResult",
    "Transport",
    "Urllib3Transport",
    "describe_error",
    "gzip_body",
    "host_port",
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
        error: when status is None, ``"code: text"``: ``code`` is one of
            :data:`TRANSPORT_ERRORS` (``"connection_refused"``, ``"read_timeout"``, ...) and
            ``text`` explains it, e.g. ``"connection_refused: nothing listens at 127.0.0.1:9"``.
    """

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None

    @property
    def error_code(self) -> str | None:
        """The ``code`` part of :attr:`error` (one of :data:`TRANSPORT_ERRORS`), or None."""
        if self.error is None:
            return None
        return self.error.split(":", 1)[0]


#: Why no response arrived, as carried in ``HTTPResult.error`` (before the colon):
TRANSPORT_ERRORS: Final = (
    "connection_refused",  # nothing listens at that host and port
    "dns",  # the host name does not resolve
    "tls",  # the TLS handshake failed (not TLS on that port, certificate not trusted, ...)
    "connect_timeout",  # no connection within connect_timeout
    "read_timeout",  # connected and sent, but no answer within the timeout
    "connection_reset",  # the server closed or reset the connection without an answer
    "connection",  # any other network error (unreachable network, proxy failure, ...)
)


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


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from, outermost first (bounded, cycle-safe)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _classify(exc: BaseException) -> str:
    """The :data:`TRANSPORT_ERRORS` code of a network exception.

    Decided by the exception types along the cause chain, most specific first. Not by the
    ``TimeoutError`` base: in urllib3 2 every failed connection (``NewConnectionError``, and
    ``NameResolutionError`` under it) subclasses ``ConnectTimeoutError``, so a refused
    connection would otherwise read as a timeout.
    """
    import http.client
    import socket
    import ssl

    from urllib3 import exceptions as u3

    chain = list(_chain(exc))
    if any(isinstance(e, u3.NameResolutionError | socket.gaierror) for e in chain):
        return "dns"
    if any(isinstance(e, u3.SSLError | ssl.SSLError) for e in chain):
        return "tls"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection_refused"
    if any(isinstance(e, u3.ReadTimeoutError) for e in chain):
        return "read_timeout"
    if any(
        isinstance(e, u3.ConnectTimeoutError) and not isinstance(e, u3.NewConnectionError)
        for e in chain
    ):
        return "connect_timeout"
    closed = (
        ConnectionResetError,
        ConnectionAbortedError,
        BrokenPipeError,
        http.client.RemoteDisconnected,
        http.client.IncompleteRead,
        u3.ProtocolError,
    )
    if any(isinstance(e, closed) for e in chain):
        return "connection_reset"
    if any(isinstance(e, u3.NewConnectionError) for e in chain):
        return "connection"
    if any(isinstance(e, socket.timeout | TimeoutError) for e in chain):
        # A bare socket timeout outside urllib3's wrappers: the socket was connected.
        return "read_timeout"
    return "connection"


def _tls_reason(exc: BaseException) -> str:
    import ssl

    for e in _chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"the certificate was not trusted ({e.verify_message})"
        reason = getattr(e, "reason", None)  # set by the ssl module, not by every constructor
        if isinstance(e, ssl.SSLError) and isinstance(reason, str) and reason:
            return f"{reason.lower().replace('_', ' ')}; is that port speaking TLS?"
    return "handshake failed"


def _os_reason(exc: BaseException) -> str:
    for e in _chain(exc):
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
    return type(exc).__name__


def describe_error(
    exc: BaseException,
    where: str = "the server",
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
) -> tuple[str, str]:
    """``(code, text)`` for a network exception: a :data:`TRANSPORT_ERRORS` code and a sentence.

    Args:
        exc: what urllib3 (or the socket layer) raised.
        where: ``host:port`` for the sentence; never a full URL (it could carry credentials).
        connect_timeout: the connect timeout in force, to quote it.
        read_timeout: the read timeout in force, to quote it.
    """
    code = _classify(exc)
    if code == "dns":
        host = where.rsplit(":", 1)[0] if where.count(":") == 1 else where
        text = f"cannot resolve the host name {host}"
    elif code == "tls":
        text = f"TLS with {where} failed: {_tls_reason(exc)}"
    elif code == "connection_refused":
        text = f"nothing listens at {where}"
    elif code == "read_timeout":
        within = f" within {read_timeout:g} s" if read_timeout is not None else ""
        text = f"{where} accepted the request but did not answer{within}"
    elif code == "connect_timeout":
        within = f" within {connect_timeout:g} s" if connect_timeout is not None else ""
        text = f"could not connect to {where}{within}"
    elif code == "connection_reset":
        text = f"{where} closed the connection without answering"
    else:
        text = f"cannot connect to {where}: {_os_reason(exc)}"
    return code, text


def host_port(url: str) -> str:
    """``host:port`` of a URL, without any user or password it may hold."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the server"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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
        self._read_timeout = read_timeout
        self._proxy = proxy
        self._ca_certs = ca_certs
        self._pool_maxsize = pool_maxsize
        self._pool = self._make_pool()

    def _make_pool(self) -> urllib3.PoolManager:
        import urllib3

        from trackwire._engine.connection import POOL_CLASSES

        options: dict[str, object] = {"maxsize": self._pool_maxsize, "retries": False}
        if self._ca_certs:
            options["ca_certs"] = self._ca_certs
        if self._proxy:
            pool: urllib3.PoolManager = urllib3.ProxyManager(self._proxy, **options)  # type: ignore[arg-type]
        else:
            pool = urllib3.PoolManager(**options)  # type: ignore[arg-type]
        # Connections that send a request in one write and skip the dropped-connection poll
        # right after an answer (trackwire._engine.connection): two fewer GIL round trips.
        pool.pool_classes_by_scheme = POOL_CLASSES
        return pool

    def send(self, request: HTTPRequest) -> HTTPResult:
        """Send ``request`` over the pool; network errors come back as values."""
        import urllib3  # a dict lookup once imported; keeps urllib3 out of `import trackwire`

        read_timeout = self._read_timeout if request.timeout is None else request.timeout
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
        except Exception as exc:  # errors are values here, whatever raised them
            code, text = describe_error(
                exc, host_port(request.url), self._connect_timeout, read_timeout
            )
            return HTTPResult(status=None, error=f"{code}: {text}")
        headers = {key.lower(): value for key, value in response.headers.items()}
        return HTTPResult(status=response.status, headers=headers, body=response.data or b"")

    def reset_after_fork(self) -> None:
        """Drop the inherited pool: its sockets belong to the parent process."""
        self._pool = self._make_pool()

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.clear()
