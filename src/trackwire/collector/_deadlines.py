"""Read deadlines for the collector's connections, so a slow client cannot hold one forever.

Two deadlines, both configurable:

- **Headers**: a connection must deliver a complete request line and headers within
  ``header_timeout`` seconds of opening, or of the previous answer on a keep-alive connection;
  otherwise it is closed. uvicorn has no such limit (its keep-alive timer stops at the first
  byte), so this is a small subclass of its h11 protocol.
- **Body**: :func:`trackwire.collector._http.read_body` must receive the whole body within
  ``body_timeout`` seconds; past it the request is answered ``408`` and the connection closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DEFAULT_BODY_TIMEOUT", "DEFAULT_HEADER_TIMEOUT", "header_deadline_protocol"]

logger = logging.getLogger("trackwire.collector")

#: Seconds a connection gets to send a request's headers.
DEFAULT_HEADER_TIMEOUT: Final = 10.0
#: Seconds a request gets to send its whole body (a 20 MB Amplitude batch at ~1 MB/s).
DEFAULT_BODY_TIMEOUT: Final = 60.0


class _HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections that do not finish their headers in time."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            assert self._deadline is not None
            self._deadline.cancel()
            self._deadline = None

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _expired(self) -> None:
        self._deadline = None
        if self._waiting_for_headers() and not self.transport.is_closing():
            logger.warning(
                "closed a connection from %s: no complete request headers within %s s",
                self.client[0] if self.client else "?",
                self.header_timeout,
            )
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if not self._waiting_for_headers():
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request may already be running (handle_events above disarmed for it).
        if self._waiting_for_headers() and not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def header_deadline_protocol(header_timeout: float) -> type[H11Protocol]:
    """The HTTP protocol class for uvicorn's ``http=`` setting, with this header deadline.

    Raises:
        ValueError: ``header_timeout`` is not positive.
    """
    if not header_timeout > 0:
        raise ValueError(f"header_timeout must be more than 0 seconds; got {header_timeout}")
    return type(
        "HeaderDeadlineProtocol", (_HeaderDeadlineProtocol,), {"header_timeout": header_timeout}
    )
