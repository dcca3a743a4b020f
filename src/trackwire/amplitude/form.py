"""The community client's ``/identify`` form API, as an alternative to ``$identify`` events.

With ``use_identify_api=True`` a client sends identifies to ``{host}/identify`` as a form
(``api_key``, ``identification`` = a JSON array), as the community ``amplitude`` client does.
The API answers plain text (``success``) and refuses a whole request for one bad item, so its
envelope and the meaning of its answers live here, beside nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote, quote_from_bytes

from trackwire._engine.retry import Delivered, Outcome, Rejected, Throttled, classify_http
from trackwire._engine.retry import parse_retry_after as _parse_retry_after
from trackwire._engine.transport import HTTPResult

__all__ = [
    "FORM_CONTENT_TYPE",
    "IDENTIFICATION_FIELDS",
    "IDENTIFY_THROTTLE_SECONDS",
    "form_envelope",
    "form_outcome",
    "identification",
]

FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
#: Pause the Identify API docs ask for after a 429.
IDENTIFY_THROTTLE_SECONDS: Final = 15.0
#: The keys an identification may carry (docs: Identify API).
IDENTIFICATION_FIELDS: Final = frozenset((
    "user_id", "device_id", "user_properties", "groups", "app_version", "platform", "os_name",
    "os_version", "device_brand", "device_manufacturer", "device_model", "carrier", "country",
    "region", "city", "dma", "language", "paying", "start_version",
))  # fmt: skip


def identification(event: Mapping[str, Any]) -> dict[str, Any]:
    """The identification object for a checked ``$identify`` event (event-only keys dropped)."""
    return {key: value for key, value in event.items() if key in IDENTIFICATION_FIELDS}


def form_envelope(api_key: str, messages: Sequence[bytes]) -> bytes:
    """The form body ``api_key=...&identification=[...]`` around encoded identifications."""
    array = b"[" + b",".join(messages) + b"]"
    key, items = quote(api_key, safe=""), quote_from_bytes(array, safe="")
    return f"api_key={key}&identification={items}".encode()


def form_outcome(result: HTTPResult, messages: Sequence[bytes], now: float) -> Outcome:
    """What an ``/identify`` answer means: the form API has no per-item result.

    200 is delivered; 400 refuses every identification of the request (one bad item refuses
    them all, and no resend can fix it); 429 defers the whole request for ``Retry-After`` or
    15 s (the Identify API's advice); 413 splits; no response, 408 and 5xx retry.
    """
    status = result.status
    size = len(messages)
    if status is not None and 200 <= status <= 299:
        return Delivered()
    if status == 429:
        after = _parse_retry_after(result.headers.get("retry-after"), now)
        return Throttled(
            reason="HTTP 429: identify throttled",
            after=IDENTIFY_THROTTLE_SECONDS if after is None else after,
            deferred=list(range(size)),
        )
    detail = result.body[:200].decode("utf-8", "replace").strip() if status else ""
    if status == 400:
        return Rejected(reason=f"HTTP 400: {detail}" if detail else "HTTP 400", status=400)
    return classify_http(status, result.error, result.headers.get("retry-after"), now, size, detail)
