"""The official ``mparticle.rest.ApiException``: an upload mParticle did not accept."""

from __future__ import annotations

from collections.abc import Mapping

from trackwire.errors import TrackwireError

__all__ = ["ApiException"]


class ApiException(TrackwireError):
    """An upload that failed: refused by mParticle, or no answer after every retry.

    Attributes:
        status: the HTTP status of the last attempt; 0 when no response came (as the
            official reports connection and TLS errors).
        reason: what went wrong, in words (mParticle's message or the network error).
        body: the last response's body, or None.
        headers: the last response's headers, or None.
    """

    def __init__(
        self,
        status: int | None = None,
        reason: str | None = None,
        http_resp: object = None,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if http_resp is not None:  # the official's response object: read what it carries
            status = getattr(http_resp, "status", status)
            reason = getattr(http_resp, "reason", reason)
            body = getattr(http_resp, "data", body)
            getheaders = getattr(http_resp, "getheaders", None)
            headers = getheaders() if callable(getheaders) else headers
        self.status = status
        self.reason = reason
        self.body = body
        self.headers = dict(headers) if headers is not None else None
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"({self.status})\nReason: {self.reason}\n"
        if self.headers:
            text += f"HTTP response headers: {self.headers}\n"
        if self.body:
            text += f"HTTP response body: {self.body!r}\n"
        return text
