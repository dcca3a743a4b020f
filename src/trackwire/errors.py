"""The trackwire exception tree.

Every error trackwire raises derives from :class:`TrackwireError`, so one ``except`` catches
them all. Errors raised into the caller's thread are caller mistakes (a bad argument, a message
too large, a closed client); network trouble never raises into ``track()``: it is retried, then
reported as a :class:`DeliveryError` value through receipts, callbacks, hooks and counters.

::

    TrackwireError
    ├── ConfigError               a client option is invalid
    ├── ValidationError           a call's argument is invalid (names the field)
    │   └── MessageTooLargeError  the encoded message exceeds the vendor's per-message limit
    ├── DeliveryError             a message could not be delivered (a value, not raised by track())
    │   └── ClientClosedError     the client was shut down; the call was refused
    └── QueryError                a query API call failed
        ├── QueryAuthError
        ├── QueryRateLimitError
        ├── QueryBadRequestError
        └── QueryServerError
"""

from __future__ import annotations

__all__ = [
    "ClientClosedError",
    "ConfigError",
    "DeliveryError",
    "MessageTooLargeError",
    "QueryAuthError",
    "QueryBadRequestError",
    "QueryError",
    "QueryRateLimitError",
    "QueryServerError",
    "TrackwireError",
    "ValidationError",
]


class TrackwireError(Exception):
    """Base class of every error trackwire raises or reports."""


class ConfigError(TrackwireError, ValueError):
    """A client option is invalid: the message names the option and the accepted values."""


class ValidationError(TrackwireError, ValueError):
    """A call's argument is invalid.

    Attributes:
        field: the offending field as a dotted path (``"properties.price"``), or ``""``.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class MessageTooLargeError(ValidationError):
    """The encoded message is larger than the vendor accepts for one message.

    Attributes:
        size: the encoded size in bytes.
        limit: the vendor's limit in bytes.
    """

    def __init__(self, size: int, limit: int, what: str = "message") -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            "",
            f"the encoded {what} is {size} bytes, over the limit of {limit} bytes; "
            "send fewer or smaller properties/traits",
        )


class DeliveryError(TrackwireError):
    """A message could not be delivered. Passed to callbacks and hooks; never raised by ``track()``.

    Attributes:
        reason: a closed-set reason: ``rejected``, ``retry_exhausted``, ``queue_full``,
            ``shutdown``, ``after_close``, ``filtered`` or ``internal``.
        status: the HTTP status of the final attempt, if there was a response.
        detail: the vendor's message or, when no response arrived, the transport's
            ``"code: text"`` (``code`` one of ``connection_refused``, ``dns``, ``tls``,
            ``connect_timeout``, ``read_timeout``, ``connection_reset``, ``connection``).
    """

    def __init__(self, reason: str, detail: str = "", status: int | None = None) -> None:
        self.reason = reason
        self.status = status
        self.detail = detail
        text = reason if not detail else f"{reason}: {detail}"
        # The detail usually starts "HTTP 404: ..." already; say the status once.
        if status is not None and f"HTTP {status}" not in detail:
            text = f"{text} (HTTP {status})"
        super().__init__(text)


class ClientClosedError(DeliveryError):
    """The client was shut down; calls made after ``shutdown()`` are refused and counted.

    It is the error of the refused call's receipt (reason ``after_close``), not raised: code
    that runs during interpreter exit must not crash because analytics already stopped.
    """


class QueryError(TrackwireError):
    """A query API call failed. Attributes: ``status`` (HTTP status or None) and ``body``."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        self.status = status
        self.body = body
        super().__init__(message)


class QueryAuthError(QueryError):
    """The query API refused the credentials (401/403): check the API key and secret key."""


class QueryRateLimitError(QueryError):
    """The query API throttled the call (429): wait and try again.

    Attributes:
        retry_after: seconds the API asked to wait (its ``Retry-After``), or None.
    """

    def __init__(
        self,
        message: str,
        status: int | None = None,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status, body)


class QueryBadRequestError(QueryError):
    """The query API refused the parameters (400): the message says which.

    Attributes:
        message: the API's own explanation (its ``error`` text), or ``""``.
    """

    def __init__(
        self, text: str, status: int | None = None, body: str = "", message: str = ""
    ) -> None:
        self.message = message
        super().__init__(text, status, body)


class QueryServerError(QueryError):
    """The query API failed on its side (5xx) or could not be reached."""
