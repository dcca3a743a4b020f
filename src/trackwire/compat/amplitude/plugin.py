"""The official ``amplitude.plugin`` base classes: ``EventPlugin`` and ``DestinationPlugin``.

A plugin added with ``Amplitude.add(plugin)`` runs by its ``plugin_type``: BEFORE and
ENRICHMENT plugins may change an event or return None to drop it; each DESTINATION plugin
gets its own deep copy (trackwire's delivery to Amplitude is the built-in destination).
"""

from __future__ import annotations

import uuid
from typing import Any

from trackwire._version import __version__
from trackwire.compat.amplitude import constants, utils
from trackwire.compat.amplitude.event import (
    BaseEvent,
    GroupIdentifyEvent,
    IdentifyEvent,
    RevenueEvent,
)

__all__ = ["ContextPlugin", "DestinationPlugin", "EventPlugin", "Plugin", "verify_event"]


class Plugin:
    """Base of every plugin: its type, ``setup(client)`` and ``execute(event)``."""

    def __init__(self, plugin_type: constants.PluginType) -> None:
        self.plugin_type = plugin_type

    def setup(self, client: Any) -> None:
        """Called once with the client when the plugin is added."""

    def execute(self, event: BaseEvent) -> BaseEvent | None:
        """Return the event (changed or not), or None to drop it."""
        return event


class EventPlugin(Plugin):
    """A plugin with one method per kind of event: ``track``, ``identify``,
    ``group_identify``, ``revenue`` (each returns the event or None)."""

    def execute(self, event: BaseEvent) -> BaseEvent | None:
        """Dispatch to the method for the event's kind."""
        if isinstance(event, GroupIdentifyEvent):
            return self.group_identify(event)
        if isinstance(event, IdentifyEvent):
            return self.identify(event)
        if isinstance(event, RevenueEvent):
            return self.revenue(event)
        return self.track(event)

    def group_identify(self, event: GroupIdentifyEvent) -> GroupIdentifyEvent | None:
        """A ``$groupidentify`` event."""
        return event

    def identify(self, event: IdentifyEvent) -> IdentifyEvent | None:
        """An ``$identify`` event."""
        return event

    def revenue(self, event: RevenueEvent) -> RevenueEvent | None:
        """A ``revenue_amount`` event."""
        return event

    def track(self, event: BaseEvent) -> BaseEvent | None:
        """Any other event."""
        return event


class DestinationPlugin(EventPlugin):
    """A destination: receives a copy of every event; may hold its own plugins."""

    def __init__(self) -> None:
        super().__init__(constants.PluginType.DESTINATION)
        self.plugins: list[Plugin] = []

    def setup(self, client: Any) -> None:
        """Kept for subclasses."""

    def add(self, plugin: Plugin) -> DestinationPlugin:
        """Run ``plugin`` on this destination's copies."""
        self.plugins.append(plugin)
        return self

    def remove(self, plugin: Plugin) -> DestinationPlugin:
        """Stop running ``plugin``."""
        self.plugins = [p for p in self.plugins if p is not plugin]
        return self

    def execute(self, event: BaseEvent) -> None:
        """Run this destination's own plugins on the copy (the official hook)."""
        result: BaseEvent | None = event
        for plugin in self.plugins:
            if result is None:
                break
            result = plugin.execute(result)

    def flush(self) -> Any:
        """Called by ``Amplitude.flush()``; may return a future."""
        return None

    def shutdown(self) -> None:
        """Called by ``Amplitude.shutdown()``."""


class ContextPlugin(Plugin):
    """Added to every client: fills ``time``, ``insert_id``, ``library`` and the Config's
    ``plan`` and ``ingestion_metadata`` where the event has none."""

    def __init__(self) -> None:
        super().__init__(constants.PluginType.BEFORE)
        self.context_string = f"{constants.SDK_LIBRARY}/{__version__}"
        self.configuration: Any = None

    def setup(self, client: Any) -> None:
        """Remember the client's Config."""
        self.configuration = client.configuration

    def execute(self, event: BaseEvent) -> BaseEvent:
        """Fill the context fields the event lacks."""
        if not event.time:
            event["time"] = utils.current_milliseconds()
        if not event.insert_id:
            event["insert_id"] = str(uuid.uuid4())
        config = self.configuration
        if config is not None and config.plan and not event.plan:
            event["plan"] = config.plan
        if config is not None and config.ingestion_metadata and not event.ingestion_metadata:
            event["ingestion_metadata"] = config.ingestion_metadata
        event.library = self.context_string
        return event


def verify_event(event: object) -> bool:
    """True when ``event`` can be sent: a named event with a ``user_id`` or ``device_id``
    (a group identify needs neither)."""
    if isinstance(event, GroupIdentifyEvent):
        return True
    return isinstance(event, BaseEvent) and bool(
        event["event_type"] and (event["user_id"] or event["device_id"])
    )
