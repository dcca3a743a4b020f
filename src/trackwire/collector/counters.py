"""The collector's request counters, shown by ``/stats``."""

from __future__ import annotations

import threading

__all__ = ["RequestCounters"]


class RequestCounters:
    """Thread-safe request counters for ``/stats``: ``group -> vendor -> name -> count``.

    Groups used by the collector: ``requests`` (by status), ``rejected`` (messages refused
    inside an otherwise accepted request, by reason), ``stored`` and ``duplicates`` (by vendor,
    name ``"events"``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, dict[str, int]]] = {}

    def add(self, group: str, vendor: str, name: str, count: int = 1) -> None:
        """Add ``count`` to one counter."""
        if count == 0:
            return
        with self._lock:
            names = self._counts.setdefault(group, {}).setdefault(vendor, {})
            names[name] = names.get(name, 0) + count

    def get(self, group: str, vendor: str, name: str) -> int:
        """One counter's value (0 when never counted)."""
        with self._lock:
            return self._counts.get(group, {}).get(vendor, {}).get(name, 0)

    def snapshot(self) -> dict[str, dict[str, dict[str, int]]]:
        """A copy of every counter, sorted for stable output."""
        with self._lock:
            return {
                group: {vendor: dict(sorted(names.items())) for vendor, names in sorted(v.items())}
                for group, v in sorted(self._counts.items())
            }
