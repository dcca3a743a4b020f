"""The bodies Amplitude answers its HTTP V2 / Batch uploads with, as the collector writes them.

Each is what the vendor documents (``code``, ``error``, the index maps, ``eps_threshold``), so
the official SDKs and trackwire's client read the collector's answers as Amplitude's. The rules
that decide which answer a request gets are in :mod:`trackwire.amplitude.wire`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from trackwire.amplitude.wire import DEFAULT_EPS_THRESHOLD, TOO_LARGE_ERROR, UploadCheck

__all__ = [
    "error_body",
    "invalid_api_key_body",
    "invalid_request_body",
    "success_body",
    "throttled_body",
    "too_large_body",
]

_INVALID_EVENTS: Final = "Invalid field values on some events"
_THROTTLED: Final = "Too many requests for some devices and users"


def success_body(
    events_ingested: int, payload_size_bytes: int, server_upload_time_ms: int
) -> dict[str, int]:
    """The 200 body; both official SDKs need its ``code`` (the Python SDK reads nothing else)."""
    return {
        "code": 200,
        "events_ingested": events_ingested,
        "payload_size_bytes": payload_size_bytes,
        "server_upload_time": server_upload_time_ms,
    }


def invalid_request_body(check: UploadCheck) -> dict[str, Any]:
    """The 400 (or 413) body for a failed :func:`check_upload`.

    A request-level error gives ``{code, error}`` plus ``missing_field`` when one is missing
    (the SDKs then drop the whole batch). Per-event problems give ``error`` "Invalid field
    values on some events" with all three index maps, empty ones included, so that every SDK
    finds the keys it looks for.

    Raises:
        ValueError: the check found no problem.
    """
    if check.error is not None:
        if check.error.code == 413:
            return too_large_body()
        body: dict[str, Any] = {"code": check.error.code, "error": check.error.error}
        if check.error.missing_field is not None:
            body["missing_field"] = check.error.missing_field
        return body
    if check.ok:
        raise ValueError("the upload has no problem to report")
    return {
        "code": 400,
        "error": _INVALID_EVENTS,
        "events_with_invalid_fields": check.events_with_invalid_fields,
        "events_with_missing_fields": check.events_with_missing_fields,
        "events_with_invalid_id_lengths": check.events_with_invalid_id_lengths,
    }


def invalid_api_key_body(api_key: str) -> dict[str, Any]:
    """The 400 body for an unknown API key (the Python SDK matches ``Invalid API key:``)."""
    return {"code": 400, "error": f"Invalid API key: {api_key}"}


def too_large_body() -> dict[str, Any]:
    """The 413 body: too many events or bytes in one request."""
    return {"code": 413, "error": TOO_LARGE_ERROR}


def throttled_body(
    *,
    throttled_events: Sequence[int],
    throttled_users: Mapping[str, int] | None = None,
    throttled_devices: Mapping[str, int] | None = None,
    eps_threshold: int = DEFAULT_EPS_THRESHOLD["httpapi"],
    exceeded_daily_quota_users: Mapping[str, int] | None = None,
    exceeded_daily_quota_devices: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The 429 body.

    Args:
        throttled_events: indices of the throttled events.
        throttled_users: user_id -> its current events per second.
        throttled_devices: device_id -> its current events per second.
        eps_threshold: the per-user/device limit that was exceeded.
        exceeded_daily_quota_users: user_id -> events in the last 24 h (daily-quota case only);
            the Python SDK drops throttled events of these users instead of retrying them.
        exceeded_daily_quota_devices: device_id -> events in the last 24 h (daily-quota case).
    """
    body: dict[str, Any] = {
        "code": 429,
        "error": _THROTTLED,
        "eps_threshold": eps_threshold,
        "throttled_devices": dict(throttled_devices or {}),
        "throttled_users": dict(throttled_users or {}),
        "throttled_events": list(throttled_events),
    }
    if exceeded_daily_quota_users is not None:
        body["exceeded_daily_quota_users"] = dict(exceeded_daily_quota_users)
    if exceeded_daily_quota_devices is not None:
        body["exceeded_daily_quota_devices"] = dict(exceeded_daily_quota_devices)
    return body


def error_body(code: int, error: str) -> dict[str, Any]:
    """Any other error body, e.g. ``error_body(403, "Forbidden")`` or a 5xx for fault injection."""
    return {"code": code, "error": error}


# --- response -> outcome ----------------------------------------------------------------------
