"""The Segment client: ``identify``, ``track``, ``page``, ``screen``, ``group``, ``alias``.

Each call validates its arguments, builds the message, runs the middleware, encodes it once
and hands the bytes to the delivery engine; it returns a :class:`~trackwire.Receipt` at once.
Batches go to ``{host}/v1/batch`` as ``{"batch": [...], "sentAt": ..., "writeKey": ...}`` with
HTTP Basic auth, the shape Segment's own libraries send.
"""

from __future__ import annotations

import base64
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final

import orjson

from trackwire._engine.batcher import BatchLimits
from trackwire._engine.encoding import encode
from trackwire._engine.receipts import BatchReport, Hooks, Receipt
from trackwire._engine.retry import Outcome
from trackwire._engine.transport import HTTPRequest, HTTPResult, Transport, Urllib3Transport
from trackwire._engine.worker import Engine, ErrorHandler
from trackwire._logging import enable_debug_logging
from trackwire._version import __version__
from trackwire.config import DeliveryConfig, OnFull, RetryConfig
from trackwire.errors import ConfigError, DeliveryError, MessageTooLargeError
from trackwire.middleware import Middleware, MiddlewareChain
from trackwire.segment import wire
from trackwire.segment.messages import common, now_iso, object_field, text_field

__all__ = ["Segment"]

logger = logging.getLogger("trackwire")

USER_AGENT: Final = f"trackwire/{__version__} python/{sys.version_info[0]}.{sys.version_info[1]}"
Callback = Callable[[DeliveryError | None, dict[str, Any]], None]


class _SegmentDestination:
    """The engine's view of Segment: batch limits, the request, the response's meaning."""

    name = "segment"

    def __init__(self, write_key: str, host: str, timeout: float) -> None:
        self._url = host + wire.BATCH_PATH
        self._write_key_json = orjson.dumps(write_key)
        token = base64.b64encode(f"{write_key}:".encode()).decode("ascii")
        self._headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": f"Basic {token}",
        }
        self._timeout = timeout
        self.limits = BatchLimits(
            max_count=wire.MAX_BATCH_COUNT,
            max_bytes=wire.MAX_BATCH_BYTES,
            overhead=wire.envelope_overhead(self._write_key_json),
        )

    def request(self, messages: Sequence[bytes], retry_count: int) -> HTTPRequest:
        headers = self._headers
        if retry_count:
            headers = {**headers, "X-Retry-Count": str(retry_count)}
        body = wire.envelope(messages, self._write_key_json, now_iso())
        return HTTPRequest("POST", self._url, headers, body, self._timeout)

    def outcome(self, result: HTTPResult, batch_size: int) -> Outcome:
        return wire.outcome(result, time.time(), batch_size)


def _resolve_host(host: str | None, region: str | None) -> str:
    if host is not None and region is not None:
        raise ConfigError("pass host or region, not both")
    if region is not None:
        try:
            return wire.REGION_HOSTS[region.lower()]
        except KeyError:
            raise ConfigError(
                f"region must be one of {', '.join(wire.REGION_HOSTS)}, got {region!r}"
            ) from None
    if host is None:
        return wire.DEFAULT_HOST
    if not isinstance(host, str) or not host.startswith(("http://", "https://")):
        raise ConfigError(f"host must be an http:// or https:// URL, got {host!r}")
    host = host.rstrip("/")
    # Segment's docs give hosts both with and without /v1; the path is ours to add.
    return host[: -len("/v1")] if host.endswith("/v1") else host


def _resolve_proxy(proxies: str | Mapping[str, str] | None, host: str) -> str | None:
    if proxies is None or isinstance(proxies, str):
        return proxies
    scheme = host.split(":", 1)[0]
    return proxies.get(scheme) or proxies.get("all")


