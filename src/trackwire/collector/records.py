"""From a vendor's accepted message to the store's records.

The HTTP handlers decide whether a request is acceptable (with each vendor's ``wire`` rules);
this module decides what an accepted message *means* for the store: its type, event name, user
and device ids, client time, de-duplication key, user-property operations, groups and revenue.
Keeping that mapping in plain functions, away from HTTP, lets it be tested message by message
and lets the benchmark measure it without a server.

The mapping per vendor:

- **Segment**: ``type`` is the call (``track``, ``identify``, ...); the event name is ``event``
  for track and ``name`` for page and screen; ``userId``/``anonymousId`` are the user and
  device; ``timestamp`` is the client time; ``messageId`` de-duplicates. Identify traits are a
  ``$set`` on the user; group traits are a ``$set`` on the group ``("group", groupId)``.
- **Amplitude**: ``type`` is ``event``, ``identify`` (``$identify``) or ``groupidentify``
  (``$groupidentify``); the event name is ``event_type``; ``insert_id`` de-duplicates;
  ``user_properties`` become operations (unless ``$skip_user_properties_sync``); a
  ``$groupidentify`` applies ``group_properties`` to every group its ``groups`` lists.
- **mParticle**: one record per event, ``type`` = ``event_type``; a batch without events is one
  ``batch`` record, so its user attributes and identities are still kept. ``user_attributes``
  are a ``$set`` on the user, applied once per batch (by its first stored record).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Final

from trackwire.amplitude import properties as amplitude_properties
from trackwire.amplitude import wire as amplitude_wire
from trackwire.collector._values import is_int, is_number
from trackwire.collector.store import EventRecord, SharedContext
from trackwire.collector.userprops import UserOp
from trackwire.mparticle import wire as mparticle_wire
from trackwire.segment.wire import parse_timestamp

__all__ = [
    "SEGMENT_GROUP_TYPE",
    "amplitude_event_record",
    "amplitude_group_identify_record",
    "amplitude_identify_record",
    "epoch_ms",
    "mparticle_records",
    "segment_plain_record",
    "segment_record",
    "segment_record_at",
]

#: The group type Segment ``group`` calls are stored under (Segment has no group types).
SEGMENT_GROUP_TYPE: Final = "group"

_NAMED: Final = frozenset({"page", "screen"})
_AMPLITUDE_KINDS: Final = {"$identify": "identify", "$groupidentify": "groupidentify"}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_ms(when: datetime) -> int:
    """Epoch milliseconds of ``when``, exactly (no float rounding); naive means UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    # A timedelta is normalised (0 <= seconds < 86400, 0 <= microseconds < 10**6): only the
    # microseconds need flooring. A fifth cheaper than dividing by a timedelta.
    delta = when - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _text(value: Any) -> str | None:
    """An id as text: strings as they are, numbers as their JSON text, anything else None."""
    if isinstance(value, str):
        return value or None
    return str(value) if is_number(value) else None


def _number(value: Any) -> float | None:
    # Decoded JSON holds exact floats and ints: those skip is_number's two isinstance calls.
    if value is None:
        return None
    kind = type(value)
    if kind is float:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return float(value)
    return float(value) if is_number(value) else None


def _mapping(value: Any) -> bool:
    """``isinstance(value, Mapping)``, with decoded JSON's plain dict checked first (the ABC's
    check costs ten times more)."""
    return type(value) is dict or isinstance(value, Mapping)


def _set(properties: Any) -> tuple[UserOp, ...]:
    return (("$set", properties),) if isinstance(properties, dict) and properties else ()


# --- Segment -----------------------------------------------------------------------------------


