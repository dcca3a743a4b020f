"""The Segment client: ``identify``, ``track``, ``page``, ``screen``, ``group``, ``alias``.

Each call validates its arguments, builds the message, runs the middleware, encodes it once
and hands the bytes to the delivery engine; it returns a :class:`~trackwire.Receipt` at once.
Batches go to ``{host}/v1/batch`` as ``{"batch": [...], "sentAt": ..., "writeKey": ...}`` with
HTTP Basic auth, the shape Segment's own libraries send.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from trackwire._client import Client, ReplaySpec, parse_options
from trackwire._engine.receipts import Receipt
from trackwire.errors import ConfigError, DeliveryError, ValidationError
from trackwire.segment import wire
from trackwire.segment.destination import destination, resolve_host
from trackwire.segment.fast import encode_track
from trackwire.segment.messages import common, object_field, text_field

if TYPE_CHECKING:  # typing.Unpack from 3.11; used in annotations only
    from typing_extensions import Unpack

    from trackwire.config import SharedOptions

__all__ = ["Segment"]

Callback = Callable[[DeliveryError | None, dict[str, Any]], None]

_MAX_MESSAGE_BYTES = wire.MAX_MESSAGE_BYTES


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
        **options: Unpack[SharedOptions],
    ) -> None:
        if not isinstance(write_key, str) or not write_key:
            raise ConfigError("write_key must be a non-empty str (your Segment source's key)")
        self.host = resolve_host(host, region)
        shared, _ = parse_options(options, vendor="Segment", url=self.host)
        replay = ReplaySpec.of(Segment, write_key, host=host, region=region, **options)
        super().__init__(
            destination(write_key, self.host, shared.delivery.timeout), shared, replay=replay
        )
        self._fast_submit = self._engine.submit  # bound once: the fast path of track()
        # A subclass that sees every message dict through _enqueue (trackwire.compat's
        # Segment client keeps the last one) gets it: the fast path builds no dict.
        self._splice = type(self)._enqueue is Client._enqueue

    def __repr__(self) -> str:
        return f"<trackwire.Segment host={self.host!r}>"

    # ------------------------------------------------------------------ calls
    # Every call takes the fields all Segment messages share as keyword arguments:
    # anonymous_id, context, integrations, timestamp (a datetime, naive = UTC, or an ISO-8601
    # str passed through), message_id (made when not given) and callback(error, message).

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
        message = {"type": "identify", "traits": object_field("traits", traits)}
        return self._send(
            message, user_id, anonymous_id, context, integrations, timestamp, message_id, callback
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
        if (
            type(user_id) is str
            and user_id
            and type(event) is str
            and event
            and (properties is None or type(properties) is dict)
            and anonymous_id is None
            and context is None
            and integrations is None
            and timestamp is None
            and message_id is None
            and callback is None
            and self._enabled
            and self._splice
            and not self._middleware.items
        ):
            # The common call: spliced from pre-encoded pieces (trackwire.segment.fast).
            encoded = encode_track(user_id, event, properties)
            if encoded is not None:
                made_id, data = encoded
                if len(data) <= _MAX_MESSAGE_BYTES:
                    return self._fast_submit(data, Receipt(made_id))
        message = {
            "type": "track",
            "event": event if type(event) is str and event else text_field("event", event, True),
            "properties": properties
            if type(properties) is dict
            else object_field("properties", properties),
        }
        return self._send(
            message, user_id, anonymous_id, context, integrations, timestamp, message_id, callback
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
        message = _view("page", category, name, properties)
        return self._send(
            message, user_id, anonymous_id, context, integrations, timestamp, message_id, callback
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
        message = _view("screen", category, name, properties)
        return self._send(
            message, user_id, anonymous_id, context, integrations, timestamp, message_id, callback
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
        message = {
            "type": "group",
            "groupId": text_field("group_id", group_id, required=True),
            "traits": object_field("traits", traits),
        }
        return self._send(
            message, user_id, anonymous_id, context, integrations, timestamp, message_id, callback
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
        message = {
            "type": "alias",
            "previousId": text_field("previous_id", previous_id, required=True),
            "userId": text_field("user_id", user_id, required=True),
        }
        return self._send(
            message, message["userId"], None, context, integrations, timestamp, message_id, callback
        )

    def _send(
        self,
        message: dict[str, Any],
        user_id: object,
        anonymous_id: object,
        context: object,
        integrations: object,
        timestamp: object,
        message_id: object,
        callback: Callback | None,
    ) -> Receipt:
        common(
            message,
            user_id=user_id,
            anonymous_id=anonymous_id,
            context=context,
            integrations=integrations,
            timestamp=timestamp,
            message_id=message_id,
            require_identity=message["type"] != "alias",
        )
        return self._enqueue(
            message,
            message_id=message["messageId"],
            max_bytes=wire.MAX_MESSAGE_BYTES,
            what="Segment message",
            recheck=_recheck,
            callback=None if callback is None else _callback_adapter(callback, message),
        )


def _view(kind: str, category: object, name: object, properties: object) -> dict[str, Any]:
    """The fields of a ``page`` or ``screen`` message."""
    message: dict[str, Any] = {"type": kind}
    page_name = text_field("name", name, required=False)
    page_category = text_field("category", category, required=False)
    if page_name is not None:
        message["name"] = page_name
    if page_category is not None:
        message["category"] = page_category
    message["properties"] = object_field("properties", properties)
    return message


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
