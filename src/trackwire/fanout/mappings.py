"""The documented mappings from a Segment-spec message to each vendor's own shape.

Each default mapping is a pure function of the Segment message (see :mod:`.spec`) returning
the vendor's payload, or None when the vendor has no equivalent of the call:

========  ================================  ==========================================
call      Amplitude (HTTP V2 event dicts)   mParticle (one batch dict)
========  ================================  ==========================================
track     ``event_type`` = event,           a ``custom_event``: ``event_name`` = event,
          ``event_properties`` =            ``custom_event_type`` = ``other``,
          properties (and ``revenue``,      ``custom_attributes`` = properties
          ``price``, ``quantity``,
          ``productId``, ``revenueType``
          when they are there)
identify  ``$identify`` with                a batch without events: ``user_attributes``
          ``user_properties``               = traits; the ``email`` trait is also the
          ``{"$set": traits}``              ``email`` identity
page      ``Viewed <name> Page``            a ``screen_view``: ``screen_name`` = name
          (unnamed: ``Loaded a Page``)      (unnamed: ``Loaded a Page``)
screen    ``Viewed <name> Screen``          a ``screen_view`` (unnamed: ``Loaded a
          (unnamed: ``Loaded a Screen``)    Screen``)
group     ``$identify`` setting ``groups``  user attribute ``<group_type>`` = groupId
          ``{<group_type>: groupId}`` and   (mParticle has no groups; group traits are
          the user property, then           not sent)
          ``$groupidentify`` with
          ``group_properties``
          ``{"$set": traits}``
alias     not sent: Amplitude's HTTP V2     a ``user_identity_change`` event: old
          API has no alias (its user-       identity ``other`` = previousId, new
          mapping API is a separate         identity ``customer_id`` = userId
          product); skipped as
          ``no_mapping``
========  ================================  ==========================================

Shared fields. Amplitude: ``user_id`` = userId, ``device_id`` = anonymousId, ``time`` = the
timestamp in ms, ``insert_id`` = messageId (``<messageId>:group`` for the group identify), and
from ``context``: ``ip``, ``userAgent`` -> ``user_agent``, ``locale`` -> ``language``,
``os.name``/``os.version``, ``device.model``/``device.manufacturer``, ``app.version``,
``location.country``/``city``/``region``, ``network.carrier``. mParticle: identities
``customer_id`` = userId and ``other`` = anonymousId, ``source_request_id`` and each event's
``source_message_id`` = messageId, ``timestamp_unixtime_ms``, batch ``ip`` = ``context.ip``,
``device_info.http_header_user_agent`` = ``context.userAgent``, ``device_info.locale_country``
= ``context.location.country``. mParticle attribute values are strings (or lists of them) for
user attributes and scalars for event attributes: anything else is sent as its JSON text.
Segment gets the message itself.

Tables. A table overrides a mapping without code: ``{"event": {"Order Completed": "Purchase",
"Debug Ping": None}, "properties": {"revenue": "amount"}, "traits": {...}}`` renames the event
(or page/screen name), property keys and trait keys before the default mapping runs; an event
renamed to None is not sent to that destination (skipped as ``filtered``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from trackwire.errors import ConfigError
from trackwire.fanout.spec import CALL_TYPES, timestamp_ms

__all__ = [
    "DESTINATIONS",
    "TABLE_KEYS",
    "Mapper",
    "amplitude_events",
    "apply_table",
    "check_table",
    "default_mapper",
    "mparticle_batch",
    "segment_message",
]

#: A mapping: the Segment message in, the destination's payload (or a list of them) out;
#: None means "do not send this call there".
Mapper = Callable[[dict[str, Any]], Any]

#: The destinations a FanOut knows, with the name Segment's ``integrations`` object uses.
DESTINATIONS: Final[Mapping[str, str]] = {
    "segment": "Segment",
    "amplitude": "Amplitude",
    "mparticle": "mParticle",
}
#: What a table may rename.
TABLE_KEYS: Final = ("event", "properties", "traits")

# Segment context path -> Amplitude event field (string values only).
_AMPLITUDE_CONTEXT: Final = (
    (("ip",), "ip"),
    (("userAgent",), "user_agent"),
    (("locale",), "language"),
    (("os", "name"), "os_name"),
    (("os", "version"), "os_version"),
    (("device", "model"), "device_model"),
    (("device", "manufacturer"), "device_manufacturer"),
    (("app", "version"), "app_version"),
    (("location", "country"), "country"),
    (("location", "city"), "city"),
    (("location", "region"), "region"),
    (("network", "carrier"), "carrier"),
)
# Segment's e-commerce properties Amplitude reads as revenue fields, with their JSON types.
_REVENUE_FIELDS: Final = (
    ("revenue", "revenue", (int, float)),
    ("price", "price", (int, float)),
    ("quantity", "quantity", (int,)),
    ("productId", "productId", (str,)),
    ("product_id", "productId", (str,)),
    ("revenueType", "revenueType", (str,)),
)


def _context_value(context: Mapping[str, Any], path: tuple[str, ...]) -> str | None:
    value: Any = context
    for part in path:
        value = value.get(part) if type(value) is dict or isinstance(value, Mapping) else None
    return value if type(value) is str and value else None


def _view_name(message: Mapping[str, Any]) -> str:
    kind = "Page" if message["type"] == "page" else "Screen"
    name = message.get("name")
    return f"Viewed {name} {kind}" if name else f"Loaded a {kind}"


def amplitude_events(
    message: dict[str, Any], group_type: str = "group"
) -> list[dict[str, Any]] | None:
    """The Amplitude HTTP V2 events of a Segment message (see the module's table).

    Args:
        message: a Segment message as :class:`~trackwire.fanout.FanOut` builds it.
        group_type: the Amplitude group type a ``group`` call's groupId belongs to.

    Returns:
        The events, or None for a call Amplitude has no equivalent of (``alias``).
    """
    kind = message["type"]
    base: dict[str, Any] = {"time": timestamp_ms(message["timestamp"])}
    if message.get("userId") is not None:
        base["user_id"] = message["userId"]
    if message.get("anonymousId") is not None:
        base["device_id"] = message["anonymousId"]
    context = message.get("context")
    if context:  # most server-side calls carry none: skip the twelve lookups
        for path, field in _AMPLITUDE_CONTEXT:
            value = _context_value(context, path)
            if value is not None:
                base[field] = value
    message_id = message["messageId"]
    if kind == "track":
        event = {**base, "event_type": message["event"], "insert_id": message_id}
        properties = message.get("properties") or {}
        event["event_properties"] = dict(properties)
        for source, target, types in _REVENUE_FIELDS:
            value = properties.get(source)
            if isinstance(value, types) and not isinstance(value, bool):
                event[target] = float(value) if target in ("revenue", "price") else value
        return [event]
    if kind in ("page", "screen"):
        event = {**base, "event_type": _view_name(message), "insert_id": message_id}
        event["event_properties"] = dict(message.get("properties") or {})
        return [event]
    if kind == "identify":
        traits = message.get("traits") or {}
        return [{**base, "event_type": "$identify", "insert_id": message_id,
                 "user_properties": {"$set": dict(traits)}}]  # fmt: skip
    if kind == "group":
        groups = {group_type: message["groupId"]}
        events = [{**base, "event_type": "$identify", "insert_id": message_id, "groups": groups,
                   "user_properties": {"$set": dict(groups)}}]  # fmt: skip
        traits = message.get("traits") or {}
        if traits:
            # A group identify is about the group, not a user: no user or device id.
            events.append({"event_type": "$groupidentify", "time": base["time"],
                           "insert_id": f"{message_id}:group", "groups": groups,
                           "group_properties": {"$set": dict(traits)}})  # fmt: skip
        return events
    return None  # alias


def _user_attribute(value: Any) -> str | list[str]:
    """mParticle user attributes are strings or lists of strings: anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return [item if isinstance(item, str) else orjson.dumps(item).decode() for item in value]
    return orjson.dumps(value).decode()


def _event_attribute(value: Any) -> Any:
    """mParticle event attributes are scalars: objects and lists as their JSON text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return orjson.dumps(value).decode()


def mparticle_batch(message: dict[str, Any], group_type: str = "group") -> dict[str, Any] | None:
    """The mParticle batch of a Segment message (see the module's table).

    The batch names no ``environment``: the mParticle client's own is used (``production``
    when the client has none).

    Args:
        message: a Segment message as :class:`~trackwire.fanout.FanOut` builds it.
        group_type: the user attribute a ``group`` call's groupId is stored under.
    """
    kind = message["type"]
    identities: dict[str, str] = {}
    if message.get("userId") is not None:
        identities["customer_id"] = message["userId"]
    if message.get("anonymousId") is not None:
        identities["other"] = message["anonymousId"]
    message_id = message["messageId"]
    when = timestamp_ms(message["timestamp"])
    batch: dict[str, Any] = {"source_request_id": message_id, "user_identities": identities}
    context = message.get("context") or {}
    ip = _context_value(context, ("ip",))
    if ip is not None:
        batch["ip"] = ip
    device: dict[str, str] = {}
    agent = _context_value(context, ("userAgent",))
    if agent is not None:
        device["http_header_user_agent"] = agent
    country = _context_value(context, ("location", "country"))
    if country is not None:
        device["locale_country"] = country
    if device:
        batch["device_info"] = device
    common = {"timestamp_unixtime_ms": when, "source_message_id": message_id}
    if kind == "track":
        attributes = {k: _event_attribute(v) for k, v in (message.get("properties") or {}).items()}
        data = {"event_name": message["event"], "custom_event_type": "other",
                "custom_attributes": attributes, **common}  # fmt: skip
        batch["events"] = [{"event_type": "custom_event", "data": data}]
    elif kind in ("page", "screen"):
        attributes = {k: _event_attribute(v) for k, v in (message.get("properties") or {}).items()}
        name = message.get("name") or _view_name(message)
        data = {"screen_name": name, "custom_attributes": attributes, **common}
        batch["events"] = [{"event_type": "screen_view", "data": data}]
    elif kind == "identify":
        traits = message.get("traits") or {}
        batch["user_attributes"] = {k: _user_attribute(v) for k, v in traits.items()}
        email = traits.get("email")
        if isinstance(email, str) and email:
            identities["email"] = email
    elif kind == "group":
        batch["user_attributes"] = {group_type: message["groupId"]}
    elif kind == "alias":
        old = {"identity_type": "other", "identity": message["previousId"],
               "timestamp_unixtime_ms": when}  # fmt: skip
        new = {"identity_type": "customer_id", "identity": message["userId"],
               "timestamp_unixtime_ms": when}  # fmt: skip
        data = {"old": old, "new": new, **common}
        batch["events"] = [{"event_type": "user_identity_change", "data": data}]
    return batch


def segment_message(message: dict[str, Any]) -> dict[str, Any]:
    """Segment's own mapping: the message itself."""
    return message


def default_mapper(destination: str, group_type: str) -> Mapper:
    """The documented mapping of ``destination`` (``segment``, ``amplitude``, ``mparticle``)."""
    if destination == "amplitude":
        return lambda message: amplitude_events(message, group_type)
    if destination == "mparticle":
        return lambda message: mparticle_batch(message, group_type)
    return segment_message


def check_table(destination: str, kind: str, table: Mapping[str, Any]) -> None:
    """Refuse a table that would silently do nothing.

    Raises:
        ConfigError: an unknown key, or a rename table that is not a dict of str.
    """
    where = f"mappings[{destination!r}][{kind!r}]"
    for key, renames in table.items():
        if key not in TABLE_KEYS:
            raise ConfigError(f"{where}: unknown table key {key!r}; use {', '.join(TABLE_KEYS)}")
        if not isinstance(renames, Mapping) or not all(
            isinstance(old, str) and (new is None or isinstance(new, str))
            for old, new in renames.items()
        ):
            raise ConfigError(f"{where}[{key!r}] must map names (str) to new names (str or None)")
        if None in renames.values() and key != "event":
            raise ConfigError(f"{where}[{key!r}]: only event names may map to None (not sent)")


def apply_table(message: dict[str, Any], table: Mapping[str, Mapping[str, str | None]]) -> bool:
    """Rename what ``table`` says in ``message`` (a copy the caller owns).

    Returns:
        False when the table maps this event (or page/screen name) to None: not sent.
    """
    events = table.get("event")
    if events:
        field = "event" if message["type"] == "track" else "name"
        current = message.get(field)
        if isinstance(current, str) and current in events:
            renamed = events[current]
            if renamed is None:
                return False
            message[field] = renamed
    for key, field in (("properties", "properties"), ("traits", "traits")):
        renames = table.get(key)
        values = message.get(field)
        if renames and isinstance(values, dict):
            message[field] = {renames.get(name) or name: value for name, value in values.items()}
    return True


def known_call(kind: str) -> bool:
    """Whether ``kind`` is a Segment spec call."""
    return kind in CALL_TYPES
