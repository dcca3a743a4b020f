"""Where batches go: the protocol the engine sends through, and a generic HTTP implementation.

The engine knows a destination by four things: a name (logs, thread names), the request limits
batches must stay within, how to turn a batch into a request, and what a response means. A
vendor's destination is an :class:`HTTPDestination` given its URL, headers and two pure
functions from its ``wire`` module: the envelope around the messages and the outcome of a
response. Nothing vendor-specific lives here or in the engine.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Final, Protocol

from trackwire._engine.batcher import BatchLimits
from trackwire._engine.retry import Outcome
from trackwire._engine.transport import HTTPRequest, HTTPResult
from trackwire._version import __version__
from trackwire.errors import ConfigError

__all__ = ["USER_AGENT", "Destination", "HTTPDestination", "basic_auth_header"]

#: What every trackwire request says it is.
USER_AGENT: Final = f"trackwire/{__version__} python/{sys.version_info[0]}.{sys.version_info[1]}"


class Destination(Protocol):
    """What the engine needs from a vendor: limits, a request per batch, and its outcome."""

    @property
    def name(self) -> str:
        """Short name for logs and thread names (``"segment"``)."""
        ...

    @property
    def limits(self) -> BatchLimits:
        """The request limits batches must stay within."""
        ...

    def request(self, messages: Sequence[bytes], retry_count: int) -> HTTPRequest:
        """The HTTP request carrying ``messages`` (uncompressed); ``retry_count`` is 0 first."""
        ...

    def outcome(self, result: HTTPResult, messages: Sequence[bytes]) -> Outcome:
        """What ``result`` means for ``messages``, the batch that was sent."""
        ...


def basic_auth_header(user: str, password: str) -> str:
    """The ``Authorization`` value for HTTP Basic ``user:password`` (urllib3 builds it).

    The one builder for every vendor's client, the query client and the CLI.

    Raises:
        ConfigError: a character of the key or secret cannot be sent (urllib3 encodes the
            credentials as Latin-1, as requests does; vendors' keys are ASCII).
    """
    from urllib3.util import make_headers  # here: keeps urllib3 out of `import trackwire`

    try:
        return make_headers(basic_auth=f"{user}:{password}")["authorization"]
    except UnicodeEncodeError:
        raise ConfigError(
            "the key or secret holds a character HTTP Basic auth cannot carry; "
            "copy the key again from the vendor's settings (keys are ASCII)"
        ) from None


class HTTPDestination:
    """A destination that POSTs each batch as one JSON body to one URL.

    Args:
        name: short vendor name for logs and thread names.
        url: where every batch is posted.
        limits: the vendor's request limits.
        envelope: joins the encoded messages into the request body.
        outcome: reads a response for the batch that was sent (the vendor's ``wire`` rule).
        headers: extra request headers (``Content-Type`` and ``User-Agent`` are set already).
        basic_auth: ``(user, password)`` for HTTP Basic auth, or None.
        timeout: seconds to wait for the response, or None for the transport's default.
        retry_header: a header carrying the retry count on retries (``X-Retry-Count``).
    """

    __slots__ = (
        "_envelope",
        "_headers",
        "_outcome",
        "_retry_header",
        "_timeout",
        "limits",
        "name",
        "url",
    )

    def __init__(
        self,
        *,
        name: str,
        url: str,
        limits: BatchLimits,
        envelope: Callable[[Sequence[bytes]], bytes],
        outcome: Callable[[HTTPResult, Sequence[bytes]], Outcome],
        headers: Mapping[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        retry_header: str | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.limits = limits
        self._envelope = envelope
        self._outcome = outcome
        self._headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        self._headers.update(headers or {})
        if basic_auth is not None:
            self._headers["Authorization"] = basic_auth_header(*basic_auth)
        self._timeout = timeout
        self._retry_header = retry_header

    def __repr__(self) -> str:
        return f"<HTTPDestination {self.name} {self.url}>"

    def request(self, messages: Sequence[bytes], retry_count: int) -> HTTPRequest:
        """A POST of the enveloped ``messages``, with the retry count header on retries."""
        headers: Mapping[str, str] = self._headers
        if retry_count and self._retry_header:
            headers = {**headers, self._retry_header: str(retry_count)}
        return HTTPRequest("POST", self.url, headers, self._envelope(messages), self._timeout)

    def outcome(self, result: HTTPResult, messages: Sequence[bytes]) -> Outcome:
        """The vendor's reading of ``result`` for ``messages``."""
        return self._outcome(result, messages)
