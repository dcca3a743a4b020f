"""The answer to an injected status in each vendor's own style (its error body, its headers)."""

from __future__ import annotations

import math
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import orjson

from trackwire.amplitude import answers as amplitude_answers
from trackwire.amplitude import wire as amplitude_wire
from trackwire.collector.faults.config import FaultConfig

#: Builds the answer to an injected status: ``(vendor, path, status, config, request body)`` ->
#: ``(body, content type, extra headers)``.
FaultBody = Callable[
    [str, str, int, FaultConfig, bytes], tuple[bytes, str, list[tuple[bytes, bytes]]]
]


def default_fault_body(
    vendor: str, path: str, status: int, config: FaultConfig, request_body: bytes
) -> tuple[bytes, str, list[tuple[bytes, bytes]]]:
    """The injected answer in the vendor's own style (its error body, its throttle headers).

    Args:
        vendor: ``segment``, ``amplitude`` or ``mparticle``.
        path: the request path.
        status: the injected status.
        config: the configuration in force (for ``retry_after``).
        request_body: the request body as received (possibly compressed or cut short).
    """
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status Python has no name for, e.g. 460
        phrase = "Error"
    headers: list[tuple[bytes, bytes]] = []
    if config.retry_after is not None and status in (429, 503):
        headers.append((b"retry-after", str(math.ceil(config.retry_after)).encode()))
    message = f"injected fault: HTTP {status} {phrase}"
    json = "application/json"
    if vendor == "segment":
        if status < 300:
            return b'{"success":true}', json, headers
        body = {"success": False, "code": "injected_fault", "message": message}
        return orjson.dumps(body), json, headers
    if vendor == "amplitude":
        if status == 429:
            return orjson.dumps(_amplitude_throttled(path, request_body)), json, headers
        if path in ("/identify", "/groupidentify"):
            text = b"success" if status < 300 else message.encode()
            return text, "text/plain", headers
        if status < 300:
            return (
                orjson.dumps(amplitude_answers.success_body(0, len(request_body), 0)),
                json,
                headers,
            )
        return orjson.dumps(amplitude_answers.error_body(status, message)), json, headers
    # mParticle answers 2xx with no body and errors as {"errors": [...]}.
    if status < 300:
        return b"", "", headers
    if status == 429:
        headers.append((b"x-mp-rate-limit-exceeded", b"app"))
    code = phrase.upper().replace(" ", "_")
    return orjson.dumps({"errors": [{"code": code, "message": message}]}), json, headers


def _amplitude_throttled(path: str, request_body: bytes) -> dict[str, Any]:
    """Amplitude's 429 body naming every event of the request and its users and devices."""
    endpoint = "batch" if path == "/batch" else "httpapi"
    threshold = amplitude_wire.DEFAULT_EPS_THRESHOLD[endpoint]
    try:
        decoded = orjson.loads(request_body)
    except orjson.JSONDecodeError:  # compressed or cut short: throttle without details
        decoded = None
    events = decoded.get("events") if isinstance(decoded, dict) else None
    events = events if isinstance(events, list) else []
    users: dict[str, int] = {}
    devices: dict[str, int] = {}
    for event in events:
        if isinstance(event, dict):
            if isinstance(event.get("user_id"), str):
                users[event["user_id"]] = threshold + 1
            if isinstance(event.get("device_id"), str):
                devices[event["device_id"]] = threshold + 1
    return amplitude_answers.throttled_body(
        throttled_events=list(range(len(events))),
        throttled_users=users,
        throttled_devices=devices,
        eps_threshold=threshold,
    )
