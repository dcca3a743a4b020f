"""Read deadlines for the collector's connections, so a slow client cannot hold one forever.

Two deadlines, both configurable:

- **Headers**: a connection must deliver a complete request line and headers within
  ``header_timeout`` seconds of opening, or of the previous answer on a keep-alive connection;
  otherwise it is closed. uvicorn has no such limit (its keep-alive timer stops at the first
  byte), so this is a small subclass of its HTTP protocol: httptools' C parser when it is
  installed (the collector extra installs it), else h11's.
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
#: Most bytes of a request's line and headers received before they are complete (h11's own
#: limit, kept with httptools, whose parser has none).
MAX_HEADER_BYTES: Final = 16 * 1024
#: A request line's bytes besides its URL ("POST ", " HTTP/1.1", CRLF), at most, as counted for
#: a pipelined request's head (see _httptools_protocol).
_REQUEST_LINE_BYTES: Final = 20


class _HeaderDeadline:
    """The header deadline, for a uvicorn HTTP protocol class (h11's or httptools').

    One timer per connection, not one per request: a request's end only notes the time
    (:attr:`_idle_since`), and the timer, when it fires, closes the connection if it has been
    waiting for headers since ``header_timeout`` or sets itself for when it next could be due.
    Re-arming a timer per request cost the event loop ~5 % of its time (measured).
    """

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    # Set by the uvicorn protocol this is mixed into.
    loop: asyncio.AbstractEventLoop
    transport: Any
    cycle: Any
    client: Any

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._idle_since = self.loop.time()
        self._deadline: asyncio.TimerHandle | None = self.loop.call_at(
            self._idle_since + self.header_timeout, self._expired
        )

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if not self._waiting_for_headers():
            # A request is running: the earliest the next deadline can be due.
            due = now + self.header_timeout
        else:
            due = self._idle_since + self.header_timeout
            if now >= due:
                logger.warning(
                    "closed a connection from %s: no complete request headers within %s s",
                    self.client[0] if self.client else "?",
                    self.header_timeout,
                )
                self.transport.close()
                return
        self._deadline = self.loop.call_at(due, self._expired)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        # The timer was set at most header_timeout after an earlier moment, so it fires no
        # later than this new deadline and then waits for the rest of it.
        self._idle_since = self.loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        if getattr(self, "_deadline", None) is not None:
            assert self._deadline is not None
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)  # type: ignore[misc]


class _HeaderDeadlineProtocol(_HeaderDeadline, H11Protocol):
    """uvicorn's h11 protocol, closing connections that do not finish their headers in time."""


def _httptools_protocol() -> type[Any] | None:
    """The header-deadline protocol over httptools' C parser, or None without httptools."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return None

    class _HttpToolsDeadlineProtocol(_HeaderDeadline, HttpToolsProtocol):
        """uvicorn's httptools protocol with the header deadline and h11's cap on an unfinished
        head: more than :data:`MAX_HEADER_BYTES` received while a request's line and headers are
        not complete is answered 400 and closed, as h11 (which buffers at most that much of an
        incomplete event) does. httptools' parser has no cap of its own."""

        _in_head = False
        _head_bytes = 0
        # Within one data_received: did a message begin in it, and how many of its bytes belong
        # to other messages (bodies, and heads completed in it), so that a pipelined request's
        # head is counted from where it starts, not from the start of the read.
        _began_here = False
        _others_here = 0
        _head_seen = 0

        def on_message_begin(self) -> None:
            self._in_head = True
            self._began_here = True
            self._head_bytes = 0
            self._head_seen = _REQUEST_LINE_BYTES
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._head_seen += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_seen += len(name) + len(value) + 4  # ": " and CRLF
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._others_here += self._head_seen
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            self._others_here += len(body)
            super().on_body(body)

        def data_received(self, data: bytes) -> None:
            self._began_here, self._others_here = False, 0
            super().data_received(data)
            if self._in_head and not self.transport.is_closing():
                # A head open since an earlier read takes all of this one; a head that began
                # in this read takes what the other messages in it did not.
                mine = len(data) - self._others_here if self._began_here else len(data)
                self._head_bytes += max(mine, 0)
                if self._head_bytes > MAX_HEADER_BYTES:
                    message = "Invalid HTTP request received."  # uvicorn's, and h11's answer
                    self.logger.warning(message)
                    self.send_400_response(message)

    return _HttpToolsDeadlineProtocol


def header_deadline_protocol(header_timeout: float, *, parser: str = "auto") -> type[Any]:
    """The HTTP protocol class for uvicorn's ``http=`` setting, with this header deadline.

    ``parser`` ``"auto"`` takes httptools' C parser when it is installed (it costs the event
    loop ~0.3 µs less per event than h11 at the collector's request sizes, measured), else
    h11; ``"h11"`` takes h11.

    Raises:
        ValueError: ``header_timeout`` is not positive, or ``parser`` is unknown.
    """
    if not header_timeout > 0:
        raise ValueError(f"header_timeout must be more than 0 seconds; got {header_timeout}")
    if parser not in ("auto", "h11"):
        raise ValueError(f"parser must be 'auto' or 'h11'; got {parser!r}")
    base = _httptools_protocol() if parser == "auto" else None
    return type(
        "HeaderDeadlineProtocol",
        (base or _HeaderDeadlineProtocol,),
        {"header_timeout": header_timeout},
    )
