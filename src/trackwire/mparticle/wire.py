"""mParticle's server-to-server Events API v2, written once for the SDK and the collector.

Hosts, the rules a batch must follow (in :mod:`.batch_checks`, re-exported here), how an event
is read, the response bodies, and the meaning of each response; the enums and limits those
rules apply live in :mod:`.schema`. The SDK validates and classifies
with these functions; the collector accepts and refuses with the same ones, so the two cannot
disagree about what mParticle would do.

Checks follow mParticle's live JSON Schema and JSON reference for the fields they name, and
stay lenient where the official SDKs and the docs disagree with the schema: unknown keys are
ignored (docs examples send ``schema_version``), ``null`` means "absent" (the SDKs omit unset
fields but hand-written JSON sends null), and ``customerid`` is accepted beside ``customer_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from trackwire._engine.retry import Outcome, Rejected, classify_http
from trackwire._engine.transport import HTTPResult
from trackwire.mparticle.batch_checks import BatchProblem, check_batch, check_bulk, check_sizes
from trackwire.mparticle.schema import (
    IDENTITY_ALIASES,
)

__all__ = [
    "ACCEPTED_STATUS",
    "BULK_PATH",
    "DEFAULT_BASE_URL",
    "EVENTS_PATH",
    "HISTORICAL_PATH",
    "POD_URLS",
    "BatchProblem",
    "accepted_body",
    "bulk_body",
    "check_batch",
    "check_bulk",
    "check_sizes",
    "data_dedup_key",
    "data_event_name",
    "data_time_ms",
    "dedup_key",
    "error_body",
    "event_name",
    "event_time_ms",
    "identities",
    "message_error_body",
    "outcome",
    "request_id",
]

#: The US1 pod's base URL, the official SDKs' default.
DEFAULT_BASE_URL: Final = "https://s2s.mparticle.com"
#: Base URL per pod; the pod is assigned to an organisation at onboarding.
POD_URLS: Final[Mapping[str, str]] = {
    pod: f"https://s2s.{pod}.mparticle.com" for pod in ("us1", "us2", "eu1", "au1")
}
#: One batch (one user) per request.
EVENTS_PATH: Final = "/v2/events"
#: An array of up to :data:`~.schema.MAX_BULK_BATCHES` batches.
BULK_PATH: Final = "/v2/bulkevents"
#: Like bulk, for data older than :data:`~.schema.REALTIME_MAX_AGE_MS`; not forwarded to
#: outputs.
HISTORICAL_PATH: Final = "/v2/bulkevents/historical"
#: The status of every success; mParticle sends no body with it.
ACCEPTED_STATUS: Final = 202


def bulk_body(batches: Sequence[bytes]) -> bytes:
    """A ``/v2/bulkevents`` (or historical) body: a JSON array of already-encoded batches.

    Its size is ``2 + sum(len(batch)) + len(batches) - 1``: the engine's batch limits count
    the same brackets and commas.
    """
    return b"[" + b",".join(batches) + b"]"


def identities(batch: Mapping[str, Any]) -> dict[str, str]:
    """The batch's user identities with documented key names (``customerid`` -> ``customer_id``).

    Non-string and empty values are left out; the documented key wins over its alias.
    """
    raw = batch.get("user_identities")
    found: dict[str, str] = {}
    if not isinstance(raw, dict):
        return found
    for key, value in raw.items():
        name = IDENTITY_ALIASES.get(key, key)
        if isinstance(value, str) and value and (name == key or name not in found):
            found[name] = value
    return found


def _is_int(value: object) -> bool:
    # bool is an int subclass in Python, never a number in JSON terms.
    return isinstance(value, int) and not isinstance(value, bool)


def _data(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = event.get("data")
    return data if isinstance(data, dict) else {}


def event_name(event: Mapping[str, Any]) -> str | None:
    """The name an event shows under: ``event_name``, or ``screen_name`` for a screen view.

    None when the event has neither (session, commerce without a name, ...): callers fall back
    to the ``event_type``. Commerce names (``eCommerce - Purchase``) are derived by mParticle
    and not guessed here.
    """
    return data_event_name(event.get("event_type"), _data(event))


def data_event_name(event_type: object, data: Mapping[str, Any]) -> str | None:
    """:func:`event_name` from the event's type and its ``data`` (a caller that has both)."""
    name = data.get("screen_name") if event_type == "screen_view" else None
    name = name or data.get("event_name")
    return name if isinstance(name, str) and name else None


