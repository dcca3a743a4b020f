"""A real HTTP server on 127.0.0.1 for end-to-end tests and benchmarks, with fault injection.

It records every request (decoded JSON, gunzipped when needed) and answers from a script:
a queue of actions consumed one per request (a status with headers and body, a delay before
answering, or a dropped connection), then the default answer. Tests wait on its condition
with a deadline instead of sleeping.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Action:
    """One scripted answer: ``status`` (None = drop the connection), headers, body, delay."""

    status: int | None = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"success":true}'
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    json: Any
    answered: int | None


def _messages(decoded: Any) -> list[Any]:
    """The messages of a body: Segment's ``{"batch": [...]}``, or a JSON array (mParticle bulk)."""
    if isinstance(decoded, list):
        return decoded
    if isinstance(decoded, dict):
        return list(decoded.get("batch", ()))
    return []


class Sink:
    """Start with ``with Sink() as sink:``; ``sink.url`` is the base URL."""

    def __init__(self, *, keep_bodies: bool = True) -> None:
        self.requests: list[Received] = []
        self.script: list[Action] = []
        self.default = Action()
        self.event_count = 0
        self.keep_bodies = keep_bodies
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.outage_until = 0.0
        self.outage_action = Action(status=503, body=b'{"code":"unavailable"}')
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; Nagle would hold the second for ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                action = sink._next_action()
                if action.delay:
                    # Simulated server latency; cut short when the sink stops.
                    sink.stopping.wait(action.delay)
                if action.status is None:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    sink._record(self, raw, None)
                    return
                sink._record(self, raw, action.status)
                self.send_response(action.status)
                for key, value in action.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(action.body)))
                self.end_headers()
                self.wfile.write(action.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Sink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def _next_action(self) -> Action:
        with self.cond:
            if time.monotonic() < self.outage_until:
                return self.outage_action
            if self.script:
                return self.script.pop(0)
            return self.default

    def _record(self, handler: BaseHTTPRequestHandler, raw: bytes, status: int | None) -> None:
        body = gzip.decompress(raw) if handler.headers.get("Content-Encoding") == "gzip" else raw
        decoded = orjson.loads(body) if body else None
        count = len(_messages(decoded))
        with self.cond:
            if status is not None and 200 <= status < 300:
                self.event_count += count
            if self.keep_bodies:
                self.requests.append(
                    Received(handler.path, dict(handler.headers), raw, decoded, status)
                )
            self.cond.notify_all()

    def delivered(self) -> list[dict[str, Any]]:
        """Every message of every batch that was answered with a 2xx, in arrival order."""
        with self.cond:
            return [
                message
                for request in self.requests
                if request.answered is not None and 200 <= request.answered < 300
                for message in _messages(request.json)
            ]

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait for ``predicate()`` (checked on every request) with a deadline."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
            return True

    def start_outage(self, seconds: float, action: Action | None = None) -> None:
        """Answer every request with ``action`` (503 by default) for ``seconds``."""
        with self.cond:
            if action is not None:
                self.outage_action = action
            self.outage_until = time.monotonic() + seconds
