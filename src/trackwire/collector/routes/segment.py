"""Segment's Tracking API: ``POST /v1/batch`` (and ``/v1/import``) and ``/v1/{type}``.

Each message is stored as Segment keeps it: the batch envelope's ``context`` and
``integrations`` merged in (the message's own keys win; stored once per request, see
:class:`~trackwire.collector.store.SharedContext`), with ``receivedAt``, ``sentAt``,
``originalTimestamp`` and the skew-corrected ``timestamp`` (:func:`trackwire.segment.wire.enrich`),
which is also the event's time. ``messageId`` de-duplicates across every Segment source, as
Segment's does; Segment keeps ids "at least 24 hours", the collector forever (stricter, and
what its warehouses do).

Decisions where Segment's documents leave room: a message's size is its compact JSON encoding
(the same bytes the store keeps). A batch's invalid messages are dropped and its valid ones
stored; the answer is still ``200`` (Segment's edge answers 200 too) and lists the rejected
messages in ``rejected``/``errors``, which no SDK reads; ``/stats`` counts them under
``rejected``. Above 2,500 messages Segment answers 200 and stores nothing; so does the
collector, saying so in the body and the log. A missing or unknown write key is ``401``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackwire.collector import _http
from trackwire.collector._handler import Reply, handle, json_reply
from trackwire.collector.records import epoch_ms, segment_plain_record, segment_record_at
from trackwire.collector.store import EventRecord, SharedContext
from trackwire.segment import wire

if TYPE_CHECKING:
    from trackwire.collector.vendors import Ingestion

__all__ = ["routes"]

logger = logging.getLogger("trackwire.collector")

#: Per-message errors listed in a batch answer; the rest are only counted.
_MAX_LISTED_ERRORS: Final = 20


def routes(ingestion: Ingestion) -> list[Route]:
    """The Segment routes, storing through ``ingestion``."""
    api = _Segment(ingestion)
    found = [
        Route(path, functools.partial(api.post, kind=None), methods=["POST"])
        for path in (wire.BATCH_PATH, wire.IMPORT_PATH)
    ]
    for path, kind in wire.SINGLE_PATHS.items():
        found.append(Route(path, functools.partial(api.post, kind=kind), methods=["POST"]))
    return found


_TOO_DEEP: Final = wire.WireError("invalid_message", "the message is nested too deeply to store")


def _prepare(
    message: dict[str, Any], *, measure: bool, enrichment: wire.Enrichment
) -> tuple[dict[str, Any], bytes, int] | wire.WireError:
    """The message as stored (with Segment's server fields), its compact JSON and its time in
    epoch milliseconds, or why it cannot be stored (too large as sent, too deep).

    ``message`` is the route's own decoded copy: it is enriched in place, saving a copy (and
    an object for the garbage collector) per message. Everything is encoded here, once, so a
    message that cannot be encoded is dropped and reported alone instead of failing its whole
    request; the store keeps these bytes. With ``measure`` (a request larger than one message
    may be), Segment's limit applies to the message as sent, before its server fields are
    added.
    """
    try:
        if measure and wire.carries_server_fields(message):
            # Rare: the message carries server fields enrichment replaces; measure it first.
            problem = wire.size_problem(len(orjson.dumps(message)))
            if problem is not None:
                return problem
            measure = False
        has_timestamp = "timestamp" in message
        timestamp = message.get("timestamp")
        when = enrichment.stamp_into(message)
        encoded = orjson.dumps(message)
        if measure:
            problem = wire.size_problem_as_sent(message, len(encoded), has_timestamp, timestamp)
            if problem is not None:
                return problem
        return message, encoded, epoch_ms(when)
    except orjson.JSONEncodeError:
        # orjson's limit (254 levels) is far deeper than any real message.
        return _TOO_DEEP


#: Types :func:`_plain_record` takes (group and alias, with rules of their own, do not), and
#: the field each names its event by.
_PLAIN_NAMES: Final[Mapping[str, str | None]] = {
    "track": "event",
    "page": "name",
    "screen": "name",
    "identify": None,
}

#: The fields of :data:`wire.FIELD_TYPES` a string, or an object, may not be in.
_NOT_STRING_FIELDS: Final = frozenset(
    name for name, kind in wire.FIELD_TYPES.items() if kind is not str
)
_NOT_OBJECT_FIELDS: Final = frozenset(
    name for name, kind in wire.FIELD_TYPES.items() if kind is not dict
)


def _plain_record(
    message: Any,
    measure: bool,
    enrichment: wire.Enrichment,
    source: str,
    shared: SharedContext | None,
) -> EventRecord | wire.WireError | None:
    """The record of a common batch message, checked, enriched and encoded in one pass; None
    for any other message.

    The collector runs this for every Segment event. A ``track``, ``page``, ``screen`` or
    ``identify`` message of plain decoded JSON (exact types: orjson makes no subclasses) whose
    ``userId`` and ``anonymousId`` are each absent or a non-empty string, one at least, is
    checked here by :func:`~trackwire.segment.wire.check_message`'s rules with each field
    read once and its ``timestamp`` parsed once, for the check and the enrichment. None is no
    verdict: the message is unchanged and takes ``check_message``, :func:`_prepare` and
    :func:`~trackwire.collector.records.segment_record_at`, which give every answer (the
    tests compare the two paths message by message).
    """
    # type() rather than __class__ throughout: CPython 3.11 specialises the call.
    if type(message) is not dict:
        return None
    get = message.get
    kind = get("type")
    if type(kind) is not str or kind not in _PLAIN_NAMES:
        return None
    # wire.FIELD_TYPES's rule (a known field holds its type, or null) by the value's class:
    # a string or an object is refused by a set lookup in the fields typed otherwise (the
    # common values, one lookup each), any other value by the table itself.
    not_str, not_dict, typed = _NOT_STRING_FIELDS, _NOT_OBJECT_FIELDS, wire.FIELD_TYPES
    for name, value in message.items():
        value_type = type(value)
        if value_type is str:
            if name in not_str:
                return None
        elif value_type is dict:
            if name in not_dict:
                return None
        elif value is not None and typed.get(name, value_type) is not value_type:
            return None
    # After the loop each named field is None or of its type (event, name, messageId: str).
    message_id = get("messageId")
    if message_id is not None and len(message_id) > wire.MAX_MESSAGE_ID_LENGTH:
        return None
    timestamp = get("timestamp")
    original = None
    if timestamp is not None:
        if type(timestamp) is not str:
            return None
        original = wire.parse_timestamp(timestamp)
        if original is None:
            return None
    user_id = get("userId")
    device_id = get("anonymousId")
    if user_id is None:
        if device_id is None:
            return None
    elif not (type(user_id) is str and user_id):
        return None
    if device_id is not None and not (type(device_id) is str and device_id):
        return None
    name_field = _PLAIN_NAMES[kind]
    event_name = (get(name_field) or None) if name_field is not None else None
    if kind == "track" and event_name is None:
        return None
    if measure and wire.carries_server_fields(message):
        return None
    has_timestamp = timestamp is not None or "timestamp" in message
    when = enrichment.stamp_parsed(message, timestamp, original)
    try:
        encoded = orjson.dumps(message)
    except orjson.JSONEncodeError:
        return _TOO_DEEP  # what _prepare answers for it
    if measure:
        problem = wire.size_problem_as_sent(message, len(encoded), has_timestamp, timestamp)
        if problem is not None:
            return problem
    return segment_plain_record(
        message,
        kind,
        event_name,
        user_id,
        device_id,
        message_id or None,
        source,
        epoch_ms(when),
        encoded,
        shared,
    )


#: The classes of a batch's one-pass results when every message was plain.
_ALL_PLAIN: Final = frozenset({EventRecord})


def _envelope(body: Mapping[str, Any]) -> SharedContext | None:
    """The batch envelope's ``context`` and ``integrations``, merged into every message."""
    shared = {
        key: body[key] for key in ("context", "integrations") if isinstance(body.get(key), dict)
    }
    return SharedContext("segment_envelope", shared) if shared else None


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, wire.error_body(code, message))