class Segment:
    """A Segment source: sends Segment spec calls in the background, in batches.

    Args:
        write_key: the source's write key.
        host: the API base URL (``https://api.segment.io`` by default); ``/v1/batch`` is added.
        region: ``"us"`` or ``"eu"`` instead of ``host``.
        flush_at: send when this many messages wait. Default 20.
        flush_interval: send when the oldest waiting message is this old, seconds. Default 10.
        max_queue_size: most messages held in memory. Default 10,000.
        max_queue_bytes: most encoded bytes held in memory. Default 64 MiB.
        on_full: ``"reject"`` (default), ``"block"`` or ``"drop_oldest"``; see
            :class:`~trackwire.DeliveryConfig`.
        block_timeout: seconds a call may wait for room with ``on_full="block"``.
        workers: background sending threads. Default 1.
        send_first_immediately: send the very first message at once. Default True.
        shutdown_timeout: seconds the exit hook spends delivering what is left. Default 5.
        enable: False validates and encodes every call but sends nothing (for tests).
        on_error: ``fn(error, messages)`` called from the worker when messages finally fail.
        gzip: compress request bodies. Default True.
        gzip_level: 1-9. Default 1.
        timeout: seconds to wait for a response. Default 15.
        connect_timeout: seconds to connect. Default 5.
        max_retries: retries per batch after the first attempt. Default 10.
        retry: full retry options (overrides ``max_retries``).
        proxies: a proxy URL, or a ``{"https": url}`` mapping as ``requests`` takes.
        ca_certs: a CA bundle to verify the server with.
        debug: log at DEBUG level on the ``trackwire`` logger.
        middleware: callables run on each message before encoding.
        transport: send requests through this instead of the default urllib3 pool.

    Raises:
        ConfigError: an option is invalid.
    """

    def __init__(
        self,
        write_key: str,
        *,
        host: str | None = None,
        region: str | None = None,
        flush_at: int = 20,
        flush_interval: float = 10.0,
        max_queue_size: int = 10_000,
        max_queue_bytes: int = 64 * 1024 * 1024,
        on_full: OnFull = "reject",
        block_timeout: float = 10.0,
        workers: int = 1,
        send_first_immediately: bool = True,
        shutdown_timeout: float = 5.0,
        enable: bool = True,
        on_error: ErrorHandler | None = None,
        gzip: bool = True,
        gzip_level: int = 1,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        max_retries: int = 10,
        retry: RetryConfig | None = None,
        proxies: str | Mapping[str, str] | None = None,
        ca_certs: str | None = None,
        debug: bool = False,
        middleware: Sequence[Middleware] = (),
        transport: Transport | None = None,
    ) -> None:
        if not isinstance(write_key, str) or not write_key:
            raise ConfigError("write_key must be a non-empty str (your Segment source's key)")
        if on_error is not None and not callable(on_error):
            raise ConfigError("on_error must be callable as on_error(error, messages)")
        self.host = _resolve_host(host, region)
        self.config = DeliveryConfig(
            flush_at=flush_at,
            flush_interval=flush_interval,
            max_queue_size=max_queue_size,
            max_queue_bytes=max_queue_bytes,
            on_full=on_full,
            block_timeout=block_timeout,
            workers=workers,
            send_first_immediately=send_first_immediately,
            shutdown_timeout=shutdown_timeout,
            gzip=gzip,
            gzip_level=gzip_level,
            timeout=timeout,
            connect_timeout=connect_timeout,
            proxy=_resolve_proxy(proxies, self.host),
            ca_certs=ca_certs,
            enable=enable,
            debug=debug,
        ).with_env_defaults()
        self.retry = retry if retry is not None else RetryConfig(max_retries=max_retries)
        if self.config.debug:
            enable_debug_logging()
        self._middleware = MiddlewareChain(middleware)
        self._hooks = Hooks()
        if transport is None:
            transport = Urllib3Transport(
                connect_timeout=self.config.connect_timeout,
                read_timeout=self.config.timeout,
                proxy=self.config.proxy,
                ca_certs=self.config.ca_certs,
                pool_maxsize=self.config.workers,
            )
        self._destination = _SegmentDestination(write_key, self.host, self.config.timeout)
        self._engine = Engine(
            self._destination, self.config, self.retry, transport, self._hooks, on_error
        )
        self._enabled = self.config.enable

    def __repr__(self) -> str:
        return f"<trackwire.Segment host={self.host!r}>"

    # ------------------------------------------------------------------ calls

    def identify(
        self,
        user_id: object = None,
        traits: Mapping[str, Any] | None = None,
        *,
        anonymous_id: object = None,
        context: Mapping[str, Any] | None = None,
        integrations: Mapping[str, Any] | None = None,
        timestamp: object = None,
        message_id: object = None,
        callback: Callback | None = None,
    ) -> Receipt:
        """Record who a user is and their traits (``plan``, ``email``, ...)."""
        message: dict[str, Any] = {"type": "identify", "traits": object_field("traits", traits)}
        return self._send(
            common(
                message,
                user_id=user_id,
                anonymous_id=anonymous_id,
                context=context,
                integrations=integrations,
                timestamp=timestamp,
                message_id=message_id,
            ),
            callback,
        )

    def track(
        self,
        user_id: object = None,
        event: str | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        anonymous_id: object = None,
        context: Mapping[str, Any] | None = None,
        integrations: Mapping[str, Any] | None = None,
        timestamp: object = None,
        message_id: object = None,
        callback: Callback | None = None,
    ) -> Receipt:
        """Record an action a user performed (``event``) with its ``properties``."""
        message: dict[str, Any] = {
            "type": "track",
            "event": event if type(event) is str and event else text_field("event", event, True),
            "properties": properties
            if type(properties) is dict
            else object_field("properties", properties),
        }
        return self._send(
            common(
                message,
                user_id=user_id,
                anonymous_id=anonymous_id,
                context=context,
                integrations=integrations,
                timestamp=timestamp,
                message_id=message_id,
            ),
            callback,
        )

    def page(
        self,
        user_id: object = None,
        category: str | None = None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        anonymous_id: object = None,
        context: Mapping[str, Any] | None = None,
        integrations: Mapping[str, Any] | None = None,
        timestamp: object = None,
        message_id: object = None,
        callback: Callback | None = None,
    ) -> Receipt:
        """Record a page view, with an optional ``name``, ``category`` and ``properties``."""
        return self._view(
            "page",
            user_id,
            category,
            name,
            properties,
            anonymous_id,
            context,
            integrations,
            timestamp,
            message_id,
            callback,
        )

    def screen(
        self,
        user_id: object = None,
        category: str | None = None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        anonymous_id: object = None,
        context: Mapping[str, Any] | None = None,
        integrations: Mapping[str, Any] | None = None,
        timestamp: object = None,
        message_id: object = None,
        callback: Callback | None = None,
    ) -> Receipt:
        """Record a screen view in a mobile app, like :meth:`page`."""
        return self._view(
            "screen",
            user_id,
            category,
            name,
            properties,
            anonymous_id,
            context,
            integrations,
            timestamp,
            message_id,
            callback,
        )

    def _view(
        self,
        kind: str,
        user_id: object,
        category: object,
        name: object,
        properties: Mapping[str, Any] | None,
        anonymous_id: object,
        context: Mapping[str, Any] | None,
        integrations: Mapping[str, Any] | None,
        timestamp: object,
        message_id: object,
        callback: Callback | None,
    ) -> Receipt:
        message: dict[str, Any] = {"type": kind}
        page_name = text_field("name", name, required=False)
        page_category = text_field("category", category, required=False)
        if page_name is not None:
            message["name"] = page_name
        if page_category is not None:
            message["category"] = page_category
        message["properties"] = object_field("properties", properties)
        return self._send(
            common(
                message,
                user_id=user_id,
                anonymous_id=anonymous_id,
                context=context,
                integrations=integrations,
                timestamp=timestamp,
                message_id=message_id,
            ),
            callback,
        )

    def group(
        self,
        user_id: object = None,
        group_id: object = None,
        traits: Mapping[str, Any] | None = None,
        *,
        anonymous_id: object = None,
        context: Mapping[str, Any] | None = None,
        integrations: Mapping[str, Any] | None = None,
        timestamp: object = None,
        message_id: object = None,
        callback: Callback | None = None,
    ) -> Receipt:
        """Associate a user with a group (a company, team, ...) and record the group's traits."""
        message: dict[str, Any] = {
            "type": "group",
            "groupId": text_field("group_id", group_id, required=True),
            "traits": object_field("traits", traits),
        }
        return self._send(
            common(
                message,
                user_id=user_id,
                anonymous_id=anonymous_id,
                context=context,
                integrations=integrations,
                timestamp=timestamp,
                message_id=message_id,
            ),
            callback,
        )

    def alias(
        self,
        previous_id: object = None,
        user_id: object = None,
        *,
        context: Mapping[str, Any] | None = None,
        integrations: Mapping[str, Any] | None = None,
        timestamp: object = None,
        message_id: object = None,
        callback: Callback | None = None,
    ) -> Receipt:
        """Tell Segment that ``previous_id`` and ``user_id`` are the same person."""
        message: dict[str, Any] = {
            "type": "alias",
            "previousId": text_field("previous_id", previous_id, required=True),
            "userId": text_field("user_id", user_id, required=True),
        }
        return self._send(
            common(
                message,
                user_id=message["userId"],
                anonymous_id=None,
                context=context,
                integrations=integrations,
                timestamp=timestamp,
                message_id=message_id,
                require_identity=False,
            ),
            callback,
        )

    def _send(self, message: dict[str, Any], callback: Callback | None) -> Receipt:
        if self._middleware:
            result = self._middleware.run(message)
            if result is None:
                return self._engine.drop(Receipt(message.get("messageId")), "filtered")
            message = result
            problem = wire.check_message(message)
            if problem is not None:
                from trackwire.errors import ValidationError

                raise ValidationError(
                    problem.field, f"after middleware: {problem.message} ({problem.code})"
                )
        data = encode(message)
        if len(data) > wire.MAX_MESSAGE_BYTES:
            raise MessageTooLargeError(len(data), wire.MAX_MESSAGE_BYTES, "Segment message")
        receipt = Receipt(message["messageId"])
        if callback is not None:
            receipt.add_done_callback(lambda r: callback(r.error, message))
        if self._enabled:
            return self._engine.submit(data, receipt)
        receipt._settle(None)
        return receipt

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
        """:meth:`shutdown` for asyncio code."""
        import asyncio

        return await asyncio.to_thread(self._engine.shutdown, timeout)

    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown` began."""
        return self._engine.closed

    def on(self, hook: str, fn: Callable[[BatchReport], None]) -> None:
        """Call ``fn(report)`` on ``"flush"``, ``"retry"``, ``"error"`` or ``"drop"``."""
        self._hooks.add(hook, fn)

    def add_middleware(self, middleware: Middleware) -> None:
        """Run ``middleware`` on every later message, after those already added."""
        self._middleware.add(middleware)

    def stats(self) -> dict[str, Any]:
        """Counters: enqueued, delivered, retries, batches, dropped and failed by reason, queue."""
        stats = self._engine.stats()
        if self._middleware.errors:
            stats["middleware_errors"] = self._middleware.errors
        return stats

    def __enter__(self) -> Segment:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
