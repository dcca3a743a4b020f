"""From a batch to the bytes sent: build, fill the ids, validate, encode, choose the endpoint.

Shared by the queued client and :class:`~trackwire.mparticle.EventsApi`, so both send the same
JSON. Ids are filled in the built dict, never in the caller's object: a batch can be uploaded
twice (each upload is its own request) and still be read back unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from trackwire._engine.ids import new_message_id
from trackwire.errors import ConfigError, MessageTooLargeError, ValidationError
from trackwire.mparticle import wire
from trackwire.mparticle.models import Batch
from trackwire.mparticle.models.checks import check_built
from trackwire.mparticle.schema import (
    HISTORICAL_MIN_AGE_MS,
    MAX_BATCH_BYTES,
    REALTIME_MAX_AGE_MS,
)

__all__ = [
    "build",
    "encode_batch",
    "fill_ids",
    "is_historical",
    "resolve_base_url",
]


def resolve_base_url(host: str | None, pod: str | None) -> str:
    """The Events API base URL from ``host`` or ``pod`` (US1 when neither is given).

    Raises:
        ConfigError: both are given, the pod is unknown, or the host is not an http(s) URL.
    """
    if host is not None and pod is not None:
        raise ConfigError("pass host or pod, not both")
    if pod is not None:
        try:
            return wire.POD_URLS[str(pod).lower()]
        except KeyError:
            pods = ", ".join(wire.POD_URLS)
            raise ConfigError(f"pod must be one of {pods}, got {pod!r}") from None
    if host is None:
        return wire.DEFAULT_BASE_URL
    if not isinstance(host, str) or not host.startswith(("http://", "https://")):
        raise ConfigError(f"host must be an http:// or https:// URL, got {host!r}")
    host = host.rstrip("/")
    # The official packages' host includes /v2; the paths here carry it.
    return host[: -len("/v2")] if host.endswith("/v2") else host


def fill_ids(built: dict[str, Any]) -> dict[str, Any]:
    """Give the batch a ``source_request_id`` and each event a ``source_message_id`` if missing.

    mParticle de-duplicates requests by the first and events by the second; fixing both before
    the first attempt makes every retry idempotent.
    """
    if not built.get("source_request_id"):
        built["source_request_id"] = new_message_id()
    for event in built.get("events") or ():
        data = event.get("data") if isinstance(event, dict) else None
        if isinstance(data, dict) and not data.get("source_message_id"):
            data["source_message_id"] = new_message_id()
    return built


def build(
    batch: Batch | Mapping[str, Any],
    *,
    environment: str | None = None,
    path: str = "",
    check: bool = True,
) -> dict[str, Any]:
    """The validated JSON object of ``batch``, with its ids filled.

    Args:
        batch: a :class:`Batch`, or a batch already in mParticle's JSON shape.
        environment: used when the batch sets none (a client's default).
        path: prefix of field names in errors (``[3]`` in a bulk upload).
        check: False when the caller checks later, after the last step that may change the
            batch (a client with middleware): each batch is checked once.

    Raises:
        ValidationError: the batch breaks a rule or a limit; the error names the field.
    """
    if isinstance(batch, Batch):
        built = batch.to_dict(path)
    elif isinstance(batch, Mapping):
        # orjson round trip: a deep copy that also proves the dict is JSON.
        try:
            built = orjson.loads(orjson.dumps(batch))
        except TypeError as exc:
            raise ValidationError(path, f"is not JSON: {exc}") from None
    else:
        raise ValidationError(path, f"must be a Batch or a dict, got {type(batch).__name__}")
    if not built.get("environment") and environment is not None:
        built["environment"] = environment
    if check:
        check_built(built, path)
    return fill_ids(built)


def encode_batch(built: Mapping[str, Any]) -> bytes:
    """``built`` as JSON bytes, refused when over mParticle's 128 KB batch limit.

    Raises:
        MessageTooLargeError: the encoded batch is too large; split its events.
    """
    data = orjson.dumps(built)
    if len(data) > MAX_BATCH_BYTES:
        raise MessageTooLargeError(len(data), MAX_BATCH_BYTES, "batch")
    return data


def is_historical(built: Mapping[str, Any], now: float | None = None) -> bool:
    """Whether the batch belongs on ``/v2/bulkevents/historical``: events older than 30 days.

    Raises:
        ValidationError: the batch mixes events older than 30 days with events too recent for
            the historical endpoint (72 hours) or without a timestamp: upload them apart.
    """
    events = built.get("events")
    if not events:
        return False
    clock_ms = int((time.time() if now is None else now) * 1000)
    cutoff = clock_ms - REALTIME_MAX_AGE_MS
    # One pass that stops at the first old event; almost every batch has none.
    for event in events:
        data = event.get("data") if type(event) is dict else None
        stamp = data.get("timestamp_unixtime_ms") if type(data) is dict else None
        if type(stamp) is int and stamp < cutoff:
            break
    else:
        return False
    stamps = []
    for event in events:
        data = event.get("data") if type(event) is dict else None
        stamps.append(data.get("timestamp_unixtime_ms") if type(data) is dict else None)
    recent = [s for s in stamps if not isinstance(s, int) or s > clock_ms - HISTORICAL_MIN_AGE_MS]
    if recent:
        raise ValidationError(
            "events",
            "mixes events older than 30 days with events under 72 hours old (or without a "
            "timestamp); upload them in separate batches",
        )
    return True
