"""The benchmark's HTTP sink, in a process of its own.

Runs the test suite's :class:`tests.sink.Sink` (a ThreadingHTTPServer on 127.0.0.1 that
gunzips and parses every batch) with bodies discarded, so that neither its CPU time nor its
GIL is billed to the SDK under test. It is driven over its standard input and output, one
JSON object per line:

* at start it prints ``{"url": ...}``;
* ``stats`` prints the counters: events accepted, requests, body bytes received and the
  ``time.monotonic_ns()`` at which the last events arrived (the same clock in every process
  of the machine, so the benchmark can compare it with the SDK process's timestamps);
* ``wait N SECONDS`` waits until at least N events arrived (or the time is up), then prints
  the counters;
* ``quit`` (or end of input) stops the server.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.sink import Sink


class CountingSink(Sink):
    """A :class:`Sink` that also counts requests and bytes and remembers the last arrival."""

    def __init__(self) -> None:
        super().__init__(keep_bodies=False)
        # http.server leaves Nagle's algorithm on, so a response's body (written after its
        # headers) waits for the client's delayed ACK: about 40 ms per request, which caps
        # any SDK at ~25 requests/s. Real servers set TCP_NODELAY; so does this one. The
        # handler class is this sink's own (made in Sink.__init__), so nothing else changes.
        self.server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        self.request_count = 0
        self.body_bytes = 0
        self.last_event_ns = 0

    def _record(self, handler: BaseHTTPRequestHandler, raw: bytes, status: int | None) -> None:
        super()._record(handler, raw, status)
        now = time.monotonic_ns()
        with self.cond:
            self.request_count += 1
            self.body_bytes += len(raw)
            self.last_event_ns = max(self.last_event_ns, now)

    def counters(self) -> dict[str, Any]:
        with self.cond:
            return {
                "events": self.event_count,
                "requests": self.request_count,
                "bytes": self.body_bytes,
                "last_event_ns": self.last_event_ns,
            }


def _reply(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def main() -> None:
    with CountingSink() as sink:
        _reply({"url": sink.url})
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == "quit":
                break
            if words[0] == "wait":
                expected = int(words[1])
                sink.wait_until(lambda n=expected: sink.event_count >= n, float(words[2]))
            _reply(sink.counters())


if __name__ == "__main__":
    main()
