"""What the collector refused, kept so a test can assert its application sent nothing invalid.

Snowplow Micro's ``/micro/bad`` is what teams read in CI to catch bad tracking; this is the
collector's: every request answered with a 4xx (with the vendor's answer and, in development
mode, the start of the body) and every event a tracking plan in ``enforce`` mode kept out of the
store (with its violations). Bounded: the oldest entries go first. Listed by ``GET /_test/bad``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from trackwire.collector._values import now_ms

__all__ = ["MAX_BODY_BYTES", "MAX_ENTRIES", "RefusedLog"]

#: Entries kept; past it the oldest are dropped (and counted).
MAX_ENTRIES: Final = 1000
#: The most bytes of a refused request's body kept with it.
MAX_BODY_BYTES: Final = 16 * 1024


def _decoded(data: bytes) -> Any:
    """JSON data when ``data`` is JSON, else its text (UTF-8, invalid bytes replaced)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", "replace")


class RefusedLog:
    """A bounded, thread-safe list of refused requests and events.

    Args:
        keep_bodies: keep the start of each refused request's body (development mode only:
            a keyed collector keeps no message bodies outside its store).
        limit: entries kept.
    """

    def __init__(self, *, keep_bodies: bool, limit: int = MAX_ENTRIES) -> None:
        self.keep_bodies = keep_bodies
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._total = 0

    def request(self, vendor: str, path: str, status: int, answer: bytes, body: bytes) -> None:
        """Keep a request the collector answered with a 4xx."""
        entry: dict[str, Any] = {
            "kind": "request",
            "received_time_ms": now_ms(),
            "vendor": vendor,
            "path": path,
            "status": status,
            "answer": _decoded(answer),
        }
        if self.keep_bodies and body:
            entry["body"] = _decoded(body) if len(body) <= MAX_BODY_BYTES else None
            entry["body_bytes"] = len(body)
            if entry["body"] is None:
                entry["body"] = body[:MAX_BODY_BYTES].decode("utf-8", "replace")
        self._add(entry)

    def event(
        self,
        vendor: str,
        source: str,
        type: str,
        event_name: str | None,
        violations: Sequence[Mapping[str, Any]],
        payload: Mapping[str, Any],
    ) -> None:
        """Keep an event a tracking plan refused, with why."""
        entry: dict[str, Any] = {
            "kind": "event",
            "received_time_ms": now_ms(),
            "vendor": vendor,
            "source": source,
            "type": type,
            "event_name": event_name,
            "violations": list(violations),
        }
        if self.keep_bodies:
            entry["payload"] = dict(payload)
        self._add(entry)

    def _add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)
            self._total += 1

    def entries(
        self, *, vendor: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The kept entries, newest first, of one vendor when given."""
        with self._lock:
            found = [e for e in reversed(self._entries) if vendor in (None, e["vendor"])]
        return found if limit is None else found[:limit]

    @property
    def total(self) -> int:
        """Entries ever added (including those dropped for room)."""
        return self._total

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self._total = 0
