"""The Amplitude client's own options: their defaults, spellings and resolution.

The seeds' option table in Python spelling (:data:`OWN`), Amplitude's defaults for shared ones
(:data:`DEFAULTS`), and the functions that turn what a user passed into the URL, retry
schedule, envelope and ``/identify`` destination the client sends with.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

import orjson

from trackwire._engine.batcher import BatchLimits
from trackwire._engine.destination import HTTPDestination
from trackwire.amplitude import responses, wire
from trackwire.amplitude.events import prepare
from trackwire.amplitude.form import FORM_CONTENT_TYPE, form_envelope, form_outcome
from trackwire.config import RetryConfig
from trackwire.errors import ConfigError

__all__ = [
    "DEFAULTS",
    "DEFAULT_RETRY_TIMEOUTS",
    "FORM_MAX_BYTES",
    "LOG_LEVELS",
    "NEXT_TURN",
    "OWN",
    "envelope_parts",
    "event_defaults",
    "form_destination",
    "identify_url",
    "min_id_length",
    "retry_config",
    "server_url",
]

#: The Node SDK's retry schedule, in milliseconds: 12 retries, about 12.6 s in all.
DEFAULT_RETRY_TIMEOUTS: Final = (100, 100, 200, 200, 400, 400, 800, 800, 1600, 1600, 3200, 3200)
LOG_LEVELS: Final[Mapping[str, int]] = {
    "none": logging.CRITICAL + 10,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "verbose": logging.DEBUG,
}
# The vendor's own options and their defaults (Python spelling of the seeds' tables).
OWN: Final[Mapping[str, Any]] = {
    "server_url": None,
    "server_zone": "US",
    "use_batch": False,
    "use_identify_api": False,
    "token_endpoint": None,
    "min_id_length": None,
    "opt_out": False,
    "log_level": None,
    "retry_timeouts": None,
    "on_retry": None,
    "upload_interval": 0.0,
    "user_id": None,
    "device_id": None,
    "session_id": None,
    "plan": None,
    "ingestion_metadata": None,
    "secret_key": None,
    "query_url": None,
}
# Amplitude's own defaults for shared options: the official SDKs do not compress, and send
# every waiting event on the next turn (the batch limit, not a count, ends a batch).
DEFAULTS: Final[Mapping[str, Any]] = {
    "gzip": False,
    "flush_at": wire.MAX_EVENTS_PER_REQUEST - 1,
    "max_queue_size": 16_000,
}
# A flush interval the engine accepts for "upload_interval=0": the next turn of the worker.
NEXT_TURN: Final = 0.001


def server_url(own: Mapping[str, Any]) -> tuple[str, str]:
    """The URL events go to, and the endpoint whose limits apply (``httpapi`` or ``batch``).

    A ``server_url`` that is an origin only (``http://127.0.0.1:8787``, no path) gets the
    endpoint's documented path appended (``/2/httpapi``, or ``/batch`` with ``use_batch``):
    sent as given, every event would be answered 404 and seen only in ``stats()``.
    A URL with a path is used as given (a proxy may route any path).
    """
    use_batch = own["use_batch"]
    if not isinstance(use_batch, bool):
        raise ConfigError(f"use_batch must be True or False, got {use_batch!r}")
    endpoint = "batch" if use_batch else "httpapi"
    url = own["server_url"]
    if url is not None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"server_url must be an http:// or https:// URL, got {url!r}")
        parts = urlsplit(url)
        if not parts.netloc:
            raise ConfigError(f"server_url must name a host, got {url!r}")
        if parts.path in ("", "/") and not parts.query:
            return url.rstrip("/") + wire.PATHS[endpoint], endpoint
        return url, "batch" if url.rstrip("/").endswith("/batch") else endpoint
    host = own["token_endpoint"] or os.environ.get("AMPLITUDE_TOKEN_ENDPOINT") or None
    if host is not None:
        if not isinstance(host, str) or not host.startswith(("http://", "https://")):
            raise ConfigError(
                f"token_endpoint (or AMPLITUDE_TOKEN_ENDPOINT) must be an http(s):// URL, "
                f"got {host!r}"
            )
        return host.rstrip("/") + wire.PATHS[endpoint], endpoint
    zone = own["server_zone"]
    if not isinstance(zone, str) or zone.upper() not in wire.SERVER_URLS:
        raise ConfigError(f"server_zone must be 'US' or 'EU', got {zone!r}")
    return wire.SERVER_URLS[zone.upper()][endpoint], endpoint


def identify_url(events_url: str) -> str:
    """The ``/identify`` URL beside an events URL (same host, same path prefix)."""
    for path in (wire.PATHS["httpapi"], wire.PATHS["batch"]):
        if events_url.rstrip("/").endswith(path):
            return events_url.rstrip("/")[: -len(path)] + wire.PATHS["identify"]
    scheme, _, rest = events_url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}{wire.PATHS['identify']}"


#: Largest raw JSON of one ``/identify`` form body: URL-encoding can triple a body's size, so
#: it is kept well under the API's 1 MB limit.
FORM_MAX_BYTES: Final = 300_000


def form_destination(api_key: str, events_url: str, timeout: float | None) -> HTTPDestination:
    """The ``/identify`` form API beside ``events_url``: the lane ``use_identify_api`` adds."""
    limits = BatchLimits(max_count=1_000, max_bytes=FORM_MAX_BYTES, overhead=64, separator=1)
    return HTTPDestination(
        name="amplitude-identify",
        url=identify_url(events_url),
        limits=limits,
        envelope=lambda messages: form_envelope(api_key, messages),
        outcome=lambda result, messages: form_outcome(result, messages, time.time()),
        headers={"Content-Type": FORM_CONTENT_TYPE},
        timeout=timeout,
    )


def upload_destination(
    api_key: str, url: str, endpoint: str, min_id_length: int | None, timeout: float | None
) -> HTTPDestination:
    """The HTTP V2 / Batch endpoint ``url``: batches under its count and size limits, each
    spliced into the request body around the already-encoded events."""
    head, tail = envelope_parts(api_key, min_id_length)
    limits = BatchLimits(
        max_count=wire.MAX_EVENTS_PER_REQUEST - 1,
        max_bytes=wire.MAX_REQUEST_BYTES[endpoint] - 1,
        overhead=len(head) + len(tail),
        separator=1,
    )
    return HTTPDestination(
        name="amplitude",
        url=url,
        limits=limits,
        envelope=lambda messages: head + b",".join(messages) + tail,
        outcome=responses.outcome_now,
        headers={"Accept": "*/*"},
        timeout=timeout,
    )


def upload_interval(value: object) -> float:
    """``upload_interval``: seconds >= 0 (0: send on the engine's next turn)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"upload_interval must be seconds >= 0, got {value!r}")
    return float(value)


def apply_log_level(level: object) -> None:
    """``log_level``: the official SDK's level names, for the ``trackwire.amplitude`` logger."""
    if level is None:
        return
    if not isinstance(level, str) or level not in LOG_LEVELS:
        raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
    logging.getLogger("trackwire.amplitude").setLevel(LOG_LEVELS[level])


def retry_config(own: Mapping[str, Any], given: Mapping[str, Any]) -> RetryConfig | None:
    """A RetryConfig from ``retry_timeouts`` (ms), or None to keep the shared retry option."""
    timeouts = own["retry_timeouts"]
    if timeouts is None and ("retry" in given or "max_retries" in given):
        return None
    if timeouts is not None and "retry" in given:
        raise ConfigError("pass retry_timeouts or retry, not both")
    if timeouts is None:
        timeouts = DEFAULT_RETRY_TIMEOUTS
    if isinstance(timeouts, str | bytes) or not isinstance(timeouts, Sequence):
        raise ConfigError("retry_timeouts must be a list of milliseconds, e.g. [100, 200, 400]")
    for value in timeouts:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"retry_timeouts must hold milliseconds >= 0, got {value!r}")
    return RetryConfig(delays=tuple(value / 1000 for value in timeouts))


def min_id_length(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"min_id_length must be an int >= 1, got {value!r}")
    return value


def envelope_parts(api_key: str, min_id_length: int | None) -> tuple[bytes, bytes]:
    head = b'{"api_key":' + orjson.dumps(api_key) + b',"events":['
    tail = b"]}"
    if min_id_length is not None:
        tail = b'],"options":' + orjson.dumps({"min_id_length": min_id_length}) + b"}"
    return head, tail


def event_defaults(own: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a client adds to every event that lacks them: default ids, plan, metadata.

    Raises:
        ValidationError: a default is invalid (checked once here, so that it fails at
            construction, naming the option).
    """
    defaults: dict[str, Any] = {}
    for name in ("user_id", "device_id", "session_id"):
        if own[name] is not None:
            defaults[name] = own[name]
    for name in ("plan", "ingestion_metadata"):
        value = own[name]
        if value is not None:
            to_dict = getattr(value, "to_dict", None)
            defaults[name] = to_dict() if callable(to_dict) else dict(value)
    prepare({"event_type": "check", "device_id": "x" * 64, **defaults}, min_id_length=1)
    return defaults
