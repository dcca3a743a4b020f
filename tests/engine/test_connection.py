"""The transport's connections: one write per request, no poll right after an answer, and
urllib3's own check (and replacement) of a kept-alive connection idle for longer."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3.connection
import urllib3.util.wait

from tests.sink import Sink
from trackwire._engine import connection
from trackwire._engine.transport import HTTPRequest, Urllib3Transport

_BODY = b'{"batch":[' + b'{"event":"x"},' * 2_000 + b'{"event":"y"}]}'


@pytest.fixture
def transport() -> Iterator[Urllib3Transport]:
    transport = Urllib3Transport(connect_timeout=5.0, read_timeout=5.0)
    yield transport
    transport.close()


def _post(transport: Urllib3Transport, url: str, body: bytes = _BODY) -> int | None:
    result = transport.send(HTTPRequest("POST", url, {"Content-Type": "application/json"}, body))
    return result.status


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every write a connection makes to its socket, as bytes."""
    written: list[bytes] = []
    original = http.client.HTTPConnection.send

    def recording_send(self: http.client.HTTPConnection, data: Any) -> None:
        written.append(bytes(data))
        original(self, data)

    monkeypatch.setattr(http.client.HTTPConnection, "send", recording_send)
    return written


def test_head_and_body_go_out_in_one_write(
    transport: Urllib3Transport, writes: list[bytes]
) -> None:
    with Sink() as sink:
        assert _post(transport, sink.url + "/v1/batch") == 200

        assert len(writes) == 1
        head, body = writes[0].split(b"\r\n\r\n", 1)
        assert head.startswith(b"POST /v1/batch HTTP/1.1\r\n")
        assert f"Content-Length: {len(_BODY)}".encode() in head.split(b"\r\n")
        assert body == _BODY
        assert sink.requests[0].raw == _BODY


def test_an_empty_body_is_sent_as_urllib3_sends_it(
    transport: Urllib3Transport, writes: list[bytes]
) -> None:
    with Sink() as sink:
        assert _post(transport, sink.url + "/v1/batch", b"") is not None

        assert len(writes) == 1
        assert writes[0].endswith(b"\r\n\r\n")


def _count_polls(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    polls: list[float | None] = []
    original = urllib3.util.wait.wait_for_read

    def counting_wait_for_read(sock: socket.socket, timeout: float | None = None) -> bool:
        polls.append(timeout)
        return bool(original(sock, timeout=timeout))

    monkeypatch.setattr(urllib3.connection, "wait_for_read", counting_wait_for_read)
    return polls


def test_a_connection_answered_a_moment_ago_is_reused_without_a_poll(
    transport: Urllib3Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    polls = _count_polls(monkeypatch)
    # A clock that stands still: each request follows the last answer within FRESH_SECONDS,
    # however slowly a loaded machine runs this test.
    monkeypatch.setattr(connection, "_monotonic", lambda: 1000.0)
    with Sink() as sink:
        for _ in range(3):
            assert _post(transport, sink.url + "/v1/batch") == 200

    assert polls == []


def test_a_connection_idle_for_longer_is_polled_first(
    transport: Urllib3Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    polls = _count_polls(monkeypatch)
    with Sink() as sink:
        assert _post(transport, sink.url + "/v1/batch") == 200
        # As if the answer came FRESH_SECONDS ago: the next reuse checks the socket.
        monkeypatch.setattr(connection, "_monotonic", lambda: 1e12)
        assert _post(transport, sink.url + "/v1/batch") == 200

    assert polls == [0.0]


class _ClosingServer:
    """Answers each request with 200 and keep-alive, then closes that connection at once
    (without ``Connection: close``), the way a server restarting or trimming idle
    connections does."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.answered = 0
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.cond:
                self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                while len(body) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                if data:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            with self.cond:
                self.answered += 1
                self.cond.notify_all()

    def wait_answered(self, count: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.answered >= count, timeout=5.0)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # shutdown() wakes the blocked accept()
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


def test_a_connection_the_server_closed_while_idle_is_replaced(
    transport: Urllib3Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _ClosingServer()
    try:
        assert _post(transport, server.url + "/v1/batch") == 200
        server.wait_answered(1)  # the first connection is closed by now
        # Idle for longer than FRESH_SECONDS: polled, found closed, replaced (urllib3's way).
        monkeypatch.setattr(connection, "_monotonic", lambda: 1e12)

        assert _post(transport, server.url + "/v1/batch") == 200
        assert server.connections == 2
    finally:
        server.close()


def test_a_request_through_a_proxy_goes_out_in_one_write(sink: Sink) -> None:
    transport = Urllib3Transport(proxy=sink.url)
    try:
        # A forwarding proxy gets the absolute URL; the sink answers as the proxy would.
        assert _post(transport, "http://collector.invalid/v1/batch") == 200
    finally:
        transport.close()
    assert sink.requests[0].path == "http://collector.invalid/v1/batch"
    assert sink.requests[0].raw == _BODY