def segment_record(
    message: Mapping[str, Any],
    kind: str,
    source: str,
    *,
    payload_json: bytes | None = None,
    context: SharedContext | None = None,
) -> EventRecord:
    """The record for one Segment message that passed ``check_message``.

    ``messageId`` is unique across every Segment source (Segment's de-duplication "is not
    scoped to a source or workspace"). An alias links ``previousId`` to ``userId``.

    Args:
        message: the message as stored (camelCase keys; enriched, see :func:`segment_enrich`).
        kind: its type (from the route, or the message's ``type`` inside a batch).
        source: the source it is stored under.
        payload_json: ``message`` encoded as compact JSON, when the caller already has it.
        context: the batch envelope's ``context``/``integrations``, shared by its messages.
    """
    timestamp = message.get("timestamp")
    client_ms = None
    if isinstance(timestamp, str):
        parsed = parse_timestamp(timestamp)
        if parsed is not None:
            client_ms = epoch_ms(parsed)
    return segment_record_at(
        message, kind, source, client_ms, payload_json=payload_json, context=context
    )


def segment_plain_record(
    message: Mapping[str, Any],
    kind: str,
    name: str | None,
    user_id: str | None,
    device_id: str | None,
    message_id: str | None,
    source: str,
    client_ms: int,
    payload_json: bytes,
    context: SharedContext | None,
) -> EventRecord:
    """:func:`segment_record_at` for a ``track``, ``page``, ``screen`` or ``identify`` message
    whose fields the caller has read and found plain: ``name`` (its ``event``, or ``name``; None
    for identify), ``user_id``, ``device_id`` and ``message_id`` are each None or a non-empty
    string, and ``properties`` and ``traits`` None or a dict (the Segment route's one pass)."""
    properties = message.get("properties")
    revenue = properties.get("revenue") if type(properties) is dict else None
    return EventRecord(
        "segment",
        source,
        kind,
        name,
        user_id,
        device_id,
        client_ms,
        message_id,
        message,
        _set(message.get("traits")) if kind == "identify" else (),
        None,
        None,
        None,
        None,
        None if revenue is None else _number(revenue),
        payload_json,
        context,
        "*",
        (),
        False,
        None,
    )


def segment_record_at(
    message: Mapping[str, Any],
    kind: str,
    source: str,
    client_ms: int | None,
    *,
    payload_json: bytes | None = None,
    context: SharedContext | None = None,
) -> EventRecord:
    """:func:`segment_record` for a caller that already knows the event's time: ``client_ms``
    must be the epoch milliseconds of the message's ``timestamp`` (None when it has none), as
    :meth:`trackwire.segment.wire.Enrichment.stamp` gives it, so the text is not parsed again.
    """
    # Runs once per stored Segment event (the collector's hot path): keep it to lookups, and
    # build the record positionally (keywords cost a third of the call here).
    get = message.get
    name = get("event") if kind == "track" else get("name") if kind in _NAMED else None
    message_id = get("messageId")
    user_ops: tuple[UserOp, ...] = ()
    group_type = group_value = None
    if kind == "identify":
        user_ops = _set(get("traits"))
    elif kind == "group":
        group_value = _text(get("groupId"))
        group_type = SEGMENT_GROUP_TYPE if group_value is not None else None
        user_ops = _set(get("traits"))
    properties = get("properties")
    revenue = _number(properties.get("revenue")) if type(properties) is dict else None
    user_id = get("userId")
    device_id = get("anonymousId")
    return EventRecord(
        "segment",
        source,
        kind,
        name if isinstance(name, str) and name else None,
        # Ids are nearly always non-empty strings; _text handles the rest.
        user_id if type(user_id) is str and user_id else _text(user_id),
        device_id if type(device_id) is str and device_id else _text(device_id),
        client_ms,
        message_id if isinstance(message_id, str) and message_id else None,
        message,
        user_ops,
        group_type,
        group_value,
        None,
        None,
        revenue,
        payload_json,
        context,
        "*",
        (),
        False,
        _text(get("previousId")) if kind == "alias" else None,
    )


# --- Amplitude ---------------------------------------------------------------------------------


