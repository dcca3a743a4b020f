"""A record's texts as the events INSERT takes them: payload, groups, shared context and the
event-properties column, encoded once per record by every store (see
:mod:`trackwire.collector.store_ingest`, which re-exports these names)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson

from trackwire.collector._values import INT64
from trackwire.collector.query.mapping import properties_column
from trackwire.collector.store import EventRecord
from trackwire.collector.userprops import dumps, json_default
from trackwire.errors import ValidationError

__all__ = ["Encoded", "encode_record", "encode_records"]

#: A record as the events INSERT takes it: payload, groups, shared-context and event-properties
#: JSON text (see :func:`trackwire.collector.query.mapping.properties_column`).
Encoded = tuple[str, str | None, str | None, str | None]

#: The 64-bit range of :data:`INT64` as two bounds (a chained comparison is cheaper than ``in``).
_MIN: Final = INT64.start
_MAX: Final = INT64.stop - 1


def encode_record(index: int, record: EventRecord, contexts: dict[int, str]) -> Encoded:
    """The record's payload, groups and shared context as JSON text; refuses what cannot be
    stored. ``contexts`` caches each shared context's text by identity: it is encoded once,
    and records sharing it get the same string object (how :class:`Ingest` stores it once)."""
    if (record.group_type is None) != (record.group_value is None):
        raise ValidationError(
            f"records[{index}].group_value", "group_type and group_value go together"
        )
    # JSON integers are unbounded; the stores' are 64-bit and would fail mid-transaction.
    # (One test of the common case -- None, a float, or an int in range -- then the details.)
    client_time, session, revenue = record.client_time_ms, record.session_id, record.revenue
    if not (
        (client_time is None or (type(client_time) is int and _MIN <= client_time <= _MAX))
        and (session is None or (type(session) is int and _MIN <= session <= _MAX))
        and (
            revenue is None
            or type(revenue) is float
            or (type(revenue) is int and _MIN <= revenue <= _MAX)
        )
    ):
        for name, value in (
            ("client_time_ms", client_time),
            ("session_id", session),
            ("revenue", revenue),
        ):
            if isinstance(value, int) and value not in INT64:
                raise ValidationError(
                    f"records[{index}].{name}", f"{value} does not fit in 64 bits"
                )
    if record.payload_json is not None:
        # Text, not the bytes: every store keeps JSON as text (bytes would become a binary
        # column that the stores' JSON functions do not read as JSON text).
        payload = record.payload_json.decode()
    else:
        try:
            payload = dumps(record.payload)
        except orjson.JSONEncodeError as exc:
            raise ValidationError(
                f"records[{index}].payload", f"cannot be stored as JSON: {exc}"
            ) from exc
    try:
        groups = None if record.groups is None else dumps(record.groups)
    except orjson.JSONEncodeError as exc:
        raise ValidationError(
            f"records[{index}].groups", f"cannot be stored as JSON: {exc}"
        ) from exc
    context = record.context
    shared = None
    if context is not None:
        shared = contexts.get(id(context))
        if shared is None:
            try:
                shared = contexts[id(context)] = dumps(context.data)
            except orjson.JSONEncodeError as exc:
                raise ValidationError(
                    f"records[{index}].context", f"cannot be stored as JSON: {exc}"
                ) from exc
    return payload, groups, shared, properties_column(record.vendor, record.payload)


def encode_records(records: Sequence[EventRecord], contexts: dict[int, str]) -> list[Encoded]:
    """Every record's :func:`encode_record` in one loop: the same texts, and the same error
    for the first record that cannot be stored (such a record, or one with groups or a number
    out of range, takes :func:`encode_record` itself)."""
    encoded: list[Encoded] = []
    append = encoded.append
    column = properties_column
    encode = orjson.dumps
    for index, record in enumerate(records):
        client_time, session, revenue = record.client_time_ms, record.session_id, record.revenue
        # encode_record's number checks: Amplitude's events nearly all carry a session id.
        if not (
            record.group_type is None
            and record.group_value is None
            and record.groups is None
            and (client_time is None or (type(client_time) is int and _MIN <= client_time <= _MAX))
            and (session is None or (type(session) is int and _MIN <= session <= _MAX))
            and (
                revenue is None
                or type(revenue) is float
                or (type(revenue) is int and _MIN <= revenue <= _MAX)
            )
        ):
            append(encode_record(index, record, contexts))
            continue
        payload = record.payload_json
        context = record.context
        try:
            text = (
                encode(record.payload, default=json_default) if payload is None else payload
            ).decode()
            shared = None
            if context is not None:
                shared = contexts.get(id(context))
                if shared is None:
                    shared = contexts[id(context)] = encode(
                        context.data, default=json_default
                    ).decode()
        except orjson.JSONEncodeError:
            append(encode_record(index, record, contexts))  # raises the field's error
            continue
        append((text, None, shared, column(record.vendor, record.payload)))
    return encoded
