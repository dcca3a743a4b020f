"""Slow clients are cut off, every request leaves one log line, and the collector command
refuses bad flags in one line (issue 7)."""

from __future__ import annotations

import base64
import io
import logging
import re
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.collector.conftest import Client, basic
from tests.collector.test_cli import _post_batch
from trackwire.cli import main
from trackwire.collector._deadlines import MAX_HEADER_BYTES, header_deadline_protocol
from trackwire.collector.server import (
    LOG_FORMAT,
    RunningCollector,
    configure_logging,
    spawn_collector,
    start_collector,
)

#: How long a test waits for the collector to act; never reached when it works.
PATIENCE = 10.0


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[RunningCollector]:
    with start_collector(tmp_path / "strict.db", header_timeout=0.3, body_timeout=0.3) as running:
        yield running


def _connect(collector: RunningCollector) -> socket.socket:
    sock = socket.create_connection((collector.host, collector.port), timeout=PATIENCE)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or PATIENCE passes)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "sent",
    [b"", b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Ty"],
    ids=["nothing", "half-the-headers"],
)
def test_connection_without_complete_headers_is_closed(
    strict: RunningCollector, sent: bytes
) -> None:
    with _connect(strict) as sock:
        sock.sendall(sent)

        assert _read_all(sock) == b""  # closed by the server, not by our timeout


def test_keep_alive_connection_without_next_headers_is_closed(strict: RunningCollector) -> None:
    with _connect(strict) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        while b"\r\n\r\n" not in first or not first.endswith(b"}"):  # the whole JSON answer
            first += sock.recv(65536)
        sock.sendall(b"GET /health HTTP/1.1\r\nHo")

        rest = _read_all(sock)

    assert first.startswith(b"HTTP/1.1 200 ")
    assert rest == b""  # closed by the server, not by our timeout


def test_body_that_does_not_arrive_in_time_is_a_408_and_close(strict: RunningCollector) -> None:
    head = (
        b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: " + basic("wk").encode() + b"\r\nContent-Length: 1000\r\n\r\n"
    )
    with _connect(strict) as sock:
        sock.sendall(head + b'{"batch": [')

        answer = _read_all(sock)

    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"connection: close" in answer.lower()


