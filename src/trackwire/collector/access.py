"""One log line per request: method, path, status, events stored, milliseconds.

Logged at INFO on ``trackwire.collector.access``; never the query string, a header or a body,
so no key or message content reaches a log.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

from trackwire.collector._handler import STORED_STATE

__all__ = ["AccessLog", "log_request", "logging_requests"]

logger = logging.getLogger("trackwire.collector.access")

#: Longest path written to the log; a hostile client may send kilobytes of it.
_MAX_PATH: Final = 200


def logging_requests() -> bool:
    """Whether request lines are written (the logger is enabled for INFO)."""
    return logger.isEnabledFor(logging.INFO)


def log_request(scope: Any, status: int, start: float) -> None:
    """Write one request's line: ``status`` 0 is a request answered with nothing, ``start``
    its :func:`time.perf_counter` when it arrived. Only when :func:`logging_requests`."""
    path = str(scope.get("path", ""))[:_MAX_PATH]
    # Escape control characters so a path cannot forge log lines.
    path = path.encode("unicode_escape").decode("ascii") if not path.isprintable() else path
    stored = scope.get("state", {}).get(STORED_STATE, 0)
    logger.info(
        "%s %s %s stored=%d %.1fms",
        scope.get("method", "?"),
        path,
        status or "-",
        stored,
        (time.perf_counter() - start) * 1000,
    )


class AccessLog:
    """ASGI middleware writing one line per HTTP request after its answer was sent."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not logging_requests():
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            log_request(scope, status, start)