def _amplitude_revenue(event: Mapping[str, Any]) -> float | None:
    """Revenue as Amplitude computes it: ``revenue``, else ``price × quantity``.

    The Python SDK's ``revenue()`` puts the same fields, ``$``-prefixed, in event_properties.
    """
    # Most events carry neither: two lookups each decide that without a call.
    get = event.get
    if get("revenue") is not None or get("price") is not None:
        found = _revenue_of(event, _REVENUE_FIELDS)
        if found is not None:
            return found
    properties = get("event_properties")
    if properties is None or not _mapping(properties):
        return None
    if properties.get("$revenue") is None and properties.get("$price") is None:
        return None
    return _revenue_of(properties, _SDK_REVENUE_FIELDS)


_REVENUE_FIELDS: Final = ("revenue", "price", "quantity")
_SDK_REVENUE_FIELDS: Final = ("$revenue", "$price", "$quantity")


def _revenue_of(props: Mapping[str, Any], fields: tuple[str, str, str]) -> float | None:
    revenue_key, price_key, quantity_key = fields
    revenue = _number(props.get(revenue_key))
    if revenue is not None:
        return revenue
    price = _number(props.get(price_key))
    if price is not None:
        quantity = _number(props.get(quantity_key))
        return price * (1.0 if quantity is None else quantity)
    return None


def _listed_groups(groups: Any) -> list[tuple[str, str]]:
    """Every ``(group_type, group_value)`` of a ``groups`` object, in order.

    A type may list several values. Amplitude ignores types past :data:`MAX_GROUP_TYPES` and
    values past :data:`MAX_GROUP_VALUES` per type, so those are left out too.
    """
    if not isinstance(groups, Mapping):
        return []
    found: list[tuple[str, str]] = []
    for group_type, value in list(groups.items())[: amplitude_wire.MAX_GROUP_TYPES]:
        values = value if isinstance(value, list) else [value]
        for item in values[: amplitude_wire.MAX_GROUP_VALUES]:
            if isinstance(item, str) and item:
                found.append((str(group_type), item))
    return found


def amplitude_event_record(
    event: Mapping[str, Any], source: str, endpoint: str = "httpapi"
) -> EventRecord:
    """The record for one ``/2/httpapi`` or ``/batch`` event that passed ``check_upload``.

    ``insert_id`` de-duplicates as each endpoint documents it: on HTTP V2 per app and per
    ``device_id`` when the event has one (two devices may send the same ``insert_id``), on the
    Batch API against any ``insert_id`` of the app. (The documents do not say whether the two
    endpoints see each other's ids; an SDK retries on the endpoint it used, so they are kept
    apart: a Batch event is checked against events without a device scope only.)

    ``$identify`` events carry their ``user_properties`` operations; ``$groupidentify`` events
    apply ``group_properties`` to every group they list (several types, and several values of
    one type; the official SDKs send one, hand-written requests may send more);
    ordinary events apply plain ``user_properties`` as Amplitude does, unless
    ``$skip_user_properties_sync`` is true.
    """
    # Runs once per stored Amplitude event (the collector's hot path): lookups, exact-type
    # checks before the general ones, and the record built positionally.
    get = event.get
    event_type = event["event_type"]
    kind = _AMPLITUDE_KINDS.get(event_type, "event")
    user_ops: Sequence[UserOp] = ()
    targets: Sequence[tuple[str, str]] = ()
    if kind == "groupidentify":
        targets = _listed_groups(get("groups"))
        group_properties = get("group_properties")
        if targets and isinstance(group_properties, Mapping):
            user_ops = amplitude_properties.parse_group_properties(group_properties)
    else:
        user_properties = get("user_properties")
        if (
            user_properties is not None
            and _mapping(user_properties)
            and get("$skip_user_properties_sync") is not True
        ):
            user_ops = amplitude_properties.parse_user_properties(user_properties)
    time_ms = get("time")
    session = get("session_id")
    groups = get("groups")
    insert_id = get("insert_id")
    user_id = get("user_id")
    device_id = get("device_id")
    # Ids are nearly always non-empty strings; _text handles the rest.
    device_id = device_id if type(device_id) is str and device_id else _text(device_id)
    revenue = _amplitude_revenue(event)
    return EventRecord(
        "amplitude",
        source,
        kind,
        event_type,
        user_id if type(user_id) is str and user_id else _text(user_id),
        device_id,
        time_ms if type(time_ms) is int or is_int(time_ms) else None,
        insert_id if isinstance(insert_id, str) and insert_id else None,
        event,
        tuple(user_ops),
        targets[0][0] if targets else None,
        targets[0][1] if targets else None,
        groups if groups and _mapping(groups) else None,
        # -1 is Amplitude's "no session".
        session
        if session is not None and (type(session) is int or is_int(session)) and session >= 0
        else None,
        revenue,
        None,
        None,
        f"device:{device_id}" if endpoint == "httpapi" and device_id else None,
        tuple(targets[1:]) if targets else (),
    )