def test_keep_alive_requests_in_time_are_served(strict: RunningCollector) -> None:
    client = Client(strict)
    body = {"batch": [{"type": "track", "userId": "u", "event": "E"}]}

    assert [client.segment("/v1/batch", body).status for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize("where", ["url", "header"])
def test_unfinished_headers_past_16_kib_are_a_400_and_close(
    strict: RunningCollector, where: str
) -> None:
    long = "x" * (MAX_HEADER_BYTES + 10)
    head = f"GET /health?{long}" if where == "url" else f"GET /health HTTP/1.1\r\nX-Pad: {long}"
    with _connect(strict) as sock:
        sock.sendall(head.encode())  # and never the end of the headers

        answer = _read_all(sock)

    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


def test_headers_within_the_cap_are_served(strict: RunningCollector) -> None:
    pad = "x" * (MAX_HEADER_BYTES - 200)
    with _connect(strict) as sock:
        sock.sendall(f"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n".encode())

        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")


def test_the_protocol_parses_with_httptools_when_installed() -> None:
    httptools = pytest.importorskip("httptools")
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    assert httptools is not None
    assert issubclass(header_deadline_protocol(1.0), HttpToolsProtocol)
    assert issubclass(header_deadline_protocol(1.0, parser="h11"), H11Protocol)
    with pytest.raises(ValueError, match="parser"):
        header_deadline_protocol(1.0, parser="picohttp")


class _Lines(logging.Handler):
    """Collects formatted records and signals each one."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.arrived = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.arrived:
            self.lines.append(record.getMessage())
            self.arrived.notify_all()

    def wait_for(self, text: str) -> str:
        with self.arrived:
            found = self.arrived.wait_for(
                lambda: next((line for line in self.lines if text in line), None), PATIENCE
            )
        assert found, (text, self.lines)
        return found


@pytest.fixture
def lines() -> Iterator[_Lines]:
    handler = _Lines()
    logger = logging.getLogger("trackwire.collector")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_one_line_per_request_with_status_stored_and_time(client: Client, lines: _Lines) -> None:
    body = {"batch": [{"type": "track", "userId": "u", "event": "E", "messageId": f"m{i}"}
                      for i in range(2)]}  # fmt: skip
    client.segment("/v1/batch", body, key="sEcReT-wRiTe-KeY")
    client.get("/events", limit=5)
    client.post("/2/httpapi", {"api_key": "sEcReT-aPi-KeY", "events": []})

    batch = lines.wait_for("POST /v1/batch")
    events = lines.wait_for("GET /events")
    amplitude = lines.wait_for("POST /2/httpapi")

    assert batch.startswith("POST /v1/batch 200 stored=2 ") and batch.endswith("ms")
    assert events.startswith("GET /events 200 stored=0 ")
    assert amplitude.startswith("POST /2/httpapi 400 stored=0 ")
    assert not any("sEcReT" in line or "limit=" in line for line in lines.lines)


def test_log_lines_are_what_logging_formats() -> None:
    handler = configure_logging("info", io.StringIO())
    logging.getLogger("trackwire").removeHandler(handler)
    plain = logging.Formatter(LOG_FORMAT)
    times = [1_700_000_000.001, 1_700_000_000.999, 1_700_000_001.5, 1_700_000_000.25]
    for created in times:
        record = logging.makeLogRecord({"name": "trackwire.collector.access", "msg": "POST %s",
                                        "args": ("/v1/batch",), "levelno": logging.INFO,
                                        "levelname": "INFO", "created": created,
                                        "msecs": (created % 1) * 1000})  # fmt: skip

        assert handler.format(record) == plain.format(record)


def test_collector_command_logs_requests_and_warnings_to_stderr(tmp_path: Path) -> None:
    collector = spawn_collector(tmp_path / "logged.db")
    try:
        assert _post_batch(collector.url) == 200
        collector.process.send_signal(signal.SIGTERM)
        assert collector.process.wait(15) == 0
    finally:
        collector.stop()

    assert any("POST /v1/batch 200 stored=1" in line for line in collector.output())


def test_collector_command_log_level_warning_is_quiet(tmp_path: Path) -> None:
    collector = spawn_collector(tmp_path / "quiet.db", extra_args=["--log-level", "warning"])
    try:
        assert _post_batch(collector.url) == 200
        collector.process.send_signal(signal.SIGTERM)
        assert collector.process.wait(15) == 0
    finally:
        collector.stop()

    assert not any("POST /v1/batch" in line for line in collector.output())


@pytest.mark.parametrize("port", ["99999", "-1", "65536", "http"])
def test_collector_port_outside_range_is_a_usage_error(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["collector", "--port", port])

    assert stopped.value.code == 2
    assert "--port" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"not a database at all" * 100, None], ids=["text", "dir"])
def test_collector_db_that_is_not_sqlite_is_one_line(
    tmp_path: Path, content: bytes | None, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "not.db"
    if content is None:
        db.mkdir()
    else:
        db.write_bytes(content)

    status = main(["collector", "--port", "0", "--db", str(db)])

    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "cannot open" in err and "--db" in err


def test_a_pipelined_request_after_a_large_body_is_served(strict: RunningCollector) -> None:
    # One read can hold a whole request with a 20 KB body and the start of the next one's head:
    # only the next head's own bytes count against the 16 KiB cap.
    body = b'{"batch": [{"type": "track", "userId": "u", "event": "E", "p": "' + b"x" * 20_000
    body += b'"}]}'
    token = base64.b64encode(b"key:").decode()
    head = f"POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n"
    first = f"{head}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    with _connect(strict) as sock:
        sock.sendall(first.encode() + body + b"GET /health HTTP/1.1\r\nHost: x\r\n")
        answers = sock.recv(65536)  # the first answer: the next head's end comes in a later read
        sock.sendall(b"\r\n")
        while answers.count(b"HTTP/1.1 ") < 2:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answers += chunk

    assert re.findall(rb"HTTP/1\.1 \d+ [A-Za-z ]+", answers) == [b"HTTP/1.1 200 OK"] * 2, answers
