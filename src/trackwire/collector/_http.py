"""The collector's HTTP plumbing: bounded body reading, decompression, credentials, replies.

Every vendor route reads its body through :func:`read_body`, which refuses a body larger than
the route's limit *before* holding it in memory: a declared ``Content-Length`` over the limit
is refused at once, a streamed body is counted chunk by chunk, and a compressed body is
inflated with a ceiling on its output, so a gzip bomb costs at most the limit. A refused body
is still read and thrown away (up to :data:`DRAIN_LIMIT`), because answering while a client is
still sending makes the client see a connection reset instead of the answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import sys
import zlib
from collections.abc import Mapping
from typing import Any, Final

from starlette.requests import ClientDisconnect, Request

from trackwire.collector._values import INT64

__all__ = [
    "DRAIN_LIMIT",
    "MAX_EVENTS_LIMIT",
    "BodyError",
    "basic_credentials",
    "event_filters",
    "is_json",
    "media_type",
    "read_body",
]

#: Longest integer text ``/events`` parses (a 64-bit integer has at most 20 characters).
_MAX_DIGITS: Final = 24
#: Largest ``limit`` ``/events`` accepts.
MAX_EVENTS_LIMIT: Final = 1000
#: Most bytes of a refused body read and discarded before answering; past it the connection
#: is closed after the answer.
DRAIN_LIMIT: Final = 32 * 1024 * 1024


class BodyError(Exception):
    """The body cannot be read as sent.

    Attributes:
        too_large: True when a size limit was exceeded (the vendors answer 413 or 400).
        close: True when the rest of the body was left unread; the answer must close the
            connection.
        late: True when the body did not arrive within its deadline (answered 408).
    """

    def __init__(
        self, message: str, *, too_large: bool = False, close: bool = False, late: bool = False
    ) -> None:
        super().__init__(message)
        self.too_large = too_large
        self.close = close
        self.late = late


async def _next_chunk(receive: Any) -> tuple[bytes, bool]:
    """The next body chunk and whether more follows (ASGI ``http.request`` messages).

    Raises:
        ClientDisconnect: the client went away before the end of the body.
    """
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            return message.get("body", b""), message.get("more_body", False)
        if kind == "http.disconnect":
            raise ClientDisconnect()


async def _drain(receive: Any, already: int) -> bool:
    """Read and discard the rest of the body; False when it went past :data:`DRAIN_LIMIT`."""
    seen = already
    more = True
    while more:
        chunk, more = await _next_chunk(receive)
        seen += len(chunk)
        if seen > DRAIN_LIMIT:
            return False
    return True


async def read_body(request: Request, limit: int, timeout: float | None = None) -> bytes:
    """Read the request body, decompressed, refusing more than ``limit`` bytes either way.

    Both the bytes on the wire and the decompressed bytes are held to ``limit``.
    ``Content-Encoding`` may be absent, ``identity``, ``gzip`` (``x-gzip``) or ``deflate``
    (zlib-wrapped or raw). With ``timeout``, the whole body (and any draining of a refused one)
    must arrive within that many seconds.

    Raises:
        BodyError: the body is too large, late, its encoding is unknown, or it does not inflate.
    """
    if timeout is None:
        return await _read_body(request, limit)
    try:
        if sys.version_info >= (3, 11):
            # A timer on this task: wait_for would start a task per request.
            async with asyncio.timeout(timeout):
                return await _read_body(request, limit)
        return await asyncio.wait_for(_read_body(request, limit), timeout)
    except asyncio.TimeoutError:
        raise BodyError(
            f"the request body did not arrive within {timeout:g} s", close=True, late=True
        ) from None


async def _read_body(request: Request, limit: int) -> bytes:
    # The ASGI messages are read here directly rather than through Request.stream(): one
    # async generator less per chunk, on the event loop's busiest path.
    receive = request.receive
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise BodyError(f"Content-Length {declared!r} is not a number", close=True) from None
        if length > limit:
            message = f"request body is {length} bytes; the limit is {limit} bytes"
            if length > DRAIN_LIMIT:
                raise BodyError(message, too_large=True, close=True)
            drained = await _drain(receive, 0)
            raise BodyError(message, too_large=True, close=not drained)
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        chunk, more = await _next_chunk(receive)
        size += len(chunk)
        if size > limit:
            drained = not more or await _drain(receive, size)
            raise BodyError(
                f"request body is larger than the limit of {limit} bytes",
                too_large=True,
                close=not drained,
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return _inflate(body, limit, zlib.MAX_WBITS | 16, "gzip")
    if encoding == "deflate":
        # HTTP's "deflate" is zlib-wrapped, but some clients send raw deflate; accept both.
        try:
            return _inflate(body, limit, zlib.MAX_WBITS, "deflate")
        except BodyError as exc:
            if exc.too_large:
                raise
            return _inflate(body, limit, -zlib.MAX_WBITS, "deflate")
    raise BodyError(
        f"Content-Encoding {encoding!r} is not supported; "
        "send gzip, deflate or an uncompressed body"
    )


def _inflate(data: bytes, limit: int, wbits: int, name: str) -> bytes:
    """Inflate ``data`` (several gzip members are allowed), producing at most ``limit`` bytes."""
    out: list[bytes] = []
    produced = 0
    rest = data
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            # Ask for one byte more than the limit: getting it proves the body is too large
            # without inflating the rest of a bomb.
            chunk = inflater.decompress(rest, limit - produced + 1)
        except zlib.error as exc:
            raise BodyError(f"the {name} body cannot be decompressed: {exc}") from None
        produced += len(chunk)
        if produced > limit or inflater.unconsumed_tail:
            raise BodyError(
                f"the decompressed body is larger than the limit of {limit} bytes", too_large=True
            )
        if not inflater.eof:
            raise BodyError(f"the {name} body is truncated")
        out.append(chunk)
        rest = inflater.unused_data
        if not rest or wbits != zlib.MAX_WBITS | 16:
            return b"".join(out)


def media_type(request: Request) -> str:
    """The request's media type, lower-cased, without parameters (``""`` when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    """Whether a media type is JSON (``application/json`` or a ``+json`` type)."""
    return content_type == "application/json" or content_type.endswith("+json")


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """The ``(user, password)`` of an HTTP Basic header; None when the header is not Basic.

    A decoded value without a colon is all user and no password (Segment accepts a write key
    sent without the colon "for backward compatibility").

    Raises:
        ValueError: the header says Basic but its value is not base64 of UTF-8 text.
    """
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("the Basic Authorization header is not valid base64") from None
    user, _, password = decoded.partition(":")
    return user, password


