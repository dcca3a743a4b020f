"""A transport for engine tests: a server that does not answer until the test lets it."""

from __future__ import annotations

import threading

from trackwire._engine.transport import HTTPRequest, HTTPResult


class GatedTransport:
    """Blocks every send until ``gate`` is set (at most 10 s), then answers 200.

    Args:
        release_on_close: closing the transport sets the gate (a client's shutdown lets a
            blocked send finish); False keeps it shut until the test sets it.
    """

    def __init__(self, *, release_on_close: bool = True) -> None:
        self.gate = threading.Event()
        self.calls = 0
        self._release_on_close = release_on_close

    def send(self, request: HTTPRequest) -> HTTPResult:
        self.calls += 1
        self.gate.wait(10)
        return HTTPResult(status=200)

    def close(self) -> None:
        if self._release_on_close:
            self.gate.set()

    def reset_after_fork(self) -> None:
        """Nothing to reset: the gate is the test's."""
