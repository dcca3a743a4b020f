"""The options every trackwire client takes: declared once, validated once, with a did-you-mean.

:func:`parse_options` reads every shared delivery option from the keyword arguments a client
was given (the frozen :class:`~trackwire.config.DeliveryConfig` and
:class:`~trackwire.config.RetryConfig` hold their defaults and validate them), hands the
vendor's own options back, and refuses anything else with a did-you-mean — including the
official SDKs' spellings, with trackwire's name for them (the compat modules translate those:
:mod:`trackwire._official_options`). :class:`ClientOptions` is the validated result a
:class:`~trackwire._client.Client` is made with.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final

from trackwire._engine.transport import Transport
from trackwire._engine.worker import ErrorHandler, QueueFactory, default_queue
from trackwire.config import (
    DEFAULT_FSYNC,
    DEFAULT_FSYNC_INTERVAL,
    DEFAULT_SPOOL_MAX_BYTES,
    DeliveryConfig,
    RetryConfig,
    SpoolConfig,
)
from trackwire.errors import ConfigError
from trackwire.middleware import Middleware, MiddlewareChain, OnMiddlewareError

__all__ = ["ClientOptions", "parse_options"]

#: Delivery options every client takes, with their defaults (DeliveryConfig is the source).
_DELIVERY_OPTIONS: Final = {f.name: f.default for f in fields(DeliveryConfig) if f.name != "proxy"}
#: The other options every client takes.
_CLIENT_OPTIONS: Final[Mapping[str, Any]] = {
    "proxies": None,
    "max_retries": 10,  # RetryConfig().max_retries
    "retry": None,
    "transport": None,
    "middleware": (),
    "on_error": None,
    "on_middleware_error": "drop",
    # durable delivery (trackwire._engine.spool) and the SIGTERM drain (_engine.signals)
    "spool": None,
    "spool_max_bytes": DEFAULT_SPOOL_MAX_BYTES,
    "spool_fsync": DEFAULT_FSYNC,
    "spool_fsync_interval": DEFAULT_FSYNC_INTERVAL,
    "handle_sigterm": True,
}

#: The official SDKs' spellings of trackwire's options, for the error that names the option
#: (the compat modules accept them: trackwire._official_options.translate).
_OFFICIAL_SPELLINGS: Final[Mapping[str, str]] = {
    "max_cached_events": "max_queue_size",
    "flush_max_retries": "max_retries",
    "retry_class": "retry",
    "transport_class": "transport",
    "upload_size": "flush_at",
    "upload_interval": "flush_interval",
    "flushAt": "flush_at",
    "flushInterval": "flush_interval",
    "flush_queue_size": "flush_at",
    "flush_interval_millis": "flush_interval (seconds, not milliseconds)",
    "flushIntervalMillis": "flush_interval (seconds, not milliseconds)",
    "maxQueueSize": "max_queue_size",
    "max_queue": "max_queue_size",
    "send": "enable",
    "sync_mode": "flush() after the call (trackwire always sends in the background)",
    "thread": "workers",
    "threads": "workers",
    "maxRetries": "max_retries",
    "retries": "max_retries",
    "request_timeout": "timeout",
    "proxy": "proxies",
    "errorHandler": "on_error",
    "error_handler": "on_error",
    "host_url": "host",
    "disable": "enable=False",
}


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """The shared options of a client, validated.

    Attributes:
        delivery: how messages are buffered, batched and sent.
        retry: when a failed batch is tried again.
        transport: the transport to send through, or None for the default urllib3 pool.
        middleware: run on every message before it is encoded.
        on_error: ``fn(error, messages)`` when messages finally fail.
        on_middleware_error: ``"drop"`` (fail-closed, default) or ``"skip"``.
        queue_factory: makes the engine's queue (memory by default; the spool replaces it).
        spool: keep the queue on disk, as this says (``spool=PATH``), or None.
        handle_sigterm: drain at SIGTERM when the process has no handler of its own.
    """

    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    transport: Transport | None = None
    middleware: tuple[Middleware, ...] = ()
    on_error: ErrorHandler | None = None
    on_middleware_error: OnMiddlewareError = "drop"
    queue_factory: QueueFactory = default_queue
    spool: SpoolConfig | None = None
    handle_sigterm: bool = True


def _unknown_option(name: str, vendor: str, known: Sequence[str]) -> ConfigError:
    if name in _OFFICIAL_SPELLINGS:
        return ConfigError(
            f"unknown option {name!r} for {vendor}: trackwire calls it {_OFFICIAL_SPELLINGS[name]}"
        )
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown option {name!r} for {vendor}{hint}")


def _proxy(proxies: object, url: str | None) -> str | None:
    """A proxy URL from ``proxies``: a URL, or a ``{"https": url}`` mapping as requests takes."""
    if proxies is None or isinstance(proxies, str):
        return proxies
    if isinstance(proxies, Mapping):
        scheme = (url or "https://").split(":", 1)[0]
        chosen = proxies.get(scheme) or proxies.get("all")
        if chosen is not None and not isinstance(chosen, str):
            raise ConfigError("proxies values must be proxy URLs (str)")
        return chosen
    raise ConfigError(
        f"proxies must be a proxy URL or a mapping like {{'https': url}}, "
        f"got {type(proxies).__name__}"
    )


def _retry_config(retry: object, max_retries: object) -> RetryConfig:
    if retry is None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int):
            raise ConfigError(f"max_retries must be an int, got {type(max_retries).__name__}")
        return RetryConfig(max_retries=max_retries)
    if isinstance(retry, RetryConfig):
        return retry
    raise ConfigError(
        f"retry must be a trackwire.RetryConfig, got {type(retry).__name__}: "
        "pass retry=trackwire.RetryConfig(max_retries=5, initial_backoff=1.0, ...)"
    )


class _SendOnlyTransport:
    """A user's transport that has ``send`` but not all of the protocol: the rest is a no-op."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.send = inner.send

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if callable(close):
            close()

    def reset_after_fork(self) -> None:
        reset = getattr(self._inner, "reset_after_fork", None)
        if callable(reset):
            reset()


