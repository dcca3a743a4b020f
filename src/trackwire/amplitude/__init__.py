"""Amplitude: the client, its event classes and builders, and the wire rules.

``trackwire.Amplitude(api_key, **options)`` (or :func:`init` / :func:`get_instance` for named
instances) sends events; :class:`BaseEvent`, :class:`EventOptions`, :class:`Identify` and
:class:`Revenue` build them. :mod:`.wire` holds the HTTP V2 and Batch ingestion rules (fields,
limits, response bodies and their meaning), :mod:`.properties` the user- and group-property
operations, and :mod:`.identify` the Identify and Group Identify form APIs; the collector
uses the same rules to accept what Amplitude's own SDKs send.
"""

from __future__ import annotations

from trackwire.amplitude.builders import Identify, Revenue
from trackwire.amplitude.client import Amplitude
from trackwire.amplitude.instances import get_instance, init
from trackwire.amplitude.middleware import MiddlewarePayload
from trackwire.amplitude.models import (
    BaseEvent,
    EventOptions,
    GroupIdentifyEvent,
    IdentifyEvent,
    IngestionMetadata,
    Plan,
    Plugin,
    RevenueEvent,
)

__all__ = [
    "Amplitude",
    "BaseEvent",
    "EventOptions",
    "GroupIdentifyEvent",
    "Identify",
    "IdentifyEvent",
    "IngestionMetadata",
    "MiddlewarePayload",
    "Plan",
    "Plugin",
    "Revenue",
    "RevenueEvent",
    "get_instance",
    "init",
]
