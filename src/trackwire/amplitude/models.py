"""Amplitude's event classes, in the shape of the official Python SDK (``amplitude-analytics``).

:class:`EventOptions` holds every HTTP V2 field an event may carry besides its type and
properties; :class:`BaseEvent` adds ``event_type`` and the four property objects. Both are
plain dataclasses: the client turns them into the wire dict with :meth:`EventOptions.to_dict`
(Python names such as ``product_id`` become the wire's ``productId``). The builders for
identify operations and revenue live in :mod:`.builders`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final, Protocol, runtime_checkable

__all__ = [
    "BaseEvent",
    "EventCallback",
    "EventOptions",
    "GroupIdentifyEvent",
    "IdentifyEvent",
    "IngestionMetadata",
    "Plan",
    "Plugin",
    "RevenueEvent",
]

#: ``callback(event, code, message)``: called once the event's delivery is settled, with the
#: HTTP status of its final attempt (0 when no response arrived) and a short message.
EventCallback = Callable[["BaseEvent", int, "str | None"], None]

#: Python attribute names whose wire spelling differs.
WIRE_NAMES: Final[Mapping[str, str]] = {
    "product_id": "productId",
    "revenue_type": "revenueType",
    "skip_user_properties_sync": "$skip_user_properties_sync",
}


@dataclass(slots=True)
class Plan:
    """The tracking plan an event belongs to (sent as ``plan``)."""

    branch: str | None = None
    source: str | None = None
    version: str | None = None
    version_id: str | None = None

    def to_dict(self) -> dict[str, str]:
        """The wire object; ``version_id`` is spelt ``versionId`` as the SDKs send it."""
        out = {"branch": self.branch, "source": self.source, "version": self.version}
        out["versionId"] = self.version_id
        return {key: value for key, value in out.items() if value is not None}


@dataclass(slots=True)
class IngestionMetadata:
    """Where an event came from (sent as ``ingestion_metadata``)."""

    source_name: str | None = None
    source_version: str | None = None

    def to_dict(self) -> dict[str, str]:
        """The wire object."""
        out = {"source_name": self.source_name, "source_version": self.source_version}
        return {key: value for key, value in out.items() if value is not None}


@dataclass(slots=True, kw_only=True)
class EventOptions:
    """Every HTTP V2 event field except ``event_type`` and the property objects.

    Used on its own to pass ids and device fields to ``identify``, ``revenue``,
    ``group_identify`` and ``set_group``, and as the base of :class:`BaseEvent`. Fields left
    None are not sent. ``time`` is epoch milliseconds; ``insert_id`` is filled by the client
    when None. ``callback`` is not sent: it is called as ``callback(event, code, message)``
    once the event's delivery is settled.
    """

    user_id: str | None = None
    device_id: str | None = None
    time: int | None = None
    insert_id: str | None = None
    session_id: int | None = None
    event_id: int | None = None
    app_version: str | None = None
    version_name: str | None = None
    platform: str | None = None
    os_name: str | None = None
    os_version: str | None = None
    device_brand: str | None = None
    device_manufacturer: str | None = None
    device_model: str | None = None
    carrier: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    dma: str | None = None
    language: str | None = None
    price: float | None = None
    quantity: int | None = None
    revenue: float | None = None
    product_id: str | None = None
    revenue_type: str | None = None
    currency: str | None = None
    location_lat: float | None = None
    location_lng: float | None = None
    ip: str | None = None
    idfa: str | None = None
    idfv: str | None = None
    adid: str | None = None
    android_id: str | None = None
    android_app_set_id: str | None = None
    user_agent: str | None = None
    partner_id: str | None = None
    library: str | None = None
    plan: Plan | Mapping[str, str] | None = None
    ingestion_metadata: IngestionMetadata | Mapping[str, str] | None = None
    skip_user_properties_sync: bool | None = None
    callback: EventCallback | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The event as the wire dict: set fields only, wire spellings, no ``callback``."""
        convert = _CONVERTERS.get(type(self))
        if convert is None:
            convert = _converter(type(self))
        return convert(self)


