"""One documented mapping from every vendor's stored message to Amplitude's vocabulary.

Queries cover every event of a source (a keys-file source name, or the key itself in
development mode), whichever vendor API it arrived through:

- **Event type.** Amplitude: ``event_type``. Segment: a ``track`` call's ``event``; ``page``
  is ``Viewed <name> Page`` (unnamed: ``Loaded a Page``), ``screen`` is ``Viewed <name>
  Screen`` (unnamed: ``Loaded a Screen``), ``identify`` is ``$identify``, ``group`` is
  ``$groupidentify``, ``alias`` is ``$alias``. mParticle: a custom event's name (other events:
  their name, else their event type, like ``session_start``); ``screen_view`` is ``Viewed
  <screen name> Screen``; a batch without events is ``$identify``.
- **Event properties.** Amplitude ``event_properties``, Segment ``properties``, mParticle the
  event's ``data.custom_attributes``.
- **User properties.** The user's state as the store keeps it: Amplitude ``user_properties``
  operations, Segment ``identify`` traits, mParticle ``user_attributes``. Custom ones are
  named ``gp:<name>`` (or just ``<name>``).
- **Built-in properties** (``country``, ``city``, ``region``, ``language``, ``platform``,
  ``os``, ``device``, ``device_type``, ``version``, ``carrier``, ``library``, ``DMA``) are read
  from each event: Amplitude's top-level fields, Segment's ``context``, mParticle's
  ``device_info`` / ``application_info`` (see :data:`BUILT_IN_PROPERTIES`).

Identify, group and alias calls (and mParticle batches without events) are not *active*
events: ``_active`` leaves them out, ``_all`` counts them. User properties are the user's
state now (Amplitude uses the state at event time); built-in properties (``country``,
``platform``, ``os``, ...) are read from each event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

__all__ = [
    "BUILT_IN_PROPERTIES",
    "INACTIVE_TYPES",
    "PROPERTIES_COLUMN_MAX",
    "EventMatch",
    "column_property_path",
    "event_property_paths",
    "event_type_of",
    "matches_for",
    "properties_column",
    "user_property_key",
]

#: Stored message types that are not active events, per vendor.
INACTIVE_TYPES: Final[Mapping[str, frozenset[str]]] = {
    "amplitude": frozenset({"identify", "groupidentify"}),
    "segment": frozenset({"identify", "group", "alias"}),
    "mparticle": frozenset({"batch"}),
}

_SEGMENT_SPECIAL: Final = {"identify": "$identify", "group": "$groupidentify", "alias": "$alias"}
_VIEWED: Final = re.compile(r"^Viewed (.+) (Page|Screen)$")


def event_type_of(vendor: str, type: str, event_name: str | None) -> str:
    """The Amplitude event type of a stored message."""
    if vendor == "segment":
        if type in _SEGMENT_SPECIAL:
            return _SEGMENT_SPECIAL[type]
        if type in ("page", "screen"):
            kind = "Page" if type == "page" else "Screen"
            return f"Viewed {event_name} {kind}" if event_name else f"Loaded a {kind}"
        return event_name or type
    if vendor == "mparticle":
        if type == "screen_view":
            return f"Viewed {event_name} Screen" if event_name else "Loaded a Screen"
        if type == "batch":
            return "$identify"
        return event_name or type
    return event_name or type


@dataclass(frozen=True, slots=True)
class EventMatch:
    """Stored rows of one event type: ``event_name`` equal (or NULL when None) and ``type``
    among ``types`` (any type when empty) or, with ``exclude``, none of them."""

    event_name: str | None
    types: tuple[str, ...] = ()
    exclude: bool = False


def matches_for(vendor: str, event_type: str) -> list[EventMatch]:
    """How to find one Amplitude event type among a vendor's stored rows (the inverse of
    :func:`event_type_of`); several matches are alternatives."""
    viewed = _VIEWED.match(event_type)
    if vendor == "segment":
        special = {v: k for k, v in _SEGMENT_SPECIAL.items()}
        if event_type in special:
            return [EventMatch(None, (special[event_type],)), EventMatch(event_type, ("track",))]
        found = [EventMatch(event_type, ("track",))]
        if viewed:
            found.append(EventMatch(viewed.group(1), (viewed.group(2).lower(),)))
        if event_type in ("Loaded a Page", "Loaded a Screen"):
            found.append(EventMatch(None, (event_type.rsplit(" ", 1)[1].lower(),)))
        return found
    if vendor == "mparticle":
        found = [EventMatch(event_type, ("screen_view",), exclude=True)]
        if viewed and viewed.group(2) == "Screen":
            found.append(EventMatch(viewed.group(1), ("screen_view",)))
        if event_type == "Loaded a Screen":
            found.append(EventMatch(None, ("screen_view",)))
        if event_type == "$identify":
            found.append(EventMatch(None, ("batch",)))
        return found
    return [EventMatch(event_type)]


#: Amplitude's built-in user properties, read from each event: JSON paths per vendor.
BUILT_IN_PROPERTIES: Final[Mapping[str, Mapping[str, str]]] = {
    "country": {
        "amplitude": "$.country",
        "segment": "$.context.location.country",
        "mparticle": "$.device_info.locale_country",
    },
    "city": {"amplitude": "$.city", "segment": "$.context.location.city"},
    "region": {"amplitude": "$.region", "segment": "$.context.location.region"},
    "DMA": {"amplitude": "$.dma"},
    "language": {
        "amplitude": "$.language",
        "segment": "$.context.locale",
        "mparticle": "$.device_info.locale_language",
    },
    "platform": {
        "amplitude": "$.platform",
        "segment": "$.context.device.type",
        "mparticle": "$.device_info.platform",
    },
    "os": {
        "amplitude": "$.os_name",
        "segment": "$.context.os.name",
        "mparticle": "$.device_info.os_version",
    },
    "device": {
        "amplitude": "$.device_model",
        "segment": "$.context.device.model",
        "mparticle": "$.device_info.device_model",
    },
    "device_type": {
        "amplitude": "$.device_brand",
        "segment": "$.context.device.type",
        "mparticle": "$.device_info.platform",
    },
    "version": {
        "amplitude": "$.app_version",
        "segment": "$.context.app.version",
        "mparticle": "$.application_info.application_version",
    },
    "carrier": {"amplitude": "$.carrier", "segment": "$.context.network.carrier"},
    "library": {"amplitude": "$.library", "segment": "$.context.library.name"},
}

#: Where a vendor's stored payload keeps event properties. An mParticle event is stored alone
#: (its batch is a shared context, see trackwire.collector.store.expand); files written before
#: that kept the whole batch, so both places are read.
_EVENT_PROPERTIES: Final[Mapping[str, tuple[str, ...]]] = {
    "amplitude": ("$.event_properties",),
    "segment": ("$.properties",),
    "mparticle": ("$.data.custom_attributes", "$.events[0].data.custom_attributes"),
}


def _key(name: str) -> str:
    # A JSON path member in double quotes: names with spaces or dots stay one member.
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


#: Longest event-properties JSON a store keeps beside the payload (see
#: :func:`properties_column`): past it, the queries read the payload instead, so large property
#: sets do not bloat the segmentation index.
PROPERTIES_COLUMN_MAX: Final = 512


def properties_column(vendor: str, payload: Mapping[str, Any]) -> str | None:
    """The event properties of a message as a store keeps them beside its payload, for the
    queries: compact JSON (``{}`` when it has none), or None when queries must read the payload
    itself (properties longer than :data:`PROPERTIES_COLUMN_MAX`, an older mParticle payload
    holding its whole batch, an unknown vendor).

    A property read from this JSON at ``$."<name>"`` is what :func:`event_property_paths`
    finds in the payload.
    """
    if vendor == "amplitude":
        value = payload.get("event_properties")
    elif vendor == "segment":
        value = payload.get("properties")
    elif vendor == "mparticle" and "events" not in payload:
        data = payload.get("data")
        value = data.get("custom_attributes") if type(data) is dict else None
    else:
        return None
    if type(value) is not dict or not value:
        return "{}"
    # Keys are always text here (decoded JSON); orjson output is what the payload holds.
    text = orjson.dumps(value)
    return text.decode() if len(text) <= PROPERTIES_COLUMN_MAX else None


def column_property_path(name: str) -> str:
    """The JSON path of an event property inside :func:`properties_column`'s JSON."""
    return f"$.{_key(name)}"


