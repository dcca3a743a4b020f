"""What an HTTP V2 or Batch API response means for the events that were sent (the SDK side).

The collector answers with :mod:`.wire`'s bodies; a client reads them here, into the engine's
outcome values: delivered, rejected by index, split, throttled per user and device, or retried.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from trackwire._engine.retry import (
    Delivered,
    Outcome,
    Rejected,
    Retry,
    Throttled,
    classify_http,
)
from trackwire._engine.retry import parse_retry_after as _parse_retry_after
from trackwire._engine.transport import HTTPResult
from trackwire.amplitude.wire import THROTTLE_BACKOFF_SECONDS, _is_type

__all__ = ["outcome", "outcome_now"]


def _decode(body: bytes) -> dict[str, Any]:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _listed_indices(body: Mapping[str, Any]) -> set[int]:
    """Every index a 400 body names as refused (the Python SDK's four sources)."""
    found: set[int] = set()
    for key in ("events_with_invalid_fields", "events_with_missing_fields",
                "events_with_invalid_id_lengths"):  # fmt: skip
        groups = body.get(key)
        if isinstance(groups, dict):
            for indices in groups.values():
                if isinstance(indices, list):
                    found.update(i for i in indices if _is_type(i, int))
    silenced = body.get("silenced_events")
    if isinstance(silenced, list):
        found.update(i for i in silenced if _is_type(i, int))
    return found


def _throttle_reason(body: Mapping[str, Any]) -> str:
    parts = [str(body.get("error") or "throttled")]
    for key in ("throttled_users", "throttled_devices", "exceeded_daily_quota_users",
                "exceeded_daily_quota_devices"):  # fmt: skip
        value = body.get(key)
        if isinstance(value, dict) and value:
            parts.append(f"{key}={len(value)}")
    return "HTTP 429: " + "; ".join(parts)


def _ids(message: bytes) -> tuple[object, object]:
    try:
        event = orjson.loads(message)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(event, dict):
        return None, None
    return event.get("user_id"), event.get("device_id")


def _named(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    return value if isinstance(value, dict) else {}


def _throttled(
    body: Mapping[str, Any], retry_after: str | None, messages: Sequence[bytes], now: float
) -> Throttled:
    """A 429: the named users' and devices' events wait, daily-quota ones fail, others go."""
    after = _parse_retry_after(retry_after, now)
    after = THROTTLE_BACKOFF_SECONDS if after is None else after
    reason = _throttle_reason(body)
    users, devices = _named(body, "throttled_users"), _named(body, "throttled_devices")
    quota_users = _named(body, "exceeded_daily_quota_users")
    quota_devices = _named(body, "exceeded_daily_quota_devices")
    size = len(messages)
    listed = body.get("throttled_events")
    deferred = {i for i in listed if _is_type(i, int) and 0 <= i < size} if isinstance(
        listed, list
    ) else set()  # fmt: skip
    rejected: set[int] = set()
    if users or devices or quota_users or quota_devices:
        for index, message in enumerate(messages):
            user_id, device_id = _ids(message)
            if user_id in quota_users or device_id in quota_devices:
                rejected.add(index)
            elif user_id in users or device_id in devices:
                # Every event of a throttled id waits, listed or not, to keep its order.
                deferred.add(index)
    deferred -= rejected
    if not deferred and not rejected:
        # A 429 that names nothing (a proxy's, or Amplitude's project limit): all of it waits.
        deferred = set(range(size))
    return Throttled(
        reason=reason, after=after, deferred=sorted(deferred), rejected=sorted(rejected)
    )


def _rejected_400(body: Mapping[str, Any], size: int) -> Outcome:
    error = str(body.get("error") or "")
    reason = f"HTTP 400: {error}" if error else "HTTP 400"
    if body.get("missing_field"):
        return Rejected(reason=f"{reason} ({body['missing_field']})", status=400)
    listed = {i for i in _listed_indices(body) if 0 <= i < size}
    if error.startswith("Invalid API key") or not listed or len(listed) == size:
        return Rejected(reason=reason, status=400)
    # Amplitude ingested none of the batch: the events not listed must be sent again.
    return Rejected(reason=reason, indices=sorted(listed), resend_rest=True, status=400)


def _body_code(body: Mapping[str, Any]) -> int | None:
    code = body.get("code")
    if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
        return code
    return None


def outcome(result: HTTPResult, messages: Sequence[bytes], now: float) -> Outcome:
    """What an HTTP V2 / Batch response means for the events that were sent.

    - 2xx with Amplitude's body ``{"code": 200, ...}``: delivered. A 2xx whose body carries
      another ``code`` is read as that code (the official SDKs take the status from the body);
      a 2xx without Amplitude's body is retried, not counted as delivered: something other
      than Amplitude answered, and ``insert_id`` makes the resend safe.
    - 400 naming event indices (``events_with_invalid_fields``, ``events_with_missing_fields``,
      ``events_with_invalid_id_lengths``, ``silenced_events``): those events are rejected and
      the rest sent again, since Amplitude ingested none of them. A 400 with
      ``missing_field``, an ``Invalid API key`` error, or no index fails the whole batch once.
    - 413: split the batch (a lone event is rejected).
    - 429: the events of the users and devices in ``throttled_users``/``throttled_devices``
      (and those in ``throttled_events``) wait ``Retry-After`` or 30 s, while the others are
      sent again at once; events of ids over their daily quota are rejected. A 429 naming
      nobody defers the whole batch.
    - No response, 408 and 5xx except 501/505: retry; other 4xx (403 is Amplitude's firewall):
      rejected.

    Args:
        result: the HTTP result of the attempt.
        messages: the encoded events of the batch, in the order they were sent.
        now: the current UNIX time, to read an HTTP-date ``Retry-After``.
    """
    status = result.status
    size = len(messages)
    if status is None:
        return classify_http(status, result.error, None, now, size)
    body = _decode(result.body)
    if 200 <= status <= 299:
        code = _body_code(body)
        if code == 200:
            return Delivered()
        if code is None or 200 <= code <= 299:
            return Retry(reason=f"HTTP {status} without Amplitude's code 200 body", status=status)
        status = code
    retry_after = result.headers.get("retry-after")
    if status == 429:
        return _throttled(body, retry_after, messages, now)
    if status == 400:
        return _rejected_400(body, size)
    error = str(body.get("error") or "")
    return classify_http(status, result.error, retry_after, now, size, error)


def outcome_now(result: HTTPResult, messages: Sequence[bytes]) -> Outcome:
    """:func:`outcome` at the current time: the client's destination reads responses with it."""
    return outcome(result, messages, time.time())
