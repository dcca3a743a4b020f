"""The official Amplitude Python SDK's API (``amplitude``) on trackwire's engine.

Change the import and keep the code::

    from trackwire.compat.amplitude import Amplitude, BaseEvent   # was: from amplitude import ...

    client = Amplitude("API_KEY")
    client.track(BaseEvent(event_type="type of event", user_id="USER_ID",
                           event_properties={"source": "notification"}))
    client.flush()

Everything the official package exports is here (``Amplitude``, ``Config``, the event classes,
``Identify``, ``Revenue``, ``Plan``, ``IngestionMetadata``, ``EventPlugin``,
``DestinationPlugin``, ``PluginType``, ``EventLogLevel``), and its ``constants``, ``utils``,
``event``, ``config``, ``plugin`` and ``client`` modules.
"""

from __future__ import annotations

from trackwire.compat.amplitude import client, config, constants, event, plugin, utils
from trackwire.compat.amplitude.client import Amplitude
from trackwire.compat.amplitude.config import Config
from trackwire.compat.amplitude.constants import EventLogLevel, PluginType
from trackwire.compat.amplitude.event import (
    BaseEvent,
    EventOptions,
    GroupIdentifyEvent,
    Identify,
    IdentifyEvent,
    IngestionMetadata,
    Plan,
    Revenue,
    RevenueEvent,
)
from trackwire.compat.amplitude.plugin import DestinationPlugin, EventPlugin

__all__ = [
    "Amplitude",
    "BaseEvent",
    "Config",
    "DestinationPlugin",
    "EventLogLevel",
    "EventOptions",
    "EventPlugin",
    "GroupIdentifyEvent",
    "Identify",
    "IdentifyEvent",
    "IngestionMetadata",
    "Plan",
    "PluginType",
    "Revenue",
    "RevenueEvent",
    "client",
    "config",
    "constants",
    "event",
    "plugin",
    "utils",
]