def event_time_ms(event: Mapping[str, Any]) -> int | None:
    """``data.timestamp_unixtime_ms`` when it is an integer; None means "time of receipt"."""
    return data_time_ms(_data(event))


def data_time_ms(data: Mapping[str, Any]) -> int | None:
    """:func:`event_time_ms` from the event's ``data``."""
    stamp = data.get("timestamp_unixtime_ms")
    # The exact type first: the collector reads this for every stored event.
    return stamp if stamp.__class__ is int or _is_int(stamp) else None


def dedup_key(event: Mapping[str, Any]) -> str | None:
    """The event's de-duplication key, ``data.source_message_id``, or None."""
    return data_dedup_key(_data(event))


def data_dedup_key(data: Mapping[str, Any]) -> str | None:
    """:func:`dedup_key` from the event's ``data``."""
    key = data.get("source_message_id")
    return key if isinstance(key, str) and key else None


def request_id(batch: Mapping[str, Any]) -> str | None:
    """The batch's de-duplication key, ``source_request_id``, or None."""
    key = batch.get("source_request_id")
    return key if isinstance(key, str) and key else None


# --- responses --------------------------------------------------------------------------------


def accepted_body() -> bytes:
    """The body of a success: empty (mParticle answers :data:`ACCEPTED_STATUS` with no body)."""
    return b""


def error_body(problems: Sequence[BatchProblem], code: str = "BAD_REQUEST") -> dict[str, Any]:
    """mParticle's error body ``{"errors": [{"code", "message"}]}``, one entry per problem.

    Args:
        problems: what was wrong; each message is prefixed by its path.
        code: mParticle's error code (``BAD_REQUEST``; the collector may use ``UNAUTHORIZED``).
    """
    return {
        "errors": [
            {"code": code, "message": f"{p.path}: {p.message}" if p.path else p.message}
            for p in problems
        ]
    }


def message_error_body(message: str, code: str = "BAD_REQUEST") -> dict[str, Any]:
    """mParticle's error body for a request-level problem (no batch path), e.g. a bad header.

    Args:
        message: what was wrong and how to fix it.
        code: mParticle's error code (``BAD_REQUEST``, ``UNAUTHORIZED``, ``FORBIDDEN``,
            ``PAYLOAD_TOO_LARGE``).
    """
    return {"errors": [{"code": code, "message": message}]}


def _detail(body: bytes) -> str:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace").strip()
    errors = decoded.get("errors") if isinstance(decoded, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message") or errors[0].get("code") or "")
    return ""


def outcome(result: HTTPResult, now: float, batch_size: int) -> Outcome:
    """What an Events API response means for the batches that were sent.

    Any 2xx (mParticle answers 202) is success, including a bulk request some of whose
    batches mParticle drops: it reports nothing per batch. 429, 503 and other retryable
    statuses are retried honouring ``Retry-After`` (the reason names the limit from
    ``X-mp-rate-limit-exceeded``); 413 (undocumented; the collector's choice) splits; 400 is
    rejected; 401 and 403 are rejected as a credentials problem no retry can fix.
    """
    status = result.status
    detail = "" if status is None or status < 300 else _detail(result.body)
    if status in (401, 403):
        reason = f"HTTP {status}: check the API key and secret"
        return Rejected(reason=f"{reason} ({detail})" if detail else reason, status=status)
    limit = result.headers.get("x-mp-rate-limit-exceeded")
    if status == 429 and limit:
        detail = f"{detail}; limit: {limit}" if detail else f"limit: {limit}"
    return classify_http(
        status, result.error, result.headers.get("retry-after"), now, batch_size, detail
    )