class _Segment:
    def __init__(self, ingestion: Ingestion) -> None:
        self.ingestion = ingestion

    async def post(self, request: Request, *, kind: str | None) -> Response:
        flow = functools.partial(
            self.flow,
            kind=kind,
            authorization=request.headers.get("authorization", ""),
            content_type=_http.media_type(request),
        )
        return await handle(
            request,
            vendor="segment",
            limit=wire.MAX_BATCH_BYTES,
            flow=flow,
            too_large=lambda message: _error(
                400, "payload_too_large", f"Exceed payload limit: {message}"
            ),
            bad_body=lambda message: _error(400, "invalid_request", message),
            counters=self.ingestion.counters,
            body_timeout=self.ingestion.body_timeout,
        )

    def source(self, authorization: str, body: Mapping[str, Any]) -> str | Reply:
        """The source (from the Basic user, else ``writeKey`` in the body) or the error answer."""
        key = None
        if authorization:
            try:
                credentials = _http.basic_credentials(authorization)
            except ValueError as exc:
                return _error(401, "invalid_authorization", str(exc))
            if credentials is not None and credentials[0]:
                key = credentials[0]
        body_key = body.get("writeKey")
        if key is None and isinstance(body_key, str) and body_key:
            key = body_key
        if key is None:
            return _error(
                401,
                "missing_write_key",
                "no write key: send it as the HTTP Basic user name (base64 of 'KEY:') "
                "or as writeKey in the body",
            )
        source = self.ingestion.source(key)
        if source is None:
            return _error(401, "invalid_write_key", "unknown write key")
        return source

    def flow(self, raw: bytes, *, kind: str | None, authorization: str, content_type: str) -> Reply:
        if not _http.is_json(content_type):
            return _error(
                400,
                "invalid_content_type",
                f"Content-Type must be application/json; got {content_type or 'none'}",
            )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _error(400, "invalid_json", f"the body is not valid JSON: {exc}")
        if not isinstance(body, dict):
            return _error(400, "invalid_json", "the body must be a JSON object")
        source = self.source(authorization, body)
        if isinstance(source, Reply):
            return source
        if kind is None:
            return self.batch(body, source, len(raw))
        # The write key is a credential, not part of the message.
        message = {k: v for k, v in body.items() if k != "writeKey"}
        prepared = wire.check_message(message, kind) or _prepare(
            message,
            measure=len(raw) > wire.MAX_MESSAGE_BYTES,
            enrichment=wire.Enrichment(received_at=datetime.now(timezone.utc), sent_at=None),
        )
        if isinstance(prepared, wire.WireError):
            self.ingestion.counters.add("rejected", "segment", prepared.code)
            return _error(400, prepared.code, prepared.message)
        stored, encoded, client_ms = prepared
        result = self.ingestion.write(
            [segment_record_at(stored, kind, source, client_ms, payload_json=encoded)],
            request_bytes=len(raw),
        )
        return Reply(200, wire.SUCCESS_BODY, stored=result.stored)

    def batch(self, body: Mapping[str, Any], source: str, size: int) -> Reply:
        counters = self.ingestion.counters
        batch = body.get("batch")
        if not isinstance(batch, list):
            return _error(400, "invalid_batch", "batch must be an array of messages")
        if len(batch) > wire.MAX_BATCH_COUNT:
            # Segment's documented quirk: 200, and the events are dropped.
            counters.add("rejected", "segment", "too_many_messages", len(batch))
            text = (
                f"the batch has {len(batch)} messages; Segment accepts at most "
                f"{wire.MAX_BATCH_COUNT} per request and drops larger batches while "
                "answering 200: nothing was stored"
            )
            logger.warning("segment source %s: %s", source, text)
            return json_reply(
                200, {"success": True, "stored": 0, "dropped": len(batch), "message": text}
            )
        errors: list[dict[str, Any]] = []
        sent_at = body.get("sentAt")
        enrichment = wire.Enrichment(
            received_at=datetime.now(timezone.utc),
            sent_at=sent_at if isinstance(sent_at, str) else None,
        )
        shared = _envelope(body)
        measure = size > wire.MAX_MESSAGE_BYTES
        # Every message takes the one-pass path first (each on its own: a message it declines
        # is left untouched); when all of them are plain, as nearly always, that is the batch.
        plain_record = _plain_record
        plain = [plain_record(message, measure, enrichment, source, shared) for message in batch]
        if set(map(type, plain)) == _ALL_PLAIN:
            records = cast("list[EventRecord]", plain)
        else:
            records = self._general(batch, plain, enrichment, source, shared, errors, measure)
        result = self.ingestion.write(records, request_bytes=size)
        if not errors:
            return Reply(200, wire.SUCCESS_BODY, stored=result.stored)
        return json_reply(
            200,
            {
                "success": True,
                "stored": len(records),
                "rejected": len(errors),
                "errors": errors[:_MAX_LISTED_ERRORS],
            },
            stored=result.stored,
        )

    def _general(
        self,
        batch: list[Any],
        plain: list[EventRecord | wire.WireError | None],
        enrichment: wire.Enrichment,
        source: str,
        shared: SharedContext | None,
        errors: list[dict[str, Any]],
        measure: bool,
    ) -> list[EventRecord]:
        """The records of a batch some of whose messages the one-pass path did not take
        (``plain``, its answers): those take the general rules; problems go to ``errors``."""
        counters = self.ingestion.counters
        records: list[EventRecord] = []
        for index, message in enumerate(batch):
            prepared: tuple[dict[str, Any], bytes, int] | wire.WireError
            found = plain[index]
            if isinstance(found, EventRecord):
                records.append(found)
                continue
            if not isinstance(message, dict):
                prepared = wire.WireError("invalid_message", "a batch item must be a JSON object")
            elif found is not None:
                prepared = found
            else:
                problem = wire.check_message(message)
                prepared = problem or _prepare(message, measure=measure, enrichment=enrichment)
            if isinstance(prepared, wire.WireError):
                counters.add("rejected", "segment", prepared.code)
                errors.append({"index": index, "code": prepared.code, "message": prepared.message})
                continue
            stored, encoded, client_ms = prepared
            records.append(
                segment_record_at(
                    stored, stored["type"], source, client_ms, payload_json=encoded, context=shared
                )
            )
        return records
