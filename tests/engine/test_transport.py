"""Transport errors are distinct, named reasons: checked against real sockets on 127.0.0.1.

Each failure is produced for real (a closed port, a server that never answers, a port that
speaks garbage instead of TLS, a server that hangs up, a name under ``.invalid``), plus a table
of urllib3 exception chains for the cases a test cannot provoke reliably (a connect timeout).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
from urllib3 import exceptions as u3

import trackwire
from trackwire._engine.transport import (
    TRANSPORT_ERRORS,
    HTTPRequest,
    HTTPResult,
    Transport,
    Urllib3Transport,
    describe_error,
    host_port,
)
from trackwire.errors import DeliveryError
from trackwire.testing import RecordingTransport


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


class _OneShotServer:
    """Accepts connections and answers each with ``reply`` bytes, then hangs up."""

    def __init__(self, reply: bytes) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.recv(4096)
                    if self.reply:
                        conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self) -> None:
        # shutdown() wakes the blocked accept(); close() alone would not.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def garbage_server() -> Iterator[_OneShotServer]:
    server = _OneShotServer(b"SSH-2.0-not-tls garbage garbage garbage\r\n" * 4)
    yield server
    server.close()


@pytest.fixture
def hangup_server() -> Iterator[_OneShotServer]:
    server = _OneShotServer(b"")
    yield server
    server.close()


def _send(url: str, read_timeout: float = 5.0) -> HTTPResult:
    transport = Urllib3Transport(connect_timeout=5.0, read_timeout=read_timeout)
    try:
        return transport.send(HTTPRequest("POST", url, {}, b"{}"))
    finally:
        transport.close()


def test_a_closed_port_is_connection_refused_not_a_timeout() -> None:
    port = _closed_port()

    result = _send(f"http://127.0.0.1:{port}/v1/batch")

    assert result.status is None
    assert result.error_code == "connection_refused"
    assert result.error == f"connection_refused: nothing listens at 127.0.0.1:{port}"


def test_a_server_that_never_answers_is_a_read_timeout(silent_port: int) -> None:
    result = _send(f"http://127.0.0.1:{silent_port}/v1/batch", read_timeout=0.2)

    assert result.error_code == "read_timeout"
    assert result.error == (
        f"read_timeout: 127.0.0.1:{silent_port} accepted the request but did not answer "
        "within 0.2 s"
    )


def test_a_port_speaking_garbage_instead_of_tls_is_tls(garbage_server: _OneShotServer) -> None:
    result = _send(f"https://127.0.0.1:{garbage_server.port}/v1/batch")

    assert result.error_code == "tls"
    assert result.error is not None
    assert result.error.startswith(f"tls: TLS with 127.0.0.1:{garbage_server.port} failed:")


def test_a_server_that_hangs_up_is_connection_reset(hangup_server: _OneShotServer) -> None:
    result = _send(f"http://127.0.0.1:{hangup_server.port}/v1/batch")

    assert result.error == (
        f"connection_reset: 127.0.0.1:{hangup_server.port} closed the connection without answering"
    )


def test_an_unresolvable_host_is_dns() -> None:
    result = _send("http://trackwire-test.invalid/v1/batch")

    assert result.error == "dns: cannot resolve the host name trackwire-test.invalid"


def _raised(outer: BaseException, cause: BaseException | None) -> BaseException:
    """``outer`` raised ``from cause``, as urllib3 raises it."""
    try:
        raise outer from cause
    except BaseException as exc:
        return exc


_CONN = object()


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (_raised(u3.ConnectTimeoutError(_CONN, "timed out"), TimeoutError()), "connect_timeout"),
        (
            _raised(u3.NewConnectionError(_CONN, "refused"), ConnectionRefusedError(111, "x")),
            "connection_refused",
        ),
        (
            _raised(u3.NameResolutionError("h.invalid", _CONN, socket.gaierror(-2, "x")), None),  # type: ignore[arg-type]
            "dns",
        ),
        (
            _raised(u3.NewConnectionError(_CONN, "unreachable"), OSError(101, "unreachable")),
            "connection",
        ),
        (u3.ReadTimeoutError(None, "/", "read timed out"), "read_timeout"),  # type: ignore[arg-type]
        (_raised(u3.SSLError("bad"), ssl.SSLError(1, "WRONG_VERSION_NUMBER")), "tls"),
        (
            _raised(u3.ProtocolError("aborted"), http.client.RemoteDisconnected("closed")),
            "connection_reset",
        ),
        (
            _raised(u3.ProtocolError("reset"), ConnectionResetError(104, "reset")),
            "connection_reset",
        ),
        (
            _raised(
                u3.ProxyError("proxy", ConnectionRefusedError(111, "x")),
                ConnectionRefusedError(111, "x"),
            ),
            "connection_refused",
        ),
        (RuntimeError("something else"), "connection"),
    ],
    ids=[
        "connect-timeout",
        "refused",
        "dns",
        "unreachable",
        "read-timeout",
        "tls",
        "remote-disconnected",
        "reset",
        "proxy-refused",
        "other",
    ],
)
def test_classification_by_exception_type_and_cause(exc: BaseException, code: str) -> None:
    found, text = describe_error(exc, "example.test:443", 5.0, 15.0)

    assert found == code
    assert found in TRANSPORT_ERRORS
    assert text


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("http://127.0.0.1:8787/v1/batch", "127.0.0.1:8787"),
        ("https://api.segment.io/v1/batch", "api.segment.io:443"),
        ("http://user:secret@example.test/x", "example.test:80"),
        ("http://[::1]:9/x", "[::1]:9"),
    ],
)
def test_host_port_never_carries_credentials(url: str, where: str) -> None:
    assert host_port(url) == where


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (DeliveryError("rejected", "HTTP 404: Not Found", 404), "rejected: HTTP 404: Not Found"),
        (DeliveryError("rejected", "bad key", 401), "rejected: bad key (HTTP 401)"),
        (DeliveryError("retry_exhausted", "HTTP 503", 503), "retry_exhausted: HTTP 503"),
        (DeliveryError("queue_full"), "queue_full"),
    ],
)
def test_delivery_error_says_the_status_once(error: DeliveryError, text: str) -> None:
    assert str(error) == text


def test_transports_can_be_reset_after_fork() -> None:
    for transport in (Urllib3Transport(), RecordingTransport()):
        assert isinstance(transport, Transport)
        transport.reset_after_fork()
        transport.close()


def test_a_refused_connection_reaches_receipts_hooks_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _closed_port()
    reports: list[trackwire.BatchReport] = []
    caplog.set_level(logging.DEBUG, logger="trackwire")
    client = trackwire.Segment(
        "key",
        host=f"http://127.0.0.1:{port}",
        retry=trackwire.RetryConfig(max_retries=1, initial_backoff=0.01, max_backoff=0.01),
    )
    client.on("retry", reports.append)
    client.on("error", reports.append)
    try:
        receipt = client.track("user-1", "Refused")
        receipt.wait(10)
        assert receipt.done
    finally:
        client.shutdown(timeout=1)

    assert receipt.error is not None
    assert receipt.error.reason == "retry_exhausted"
    assert receipt.error.detail == f"connection_refused: nothing listens at 127.0.0.1:{port}"
    assert [report.kind for report in reports] == ["retry", "error"]
    assert reports[0].reason.startswith("connection_refused:")
    assert reports[1].error is receipt.error
    assert any("connection_refused" in record.getMessage() for record in caplog.records)