def event_property_paths(vendor: str, name: str) -> tuple[str, ...]:
    """The JSON paths of an event property inside a vendor's stored payload, in order."""
    bases = _EVENT_PROPERTIES.get(vendor, ("$.event_properties",))
    return tuple(f"{base}.{_key(name)}" for base in bases)


def built_in_path(vendor: str, name: str) -> str | None:
    """The JSON path of a built-in property in a vendor's payload; None when it has none."""
    paths = BUILT_IN_PROPERTIES.get(name)
    return None if paths is None else paths.get(vendor)


def user_property_key(name: str) -> str | None:
    """The JSON path of a custom user property (``gp:plan`` or ``plan``) in the user's state;
    None for a built-in property (read from events)."""
    if name.startswith("gp:"):
        return f"$.{_key(name[3:])}"
    if name in BUILT_IN_PROPERTIES:
        return None
    return f"$.{_key(name)}"


def event_properties_of(vendor: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The event properties of a stored payload."""
    if vendor == "amplitude":
        value = payload.get("event_properties")
        return dict(value) if isinstance(value, dict) else {}
    if vendor == "segment":
        value = payload.get("properties")
    elif vendor == "mparticle":
        events = payload.get("events")
        data = events[0].get("data") if isinstance(events, list) and events else None
        value = data.get("custom_attributes") if isinstance(data, Mapping) else None
    else:
        value = payload.get("event_properties")
    return dict(value) if isinstance(value, Mapping) else {}


def built_ins_of(vendor: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Every built-in property a stored payload carries, by Amplitude name."""
    found: dict[str, Any] = {}
    for name, paths in BUILT_IN_PROPERTIES.items():
        path = paths.get(vendor)
        if path is None:
            continue
        value: Any = payload
        for part in path[2:].split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None:
            found[name] = value
    return found