def amplitude_identify_record(identification: Mapping[str, Any], source: str) -> EventRecord:
    """The record for one identification of a ``POST /identify`` form that passed its check."""
    user_properties = identification.get("user_properties")
    ops = (
        amplitude_properties.parse_user_properties(user_properties)
        if isinstance(user_properties, Mapping)
        else []
    )
    groups = identification.get("groups")
    return EventRecord(
        vendor="amplitude",
        source=source,
        type="identify",
        event_name="$identify",
        user_id=_text(identification.get("user_id")),
        device_id=_text(identification.get("device_id")),
        client_time_ms=None,
        dedup_key=None,
        payload=identification,
        user_ops=tuple(ops),
        groups=groups if isinstance(groups, Mapping) and groups else None,
    )


def amplitude_group_identify_record(identification: Mapping[str, Any], source: str) -> EventRecord:
    """The record for one identification of a ``POST /groupidentify`` form that passed its check."""
    group_properties = identification.get("group_properties")
    ops = (
        amplitude_properties.parse_group_properties(group_properties)
        if isinstance(group_properties, Mapping)
        else []
    )
    return EventRecord(
        vendor="amplitude",
        source=source,
        type="groupidentify",
        event_name="$groupidentify",
        user_id=None,
        device_id=None,
        client_time_ms=None,
        dedup_key=None,
        payload=identification,
        user_ops=tuple(ops),
        group_type=str(identification["group_type"]),
        group_value=str(identification["group_value"]),
    )


# --- mParticle ---------------------------------------------------------------------------------