def _transport(transport: object) -> Transport | None:
    if transport is None or isinstance(transport, Transport):
        return transport
    if callable(getattr(transport, "send", None)):
        return _SendOnlyTransport(transport)
    raise ConfigError(
        "transport must have send(request) -> HTTPResult (and may have close() and "
        "reset_after_fork()); see trackwire.testing.RecordingTransport"
    )


def parse_options(
    kwargs: Mapping[str, Any],
    *,
    vendor: str,
    url: str | None = None,
    own: Mapping[str, Any] | None = None,
    renamed: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> tuple[ClientOptions, dict[str, Any]]:
    """Split a client's keyword arguments into the shared options and the vendor's own.

    Args:
        kwargs: the keyword arguments the client was given.
        vendor: the client's name, for error messages (``"Segment"``).
        url: the URL requests go to (picks the entry of a ``proxies`` mapping).
        own: the vendor's own option names with their defaults.
        renamed: spellings the vendor accepts for a shared or own option (``upload_interval``
            -> ``flush_interval`` for Amplitude, whose SDK documents it).
        defaults: the vendor's defaults for shared options (Amplitude flushes sooner).

    Returns:
        The validated shared options, and every own option (given or default).

    Raises:
        ConfigError: an option is unknown, of the wrong type or out of range.
    """
    own = own or {}
    renamed = renamed or {}
    shared: dict[str, Any] = {**_DELIVERY_OPTIONS, **_CLIENT_OPTIONS, **(defaults or {})}
    mine: dict[str, Any] = dict(own)
    for given, value in kwargs.items():
        name = renamed.get(given, given)
        if name in own:
            mine[name] = value
        elif name in shared:
            shared[name] = value
        else:
            known = sorted({*shared, *own, *renamed})
            raise _unknown_option(given, vendor, known)
    delivery_values = {name: shared[name] for name in _DELIVERY_OPTIONS}
    delivery = DeliveryConfig(proxy=_proxy(shared["proxies"], url), **delivery_values)
    transport = _transport(shared["transport"])
    on_error = shared["on_error"]
    if on_error is not None and not callable(on_error):
        raise ConfigError("on_error must be callable as on_error(error, messages)")
    middleware = shared["middleware"]
    if isinstance(middleware, str | bytes | Mapping) or not isinstance(middleware, Sequence):
        raise ConfigError("middleware must be a list of callables taking a message dict")
    spool_config = None
    if shared["spool"] is not None:
        spool_config = SpoolConfig(
            path=shared["spool"],
            max_bytes=shared["spool_max_bytes"],
            fsync=shared["spool_fsync"],
            fsync_interval=shared["spool_fsync_interval"],
        )
    if not isinstance(shared["handle_sigterm"], bool):
        raise ConfigError(f"handle_sigterm must be True or False, got {shared['handle_sigterm']!r}")
    options = ClientOptions(
        delivery=delivery.with_env_defaults(),
        retry=_retry_config(shared["retry"], shared["max_retries"]),
        transport=transport,
        middleware=tuple(middleware),
        on_error=on_error,
        on_middleware_error=shared["on_middleware_error"],
        spool=spool_config,
        handle_sigterm=shared["handle_sigterm"],
    )
    MiddlewareChain(options.middleware, options.on_middleware_error)  # validates both
    return options, mine
