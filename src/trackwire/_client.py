"""The client layer every vendor shares: options, middleware, hooks, engine, enable switch.

A vendor client (``trackwire.Segment``, ``trackwire.Amplitude``, ``trackwire.MParticle``) is a
:class:`Client` that adds only its calls, its message rules and its destination. Everything a
user does with a client besides sending — ``flush``, ``shutdown``, ``with``/``async with``,
hooks, middleware, ``stats()`` — is written and documented here, once.

Options are declared once too: :func:`parse_options` reads every shared delivery option from
the keyword arguments a client was given (the frozen :class:`~trackwire.config.DeliveryConfig`
and :class:`~trackwire.config.RetryConfig` hold their defaults and validate them), hands the
vendor's own options back, and refuses anything else with a did-you-mean — including the
official SDKs' spellings, with trackwire's name for them.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import TracebackType
from typing import Any, Final, TypeVar

from trackwire._engine.destination import Destination
from trackwire._engine.encoding import encode
from trackwire._engine.receipts import BatchReport, Hooks, Receipt
from trackwire._engine.signals import install_sigterm_handler
from trackwire._engine.spool_setup import SpoolQueues, record_constructor, spool_meta
from trackwire._engine.transport import Transport, Urllib3Transport
from trackwire._engine.worker import Engine, ErrorHandler, QueueFactory, receipt_queue
from trackwire._logging import enable_debug_logging
from trackwire.config import (
    DEFAULT_FSYNC,
    DEFAULT_FSYNC_INTERVAL,
    DEFAULT_SPOOL_MAX_BYTES,
    DeliveryConfig,
    RetryConfig,
    SpoolConfig,
)
from trackwire.errors import ConfigError, MessageTooLargeError
from trackwire.middleware import Middleware, MiddlewareChain, MiddlewareFailed, OnMiddlewareError

__all__ = ["Client", "ClientOptions", "parse_options"]

logger = logging.getLogger("trackwire")

Message = dict[str, Any]
_C = TypeVar("_C", bound="Client")

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

#: The official SDKs' spellings of trackwire's options, for the error that names the option.
_OFFICIAL_SPELLINGS: Final[Mapping[str, str]] = {
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
    queue_factory: QueueFactory = receipt_queue
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


class Client:
    """What every trackwire client does besides its vendor's calls.

    Sending happens in the background: each call validates and encodes its message in the
    caller's thread, queues it and returns a :class:`~trackwire.Receipt` at once; worker
    threads send batches, retry transient failures and settle the receipts.

    Args:
        destination: the vendor's destination (URL, limits, envelope, response rules).
        options: the shared options, from :func:`parse_options`.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        record_constructor(cls)  # for the spool's meta file (trackwire spool replay)

    def __init__(self, destination: Destination, options: ClientOptions) -> None:
        self.config = options.delivery
        self.retry = options.retry
        if self.config.debug:
            enable_debug_logging()
        self._middleware = MiddlewareChain(options.middleware, options.on_middleware_error)
        self._hooks = Hooks()
        transport = options.transport
        if transport is None:
            transport = Urllib3Transport(
                connect_timeout=self.config.connect_timeout,
                read_timeout=self.config.timeout,
                proxy=self.config.proxy,
                ca_certs=self.config.ca_certs,
                pool_maxsize=self.config.workers,
            )
        self._destination = destination
        queue_factory = options.queue_factory
        self._spool: SpoolQueues | None = None
        if options.spool is not None and self.config.enable:  # a disabled client sends nothing
            made_with = getattr(self, "_made_with", None)
            meta = spool_meta(destination.name, made_with, destination)
            queue_factory = self._spool = SpoolQueues(options.spool, meta)
        self._engine = Engine(
            destination,
            self.config,
            self.retry,
            transport,
            self._hooks,
            options.on_error,
            queue_factory,
        )
        if options.handle_sigterm:
            install_sigterm_handler()
        self._enabled = self.config.enable

    # ------------------------------------------------------------------ for vendor clients

    def _enqueue(
        self,
        message: Message,
        *,
        message_id: str | None,
        max_bytes: int,
        what: str,
        recheck: Callable[[Message], None] | None = None,
        callback: Callable[[Receipt], None] | None = None,
    ) -> Receipt:
        """Run the middleware, encode ``message`` once and queue it; returns its receipt.

        Args:
            message: the message as it goes on the wire (the client's own copy).
            message_id: its de-duplication id, for the receipt.
            max_bytes: the vendor's per-message limit on the encoded size.
            what: the message's name in a size error (``"Segment message"``).
            recheck: validates the message again after a middleware changed it.
            callback: called with the receipt once it is settled.

        Raises:
            ValidationError: the message (or a middleware's change) is invalid.
            MessageTooLargeError: the encoded message is over ``max_bytes``.
        """
        if self._middleware.items:
            try:
                result = self._middleware.run(message)
            except MiddlewareFailed as failure:
                return self._dropped(message_id, "middleware_error", str(failure), callback)
            if result is None:
                return self._dropped(message_id, "filtered", "", callback)
            if recheck is not None:
                recheck(result)
            message = result
        data = encode(message)
        if len(data) > max_bytes:
            raise MessageTooLargeError(len(data), max_bytes, what)
        receipt = Receipt(message_id)
        if callback is not None:
            receipt.add_done_callback(callback)
        if self._enabled:
            return self._engine.submit(data, receipt)
        return self._engine.drop(receipt, "disabled")

    def _dropped(
        self,
        message_id: str | None,
        reason: str,
        detail: str,
        callback: Callable[[Receipt], None] | None,
    ) -> Receipt:
        receipt = Receipt(message_id)
        if callback is not None:
            receipt.add_done_callback(callback)
        return self._engine.drop(receipt, reason, detail)

    def _drop(self, message_id: str | None, reason: str, detail: str = "") -> Receipt:
        """Settle a message that will not be sent (``filtered``, ...): counted and reported."""
        return self._dropped(message_id, reason, detail, None)

    # ------------------------------------------------------------------ control

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued so far and wait until it is delivered or finally failed.

        Args:
            timeout: seconds to wait at most; None waits until done.

        Returns:
            True if everything queued before the call was settled in time.
        """
        return self._engine.flush(timeout)

    async def aflush(self, timeout: float | None = None) -> bool:
        """:meth:`flush` for asyncio code: waits in a thread, not on the event loop."""
        import asyncio  # lazily: importing asyncio costs more than all of trackwire

        return await asyncio.to_thread(self._engine.flush, timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush within ``timeout`` (default ``shutdown_timeout``), then stop the workers.

        Calls made afterwards are refused: their receipts fail with reason ``after_close``.
        Messages still undelivered at the deadline fail with reason ``shutdown``.

        Returns:
            True if everything was delivered or settled before the deadline.
        """
        return self._engine.shutdown(timeout)

    async def ashutdown(self, timeout: float | None = None) -> bool:
        """:meth:`shutdown` for asyncio code: waits in a thread, not on the event loop."""
        import asyncio

        return await asyncio.to_thread(self._engine.shutdown, timeout)

    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown` began."""
        return self._engine.closed

    def on(self, hook: str, fn: Callable[[BatchReport], None]) -> None:
        """Call ``fn(report)`` on ``"flush"``, ``"retry"``, ``"error"`` or ``"drop"``.

        Hooks run in the worker thread (or the caller's, for drops at the call site); an
        exception in one is logged and ignored.
        """
        self._hooks.add(hook, fn)

    def add_middleware(self, middleware: Middleware) -> None:
        """Run ``middleware`` on every later message, after those already added."""
        self._middleware.add(middleware)

    def stats(self) -> dict[str, Any]:
        """Counters: enqueued, delivered, retries, batches, dropped and failed by reason, queue.

        ``dropped`` counts messages never sent, by reason (``queue_full``, ``after_close``,
        ``shutdown``, ``filtered``, ``middleware_error``, ``disabled``); ``failed`` counts
        messages sent but not accepted (``rejected``, ``retry_exhausted``, ``shutdown``).
        """
        stats = self._engine.stats()
        if self._spool is not None:
            stats.update(self._spool.stats())
        if self._middleware.errors:
            stats["middleware_errors"] = self._middleware.errors
        return stats

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    async def __aenter__(self: _C) -> _C:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.ashutdown()
