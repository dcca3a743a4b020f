"""The one request handler every vendor route shares: read the body, run, count, answer.

A vendor route says what it needs (its body limit and how to answer a body that is too large
or unreadable) and gives a *flow*: a plain function from the body bytes to a :class:`Reply`,
run in a worker thread so the event loop only moves bytes. The handler reads the body with
:func:`~trackwire.collector._http.read_body`, runs the flow, counts the answer by vendor and
status and turns it into a response.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from trackwire.collector import _http
from trackwire.collector._http import BodyError
from trackwire.collector._workers import in_worker
from trackwire.collector.counters import RequestCounters
from trackwire.collector.store import (
    StorageLimitError,
    StoreClosedError,
    StoreUnavailableError,
    Vendor,
)
from trackwire.errors import ValidationError

__all__ = ["STORED_STATE", "Flow", "Reply", "handle", "json_reply", "text_reply"]

#: The request-state key under which the handler leaves how many events a request stored.
STORED_STATE = "trackwire.stored"

#: The body of the 503 answered while the store is closing.
_SHUTTING_DOWN = b'{"error":"the collector is shutting down"}'
#: The body of the 503 answered while the database cannot be reached (nothing was stored).
_UNAVAILABLE = b'{"error":"the collector cannot reach its database; nothing was stored, retry"}'


@dataclass(frozen=True, slots=True)
class Reply:
    """A route's answer, built off the event loop and sent by the handler.

    Attributes:
        status: the HTTP status.
        body: the body bytes.
        content_type: the ``Content-Type``; default JSON.
        headers: extra headers.
        stored: events stored by the request (for the request's log line).
    """

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    stored: int = 0

    def response(self) -> Response:
        """The Starlette response for this reply."""
        return Response(
            self.body,
            status_code=self.status,
            media_type=self.content_type or None,
            headers=dict(self.headers),
        )


#: A route's work on one body: bytes in, answer out (runs in a worker thread).
Flow = Callable[[bytes], Reply]


def json_reply(status: int, data: Any, *, stored: int = 0) -> Reply:
    """A JSON reply."""
    return Reply(status, orjson.dumps(data), stored=stored)


def text_reply(status: int, body: bytes) -> Reply:
    """A plain-text reply."""
    return Reply(status, body, "text/plain")


async def handle(
    request: Request,
    *,
    vendor: Vendor,
    limit: int,
    flow: Flow,
    too_large: Callable[[str], Reply],
    bad_body: Callable[[str], Reply],
    counters: RequestCounters,
    body_timeout: float | None = None,
) -> Response:
    """Read the body within ``limit``, run ``flow`` on it in a worker thread, count, answer.

    Args:
        request: the request.
        vendor: the vendor the route belongs to (the counters' key).
        limit: the largest body accepted, compressed or not.
        flow: the route's work on the body.
        too_large: the answer for a body over ``limit``, given the reason.
        bad_body: the answer for a body that cannot be read or stored, given the reason.
        counters: where the answer is counted (``requests``, by status).
        body_timeout: seconds the whole body may take to arrive; past it, 408 and close.
    """
    close = False
    try:
        raw = await _http.read_body(request, limit, body_timeout)
    except ClientDisconnect:
        # Nobody is left to answer; count it and let the server close the connection.
        counters.add("requests", vendor, "client_disconnected")
        return Response(status_code=400)
    except BodyError as exc:
        close = exc.close
        reply = too_large(str(exc)) if exc.too_large else bad_body(str(exc))
        if exc.late:
            reply = dataclasses.replace(reply, status=408)
    else:
        try:
            reply = await in_worker(flow, raw)
        except StorageLimitError as exc:
            counters.add("rejected", vendor, "storage_limit")
            reply = too_large(str(exc))
        except ValidationError as exc:
            reply = bad_body(f"cannot store the request: {exc}")
        except StoreUnavailableError:
            counters.add("rejected", vendor, "store_unavailable")
            reply = Reply(503, _UNAVAILABLE)
        except StoreClosedError:
            reply = Reply(503, _SHUTTING_DOWN)
    counters.add("requests", vendor, str(reply.status))
    # For the request's log line (see access.py).
    request.scope.setdefault("state", {})[STORED_STATE] = reply.stored
    response = reply.response()
    if close:
        response.headers["connection"] = "close"
    return response