def _mparticle_ids(batch: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(user id, device id): ``customer_id`` (else the mParticle id), and ``mp_deviceid``
    (else the device's application stamp)."""
    user_id = mparticle_wire.identities(batch).get("customer_id") or _text(batch.get("mpid"))
    device_id = _text(batch.get("mp_deviceid"))
    device = batch.get("device_info")
    if device_id is None and device is not None and _mapping(device):
        device_id = _text(device.get("device_application_stamp"))
    return user_id, device_id


def _mparticle_user_ops(batch: Mapping[str, Any]) -> tuple[UserOp, ...]:
    ops = list(_set(batch.get("user_attributes")))
    deleted = batch.get("deleted_user_attributes")
    if isinstance(deleted, list) and deleted:
        ops.append(("$unset", {str(name): "-" for name in deleted}))
    return tuple(ops)


def _mparticle_revenue(event: Mapping[str, Any]) -> float | None:
    data = event.get("data")
    action = data.get("product_action") if isinstance(data, Mapping) else None
    if event.get("event_type") != "commerce_event" or not isinstance(action, Mapping):
        return None
    if action.get("action") not in ("purchase", "refund"):
        return None
    total = _number(action.get("total_amount"))
    if total is not None and action.get("action") == "refund":
        total = -abs(total)
    return total


def mparticle_records(
    batch: Mapping[str, Any], source: str, *, historical: bool = False
) -> list[EventRecord]:
    """The records for one mParticle batch that passed ``check_batch``.

    Each event becomes one record whose full payload is the batch with that event alone in
    ``events``, so every record keeps its batch's identities, device and consent; the batch's
    part is a :class:`SharedContext`, stored once. A batch without events becomes one
    ``batch`` record, so its user attributes are still kept. The batch's ``user_attributes``
    (a ``$set``) and ``deleted_user_attributes`` (an ``$unset``) ride on each of its records
    and are applied once, by the first one stored. An event without ``source_message_id`` is
    de-duplicated by the batch's ``source_request_id`` and its position, so a retried bulk
    request stores nothing twice. On the historical endpoint the payload's
    ``source_info.is_historical`` is set, as mParticle does.
    """
    context = {key: value for key, value in batch.items() if key != "events"}
    if historical:
        info = context.get("source_info")
        context["source_info"] = {
            **(info if isinstance(info, Mapping) else {}),
            "is_historical": True,
        }
    user_id, device_id = _mparticle_ids(batch)
    request_id = mparticle_wire.request_id(batch)
    user_ops = _mparticle_user_ops(batch)
    events = batch.get("events") or []
    if not events:
        return [
            EventRecord(
                vendor="mparticle",
                source=source,
                type="batch",
                event_name=None,
                user_id=user_id,
                device_id=device_id,
                client_time_ms=None,
                dedup_key=None if request_id is None else f"request:{request_id}:batch",
                payload=context,
                user_ops=user_ops,
            )
        ]
    # The batch's context is stored once for all its events (see SharedContext).
    shared = SharedContext("mparticle_batch", context)
    records = []
    for index, event in enumerate(events):
        data = event.get("data")
        if type(data) is not dict:
            records.append(
                _mparticle_record(
                    event, source, user_id, device_id, request_id, index, user_ops, shared
                )
            )
            continue
        # Runs once per stored mParticle event (the collector's hot path): the event's data
        # is looked up once, read by mparticle_wire's data_* rules, and the record built
        # positionally.
        key = mparticle_wire.data_dedup_key(data)
        if key is None and request_id is not None:
            key = f"request:{request_id}:{index}"
        event_type = event["event_type"]
        type_text = event_type if type(event_type) is str else str(event_type)
        name = mparticle_wire.data_event_name(event_type, data)
        session = data.get("session_id")
        record = EventRecord(
            "mparticle",
            source,
            type_text,
            name or type_text,
            user_id,
            device_id,
            mparticle_wire.data_time_ms(data),
            key,
            event,
            # Every record carries the batch's changes, applied once by the first of them
            # stored: a batch whose first event is a duplicate still applies them.
            user_ops,
            None,
            None,
            None,
            session if session is not None and (type(session) is int or is_int(session)) else None,
            _mparticle_revenue(event) if event_type == "commerce_event" else None,
            None,
            shared,
            None,
            (),
            True,
        )
        records.append(record)
    return records


def _mparticle_record(
    event: Mapping[str, Any],
    source: str,
    user_id: str | None,
    device_id: str | None,
    request_id: str | None,
    index: int,
    user_ops: tuple[UserOp, ...],
    shared: SharedContext,
) -> EventRecord:
    """One event's record by the general rules (an event whose ``data`` is no plain dict)."""
    key = mparticle_wire.dedup_key(event)
    if key is None and request_id is not None:
        key = f"request:{request_id}:{index}"
    data = event.get("data")
    session = data.get("session_id") if isinstance(data, Mapping) else None
    return EventRecord(
        vendor="mparticle",
        source=source,
        type=str(event["event_type"]),
        event_name=mparticle_wire.event_name(event) or str(event["event_type"]),
        user_id=user_id,
        device_id=device_id,
        client_time_ms=mparticle_wire.event_time_ms(event),
        dedup_key=key,
        payload=event,
        context=shared,
        user_ops=user_ops,
        ops_once=True,
        session_id=session if is_int(session) else None,
        revenue=_mparticle_revenue(event),
    )
