"""Which stored events an expectation matches, and which came nearest when none did.

Shared by ``GET /_test/expect`` (the collector answers as soon as enough events match) and the
pytest plugin (whose failure message lists what did arrive, nearest first). An expectation names
any of: vendor, source, type, event name, user (its user id or device id), and properties or
traits that must have the given values. Event names go by one key whatever the vendor: Segment's
``event`` (or a page's/screen's ``name``), Amplitude's ``event_type``, mParticle's ``event_name``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trackwire.collector.plan import view
from trackwire.collector.store import StoredEvent

__all__ = ["Expectation", "nearest"]


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a matching event looks like; a field left None matches anything.

    Attributes:
        vendor: ``segment``, ``amplitude`` or ``mparticle``.
        source: the source the event was stored under.
        type: the stored type (``track``, ``event``, ``identify``, ``custom_event``, …).
        event: the event name.
        user: the user id or the device (anonymous) id.
        properties: property name → the value it must have.
        traits: trait / user property name → the value it must have.
    """

    vendor: str | None = None
    source: str | None = None
    type: str | None = None
    event: str | None = None
    user: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    traits: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """The expectation in words: ``amplitude event 'Song Played' for user 'u1'``."""
        parts = [self.vendor or "any vendor", self.type or "event"]
        if self.event is not None:
            parts.append(repr(self.event))
        if self.source is not None:
            parts.append(f"from source {self.source!r}")
        if self.user is not None:
            parts.append(f"for user {self.user!r}")
        if self.properties:
            parts.append(f"with properties {dict(self.properties)!r}")
        if self.traits:
            parts.append(f"with traits {dict(self.traits)!r}")
        return " ".join(parts)

    def mismatches(self, event: StoredEvent) -> list[str]:
        """How ``event`` differs from the expectation, one phrase a field; empty on a match."""
        found: list[str] = []
        for name, wanted, got in (
            ("vendor", self.vendor, event.vendor),
            ("source", self.source, event.source),
            ("type", self.type, event.type),
            ("event", self.event, event.event_name),
        ):
            if wanted is not None and wanted != got:
                found.append(f"{name} {got!r}")
        if self.user is not None and self.user not in (event.user_id, event.device_id):
            found.append(f"user {event.user_id!r} / device {event.device_id!r}")
        if self.properties or self.traits:
            seen = view(event.vendor, event.type, event.payload)
            found += _differences("properties", self.properties, seen.properties)
            found += _differences("traits", self.traits, seen.traits)
        return found

    def matches(self, event: StoredEvent) -> bool:
        """True when ``event`` is one the expectation describes."""
        return not self.mismatches(event)


_MISSING = object()


def _differences(where: str, wanted: Mapping[str, Any], got: Mapping[str, Any]) -> list[str]:
    found = []
    for key, value in wanted.items():
        have = got.get(key, _MISSING)
        if have is _MISSING:
            found.append(f"{where}.{key} missing")
        elif have != value or isinstance(have, bool) != isinstance(value, bool):
            found.append(f"{where}.{key}={have!r}")
    return found


def _closeness(expectation: Expectation, event: StoredEvent) -> tuple[int, float]:
    """Fewer mismatched fields first, then the most similar event name."""
    misses = len(expectation.mismatches(event))
    similar = 0.0
    if expectation.event is not None and event.event_name is not None:
        similar = difflib.SequenceMatcher(None, expectation.event, event.event_name).ratio()
    return misses, -similar


def nearest(
    expectation: Expectation, events: Iterable[StoredEvent], count: int = 5
) -> list[tuple[StoredEvent, list[str]]]:
    """The ``count`` events nearest to ``expectation``, each with how it differs."""
    ranked = sorted(events, key=lambda event: _closeness(expectation, event))
    return [(event, expectation.mismatches(event)) for event in ranked[:count]]
