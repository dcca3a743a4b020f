"""The Segment client: ``identify``, ``track``, ``page``, ``screen``, ``group``, ``alias``.

Each call validates its arguments, builds the message, runs the middleware, encodes it once
and hands the bytes to the delivery engine; it returns a :class:`~trackwire.Receipt` at once.
Batches go to ``{host}/v1/batch`` as ``{"batch": [...], "sentAt": ..., "writeKey": ...}`` with
HTTP Basic auth, the shape Segment's own libraries send.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from trackwire._client import Client, parse_options
from trackwire._engine.batcher import BatchLimits
from trackwire._engine.destination import HTTPDestination
from trackwire._engine.receipts import Receipt
from trackwire._engine.retry import Outcome
from trackwire._engine.transport import HTTPResult
from trackwire.errors import ConfigError, DeliveryError, ValidationError
from trackwire.segment import wire
from trackwire.segment.messages import common, now_iso, object_field, text_field

__all__ = ["Segment"]

Callback = Callable[[DeliveryError | None, dict[str, Any]], None]


def _destination(write_key: str, host: str, timeout: float) -> HTTPDestination:
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


def _resolve_host(host: object, region: object) -> str:
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


class Segment(Client):
    """A Segment source: sends Segment spec calls in the background, in batches.

    Args:
        write_key: the source's write key.
        host: the API base URL (``https://api.segment.io`` by default); ``/v1/batch`` is added.
        region: ``"us"`` or ``"eu"`` instead of ``host``.
        **options: the delivery options every client takes (``flush_at``, ``flush_interval``,
            ``max_queue_size``, ``on_full``, ``workers``, ``max_retries``, ``retry``,
            ``timeout``, ``gzip``, ``proxies``, ``enable``, ``debug``, ``middleware``,
            ``on_error``, ``transport``, ...): see :class:`~trackwire.DeliveryConfig`,
            :class:`~trackwire.RetryConfig` and the README's configuration table.

    Raises:
        ConfigError: an option is unknown or invalid (the message names it).
    """

    def __init__(
        self,
        write_key: str,
        *,
        host: str | None = None,
        region: str | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(write_key, str) or not write_key:
            raise ConfigError("write_key must be a non-empty str (your Segment source's key)")
        self.host = _resolve_host(host, region)
        shared, _ = parse_options(options, vendor="Segment", url=self.host)
        super().__init__(_destination(write_key, self.host, shared.delivery.timeout), shared)

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
        done = None if callback is None else _callback_adapter(callback, message)
        return self._enqueue(
            message,
            message_id=message["messageId"],
            max_bytes=wire.MAX_MESSAGE_BYTES,
            what="Segment message",
            recheck=_recheck,
            callback=done,
        )


def _recheck(message: dict[str, Any]) -> None:
    """Segment's rules again, for a message a middleware changed."""
    problem = wire.check_message(message)
    if problem is not None:
        raise ValidationError(
            problem.field, f"after middleware: {problem.message} ({problem.code})"
        )


def _callback_adapter(callback: Callback, message: dict[str, Any]) -> Callable[[Receipt], None]:
    """The seeds' ``callback(error, message)`` as a receipt callback."""
    return lambda receipt: callback(receipt.error, message)
