"""Client configuration: frozen dataclasses with the vendors' documented defaults.

Every client holds one :class:`DeliveryConfig` (how messages are buffered, batched and sent)
and one :class:`RetryConfig` (when a failed batch is tried again), and with ``spool=PATH`` one
:class:`SpoolConfig` (where and how its queue is kept on disk). Each validates itself at
construction, so a bad option fails where the client is created, with the option's name.
Durations are float seconds everywhere.

Environment variables (read only by :func:`DeliveryConfig.from_env_defaults`, never at import):

``TRACKWIRE_DEBUG``
    ``1`` turns on debug logging for every client, like ``debug=True``.
``TRACKWIRE_DISABLE``
    ``1`` makes every client validate and drop instead of sending, like ``enable=False``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, TypedDict

from trackwire.errors import ConfigError

__all__ = [
    "DEFAULT_FSYNC",
    "DEFAULT_FSYNC_INTERVAL",
    "DEFAULT_SPOOL_MAX_BYTES",
    "FSYNC_POLICIES",
    "FULL_POLICIES",
    "AmplitudeOptions",
    "DeliveryConfig",
    "OnFull",
    "RetryConfig",
    "SegmentOptions",
    "SharedOptions",
    "SpoolConfig",
]

OnFull = Literal["reject", "block", "drop_oldest"]
FULL_POLICIES: Final = ("reject", "block", "drop_oldest")


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero) or value != value:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be {bound}, got {value!r}")
    if value == float("inf"):
        raise ConfigError(f"{name} must be a finite number of seconds, got {value!r}")


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """When a batch that failed for a transient reason is sent again.

    The wait before retry ``n`` is ``min(max_backoff, initial_backoff * 2 ** (n - 1))``, reduced
    by a random share of up to ``jitter``; a server's ``Retry-After`` replaces it, capped at
    ``max_retry_after``. A batch gives up after ``max_retries`` retries or when the next attempt
    would start more than ``max_elapsed`` seconds after its first.

    Attributes:
        max_retries: retries after the first attempt; 0 sends each batch once. Default 10.
        initial_backoff: seconds before the first retry. Default 0.5.
        max_backoff: cap on the exponential backoff, seconds. Default 30.
        jitter: share of each backoff that is random, 0 to 1. Default 0.5.
        max_retry_after: cap on a server's ``Retry-After``, seconds. Default 300.
        max_elapsed: total seconds a batch may spend retrying. Default 600.
        delays: an explicit schedule instead of the exponential one: retry ``n`` waits
            ``delays[n - 1]`` seconds (still jittered; ``jitter=0`` makes it exact), and there
            are ``len(delays)`` retries. Amplitude's ``retry_timeouts`` map here.
    """

    max_retries: int = 10
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 300.0
    max_elapsed: float = 600.0
    delays: tuple[float, ...] | None = None

    @property
    def retries_allowed(self) -> int:
        """Retries after the first attempt: ``len(delays)`` with a schedule, else max_retries."""
        return self.max_retries if self.delays is None else len(self.delays)

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ConfigError("max_retries must be an int")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {self.max_retries}")
        _positive("initial_backoff", self.initial_backoff, allow_zero=True)
        _positive("max_backoff", self.max_backoff, allow_zero=True)
        _positive("max_retry_after", self.max_retry_after, allow_zero=True)
        _positive("max_elapsed", self.max_elapsed, allow_zero=True)
        _positive("jitter", self.jitter, allow_zero=True)
        if self.jitter > 1:
            raise ConfigError(f"jitter must be between 0 and 1, got {self.jitter}")
        if self.delays is not None:
            if isinstance(self.delays, str | bytes) or not isinstance(self.delays, tuple | list):
                raise ConfigError("delays must be a sequence of seconds, e.g. (0.1, 0.5, 2.0)")
            for index, delay in enumerate(self.delays):
                _positive(f"delays[{index}]", delay, allow_zero=True)
            object.__setattr__(self, "delays", tuple(self.delays))


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """How messages are buffered, batched and sent.

    Attributes:
        flush_at: send when this many messages are waiting. Default 20 (the seeds' flushAt).
        flush_interval: send when the oldest waiting message is this many seconds old.
            Default 10.
        max_queue_size: most messages held in memory. Default 250,000: the byte bound is the
            one that matters, so a burst that fits in memory is never refused.
        max_queue_bytes: most encoded bytes held in memory. Default 64 MiB (each waiting
            message also costs about 200 bytes of Python objects).
        on_full: what a call does when the queue is full: ``"reject"`` (default; the call's
            receipt says dropped), ``"block"`` (wait up to ``block_timeout``, for backfills) or
            ``"drop_oldest"`` (make room by dropping the oldest waiting message).
        block_timeout: seconds a call waits for room with ``on_full="block"``. Default 10.
        workers: background threads sending batches. Default 1.
        send_first_immediately: send the very first message at once, for quick feedback in
            development (the seeds' behaviour). Default True.
        shutdown_timeout: seconds the exit hook (and ``shutdown()`` without a timeout) spends
            delivering what is left. Default 5.
        gzip: compress request bodies. Default True.
        gzip_level: compression level 1-9. Default 1 (see bench/RESULTS.md for why).
        timeout: seconds to wait for a response. Default 15.
        connect_timeout: seconds to establish a connection. Default 5.
        proxy: an ``http(s)://`` proxy URL for every request, or None.
        ca_certs: path of a CA bundle to verify the server with, or None for the system's.
        enable: False validates and encodes every call but sends nothing. Default True.
        debug: log at DEBUG level on the ``trackwire`` logger. Default False.
    """

    flush_at: int = 20
    flush_interval: float = 10.0
    max_queue_size: int = 250_000
    max_queue_bytes: int = 64 * 1024 * 1024
    on_full: OnFull = "reject"
    block_timeout: float = 10.0
    workers: int = 1
    send_first_immediately: bool = True
    shutdown_timeout: float = 5.0
    gzip: bool = True
    gzip_level: int = 1
    timeout: float = 15.0
    connect_timeout: float = 5.0
    proxy: str | None = None
    ca_certs: str | None = None
    enable: bool = True
    debug: bool = False

    def __post_init__(self) -> None:
        for name in ("flush_at", "max_queue_size", "max_queue_bytes", "workers", "gzip_level"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an int >= 1, got {value!r}")
        if self.gzip_level > 9:
            raise ConfigError(f"gzip_level must be between 1 and 9, got {self.gzip_level}")
        for name in ("send_first_immediately", "gzip", "enable", "debug"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"{name} must be True or False, got {type(getattr(self, name)).__name__}"
                )
        for name in ("flush_interval", "timeout", "connect_timeout"):
            _positive(name, getattr(self, name))
        _positive("block_timeout", self.block_timeout, allow_zero=True)
        _positive("shutdown_timeout", self.shutdown_timeout, allow_zero=True)
        if self.on_full not in FULL_POLICIES:
            raise ConfigError(
                f"on_full must be one of {', '.join(FULL_POLICIES)}, got {self.on_full!r}"
            )
        for name in ("proxy", "ca_certs"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name} must be a str, got {type(value).__name__}")
        if self.proxy is not None and not self.proxy.startswith(("http://", "https://")):
            raise ConfigError(f"proxy must be an http:// or https:// URL, got {self.proxy!r}")

    def with_env_defaults(self) -> DeliveryConfig:
        """Apply ``TRACKWIRE_DEBUG`` and ``TRACKWIRE_DISABLE`` on top of this config."""
        changes: dict[str, Any] = {}
        if os.environ.get("TRACKWIRE_DEBUG") == "1":
            changes["debug"] = True
        if os.environ.get("TRACKWIRE_DISABLE") == "1":
            changes["enable"] = False
        return replace(self, **changes) if changes else self


FSYNC_POLICIES: Final = ("never", "interval", "always")
DEFAULT_SPOOL_MAX_BYTES: Final = 256 * 1024 * 1024
DEFAULT_FSYNC: Final = "interval"
DEFAULT_FSYNC_INTERVAL: Final = 1.0


@dataclass(frozen=True, slots=True)
class SpoolConfig:
    """Where and how a client keeps its queue on disk.

    Attributes:
        path: the spool root directory (created if missing); each process using it gets its
            own spool inside.
        max_bytes: most message bytes on disk, waiting or in flight (each record adds a
            12-byte header); the client's ``on_full`` policy applies when it is reached.
            Default 256 MiB.
        max_items: most messages waiting, or None (default) for no count bound.
        fsync: when written records are forced to the device, for power loss: ``"never"``
            (the kernel decides; a crash of the process alone loses nothing anyway),
            ``"interval"`` (default: at most ``fsync_interval`` seconds after a write) or
            ``"always"`` (before each call returns; slow).
        fsync_interval: seconds between syncs with ``fsync="interval"``. Default 1.
        segment_bytes: a segment file is rotated past this size. Default 4 MiB.
        window_bytes: most message bytes kept in memory; the rest is read back from disk.
            A client sets it to its ``max_queue_bytes``.
        window_items: most messages kept in memory. A client sets it to its
            ``max_queue_size``.
    """

    path: str
    max_bytes: int = DEFAULT_SPOOL_MAX_BYTES
    max_items: int | None = None
    fsync: str = DEFAULT_FSYNC
    fsync_interval: float = DEFAULT_FSYNC_INTERVAL
    segment_bytes: int = 4 * 1024 * 1024
    window_bytes: int = 4 * 1024 * 1024
    window_items: int = 5_000

    def __post_init__(self) -> None:
        if not isinstance(self.path, str | os.PathLike) or not os.fspath(self.path):
            raise ConfigError(f"spool must be a directory path, got {self.path!r}")
        for name in ("max_bytes", "segment_bytes", "window_bytes", "window_items"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"spool_{name} must be an int >= 1, got {value!r}")
        if self.max_items is not None and (
            isinstance(self.max_items, bool)
            or not isinstance(self.max_items, int)
            or self.max_items < 1
        ):
            raise ConfigError(f"spool_max_items must be an int >= 1, got {self.max_items!r}")
        if self.fsync not in FSYNC_POLICIES:
            raise ConfigError(
                f"spool_fsync must be one of {', '.join(FSYNC_POLICIES)}, got {self.fsync!r}"
            )
        interval = self.fsync_interval
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise ConfigError(f"spool_fsync_interval must be seconds > 0, got {interval!r}")


# --- typed options of the public signatures ----------------------------------------------------
#
# ``**options: Unpack[AmplitudeOptions]`` on a client's ``__init__`` lets mypy and an IDE catch a
# misspelt or mistyped option where it is written; at run time :func:`trackwire._client.
# parse_options` checks the same names and values again, with a did-you-mean.


class SharedOptions(TypedDict, total=False):
    """The options every trackwire client takes (:class:`DeliveryConfig` documents most).

    ``proxies`` is a proxy URL or a ``{"https": url}`` mapping (a scheme the mapping lacks
    goes direct, unless an ``"all"`` entry names a proxy); ``max_retries`` and ``retry`` (a
    :class:`RetryConfig`) shape retries; ``transport`` replaces the urllib3 pool (an object with
    ``send(request)``); ``middleware`` runs on every message; ``on_error(error, messages)``
    hears final failures; ``spool`` keeps the queue on disk under that directory.
    """

    flush_at: int
    flush_interval: float
    max_queue_size: int
    max_queue_bytes: int
    on_full: OnFull
    block_timeout: float
    workers: int
    send_first_immediately: bool
    shutdown_timeout: float
    gzip: bool
    gzip_level: int
    timeout: float
    connect_timeout: float
    ca_certs: str | None
    enable: bool
    debug: bool
    proxies: str | Mapping[str, str] | None
    max_retries: int
    retry: RetryConfig | None
    transport: Any
    middleware: Sequence[Callable[[dict[str, Any]], dict[str, Any] | None]]
    on_error: Callable[[Any, list[Any]], None] | None
    on_middleware_error: Literal["drop", "skip"]
    spool: str | os.PathLike[str] | None
    spool_max_bytes: int
    spool_fsync: Literal["never", "interval", "always"]
    spool_fsync_interval: float
    handle_sigterm: bool


class SegmentOptions(SharedOptions, total=False):
    """``trackwire.Segment``'s keyword options: the shared ones, ``host`` and ``region``."""

    host: str | None
    region: str | None


class AmplitudeOptions(SharedOptions, total=False):
    """``trackwire.Amplitude``'s keyword options: the shared ones and Amplitude's own.

    See :class:`trackwire.Amplitude` for each one's meaning.
    """

    server_url: str | None
    server_zone: Literal["US", "EU", "us", "eu"]
    use_batch: bool
    use_identify_api: bool
    token_endpoint: str | None
    min_id_length: int | None
    opt_out: bool
    log_level: Literal["none", "error", "warn", "verbose"] | None
    retry_timeouts: Sequence[float] | None
    on_retry: Callable[[Any, int, bool], Any] | None
    upload_interval: float
    user_id: str | None
    device_id: str | None
    session_id: int | None
    plan: Any
    ingestion_metadata: Any
    secret_key: str | None
    query_url: str | None