def event_filters(params: Mapping[str, str]) -> dict[str, Any]:
    """``/events`` query parameters as :meth:`Store.events` keyword arguments.

    ``vendor``, ``source``, ``type``, ``user``, ``event``, ``since``/``until`` (epoch ms),
    ``before`` (an event id, for the next page) and ``limit`` (1 to :data:`MAX_EVENTS_LIMIT`,
    default 100).

    Raises:
        ValueError: a number is not an integer or out of range; the message names it.
    """

    def integer(name: str, low: int, high: int = INT64.stop - 1) -> int | None:
        text = params.get(name)
        if text is None or text == "":
            return None
        if len(text) > _MAX_DIGITS:
            raise ValueError(f"{name} must be an integer from {low} to {high}")
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{name} must be an integer; got {text[:40]!r}") from None
        if not low <= value <= high:
            # The value is not echoed: it may be thousands of digits long.
            raise ValueError(f"{name} must be an integer from {low} to {high}")
        return value

    limit = integer("limit", 1, MAX_EVENTS_LIMIT)
    return {
        "vendor": params.get("vendor") or None,
        "source": params.get("source") or None,
        "type": params.get("type") or None,
        "user_id": params.get("user") or None,
        "event_name": params.get("event") or None,
        "since_ms": integer("since", 0),
        "until_ms": integer("until", 0),
        "before_id": integer("before", 1),
        "limit": 100 if limit is None else limit,
    }
