"""Where a Segment client sends: the base URL it was given, and the batch endpoint's rules."""

from __future__ import annotations

import time
from collections.abc import Sequence

import orjson

from trackwire._engine.batcher import BatchLimits
from trackwire._engine.destination import HTTPDestination
from trackwire._engine.retry import Outcome
from trackwire._engine.transport import HTTPResult
from trackwire.errors import ConfigError
from trackwire.segment import wire
from trackwire.segment.messages import now_iso

__all__ = ["destination", "resolve_host"]


def destination(write_key: str, host: str, timeout: float) -> HTTPDestination:
    """Segment's ``/v1/batch``: HTTP Basic with the write key, which the body carries too."""
    write_key_json = orjson.dumps(write_key)

    def envelope(messages: Sequence[bytes]) -> bytes:
        return wire.envelope(messages, write_key_json, now_iso())

    def outcome(result: HTTPResult, messages: Sequence[bytes]) -> Outcome:
        return wire.outcome(result, time.time(), len(messages))

    return HTTPDestination(
        name="segment",
        url=host + wire.BATCH_PATH,
        limits=BatchLimits(
            max_count=wire.MAX_BATCH_COUNT,
            max_bytes=wire.MAX_BATCH_BYTES,
            overhead=wire.envelope_overhead(write_key_json),
        ),
        envelope=envelope,
        outcome=outcome,
        basic_auth=(write_key, ""),
        timeout=timeout,
        retry_header="X-Retry-Count",
    )


def resolve_host(host: object, region: object) -> str:
    """The API base URL from a client's ``host`` or ``region`` (``/v1/batch`` is ours to add)."""
    if host is not None and region is not None:
        raise ConfigError("pass host or region, not both")
    if region is not None:
        if not isinstance(region, str) or region.lower() not in wire.REGION_HOSTS:
            raise ConfigError(
                f"region must be one of {', '.join(wire.REGION_HOSTS)}, got {region!r}"
            )
        return wire.REGION_HOSTS[region.lower()]
    if host is None:
        return wire.DEFAULT_HOST
    if not isinstance(host, str) or not host.startswith(("http://", "https://")):
        raise ConfigError(f"host must be an http:// or https:// URL, got {host!r}")
    host = host.rstrip("/")
    if host.endswith(wire.BATCH_PATH) or host.endswith("/v1/import"):
        raise ConfigError(
            f"host is the API's base URL; trackwire adds {wire.BATCH_PATH}: "
            f"pass host={host.rsplit('/v1/', 1)[0]!r}"
        )
    # Segment's docs give hosts both with and without /v1; the path is ours to add.
    return host[: -len("/v1")] if host.endswith("/v1") else host