@dataclass(slots=True, kw_only=True)
class BaseEvent(EventOptions):
    """One Amplitude event: ``BaseEvent("Song Played", user_id="u-123", event_properties={...})``.

    Args:
        event_type: the event's name (required; ``$identify`` and ``$groupidentify`` are
            reserved for identify and group identify).
        event_properties: the event's own properties.
        user_properties: user properties to set (plain) or identify operations.
        groups: group type -> group name (or a list of names).
        group_properties: group properties (``$groupidentify`` events only).
        **options: any :class:`EventOptions` field.
    """

    event_type: str = field(kw_only=False, default="")
    event_properties: dict[str, Any] | None = None
    user_properties: dict[str, Any] | None = None
    groups: dict[str, Any] | None = None
    group_properties: dict[str, Any] | None = None

    def load_event_options(self, options: EventOptions | None) -> None:
        """Copy every field set in ``options`` onto this event (the official SDK's method)."""
        if options is None:
            return
        for name, _ in _field_names(EventOptions):
            value = getattr(options, name)
            if value is not None:
                setattr(self, name, value)
        if options.callback is not None:
            self.callback = options.callback


@dataclass(slots=True, kw_only=True)
class IdentifyEvent(BaseEvent):
    """An ``$identify`` event; built by ``Amplitude.identify``."""

    event_type: str = field(kw_only=False, default="$identify")


@dataclass(slots=True, kw_only=True)
class GroupIdentifyEvent(BaseEvent):
    """A ``$groupidentify`` event; built by ``Amplitude.group_identify``."""

    event_type: str = field(kw_only=False, default="$groupidentify")


@dataclass(slots=True, kw_only=True)
class RevenueEvent(BaseEvent):
    """A ``revenue_amount`` event; built by ``Amplitude.revenue`` from a ``Revenue``."""

    event_type: str = field(kw_only=False, default="revenue_amount")


_FIELD_NAMES: dict[type, tuple[tuple[str, str], ...]] = {}
_CONVERTERS: dict[type, Callable[[Any], dict[str, Any]]] = {}
# Sub-objects given as model objects, sent as their wire dicts.
_OBJECT_FIELDS: Final = ("plan", "ingestion_metadata")


def _field_names(cls: type) -> tuple[tuple[str, str], ...]:
    """(attribute, wire name) of every sent field of an event class, computed once."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = tuple(
            (f.name, WIRE_NAMES.get(f.name, f.name)) for f in fields(cls) if f.name != "callback"
        )
        _FIELD_NAMES[cls] = names
    return names


def _converter(cls: type) -> Callable[[Any], dict[str, Any]]:
    """Per class, once: a ``to_dict(self)`` function reading each field in a straight line.

    Generated (as :mod:`dataclasses` generates ``__init__``) because every ``track`` of an
    event object converts it in the caller's thread, and a run of attribute reads costs a
    fraction of a loop of ``getattr`` calls over the ~45 fields, most of them unset.
    """
    lines = ["def to_dict(self):", "    out = {}"]
    for name, wire_name in _field_names(cls):
        lines += [f"    v = self.{name}", "    if v is not None:"]
        if name in _OBJECT_FIELDS:
            lines.append(
                f"        out[{wire_name!r}] = v.to_dict() if isinstance(v, MODELS) else v"
            )
        else:
            lines.append(f"        out[{wire_name!r}] = v")
    lines.append("    return out")
    namespace: dict[str, Any] = {"MODELS": (Plan, IngestionMetadata)}
    # The source holds only the dataclass's own field names (identifiers) and wire names.
    exec("\n".join(lines), namespace)
    convert: Callable[[Any], dict[str, Any]] = namespace["to_dict"]
    _CONVERTERS[cls] = convert
    return convert


@runtime_checkable
class Plugin(Protocol):
    """A plugin in the official Python SDK's shape, added with ``Amplitude.add(plugin)``.

    ``execute(event)`` receives each :class:`BaseEvent` before it is checked and queued and
    returns it (changed or not), or None to drop it. An optional ``setup(client)`` is called
    once when the plugin is added.
    """

    def execute(self, event: BaseEvent) -> BaseEvent | None:
        """Return the event to send, or None to drop it."""
        ...
