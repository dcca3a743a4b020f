"""How long each request to a vendor takes: a transport wrapper with a fixed-bucket histogram.

Give a client ``transport=TimedTransport()`` (or wrap a transport of your own) and read
``transport.latency()``; the Prometheus and OpenTelemetry exporters read it too. The wrapper
adds two clock reads and one locked increment per request (a batch), nothing per message.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from trackwire._engine.transport import HTTPRequest, HTTPResult, Urllib3Transport

__all__ = ["BUCKETS", "LatencySnapshot", "TimedTransport"]

#: Upper bounds of the histogram's buckets, in seconds (the last one catches the rest).
BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))


@dataclass(frozen=True, slots=True)
class LatencySnapshot:
    """Request durations so far: ``counts[i]`` requests took at most ``BUCKETS[i]`` seconds
    (and more than the bound before), ``total`` seconds in all."""

    counts: tuple[int, ...]
    total: float

    @property
    def count(self) -> int:
        """How many requests were timed."""
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """``(bound, requests that took at most bound)`` for every bucket, as Prometheus wants."""
        running = 0
        out = []
        for bound, count in zip(BUCKETS, self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


class TimedTransport:
    """A transport that times every request it sends through ``inner``.

    Args:
        inner: the transport to time; by default trackwire's urllib3 transport (each request
            still carries the client's own timeout).
        on_request: also called with each request's duration in seconds (the OpenTelemetry
            exporter records it into a histogram this way); its errors are ignored.
    """

    def __init__(
        self,
        inner: Any = None,
        *,
        on_request: Callable[[float], None] | None = None,
    ) -> None:
        self.inner = inner if inner is not None else Urllib3Transport()
        self._listeners: list[Callable[[float], None]] = [] if on_request is None else [on_request]
        self._counts = [0] * len(BUCKETS)
        self._total = 0.0
        self._lock = threading.Lock()

    def add_listener(self, fn: Callable[[float], None]) -> None:
        """Call ``fn(seconds)`` after every request."""
        self._listeners.append(fn)

    def send(self, request: HTTPRequest) -> HTTPResult:
        """Send through the inner transport and record how long it took."""
        started = time.perf_counter()
        try:
            result: HTTPResult = self.inner.send(request)
        finally:
            self.record(time.perf_counter() - started)
        return result

    def record(self, seconds: float) -> None:
        """Count one request of ``seconds``."""
        index = bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            self._counts[index] += 1
            self._total += seconds
        for fn in self._listeners:
            with contextlib.suppress(Exception):  # a metrics listener must never break delivery
                fn(seconds)

    def latency(self) -> LatencySnapshot:
        """The durations recorded so far."""
        with self._lock:
            return LatencySnapshot(tuple(self._counts), self._total)

    def close(self) -> None:
        """Close the inner transport."""
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def reset_after_fork(self) -> None:
        """Reset the inner transport in a forked child (its pooled sockets are the parent's)."""
        reset = getattr(self.inner, "reset_after_fork", None)
        if callable(reset):
            reset()
