"""A user's properties after each operation that changed them, for the user page.

Replays the user's stored events in arrival order through the same rules the store applies at
ingest (:mod:`trackwire.collector.records` to read each message's operations,
:func:`~trackwire.collector.userprops.apply_operations` to apply them), so the last entry is the
properties the store holds now (for a user whose history has not been merged from another).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trackwire.collector import records
from trackwire.collector.store import EventRecord, StoredEvent
from trackwire.collector.userprops import UserOp, apply_operations

__all__ = ["property_history"]


def _operations(vendor: str, source: str, event: StoredEvent) -> Sequence[UserOp]:
    """The user-property operations one stored message carried (none for group operations)."""
    payload = event.payload
    found: list[EventRecord]
    try:
        if vendor == "segment":
            found = [records.segment_record(payload, event.type, source)]
        elif vendor == "amplitude" and event.type == "identify":
            found = [records.amplitude_identify_record(payload, source)]
        elif vendor == "amplitude" and event.type == "event":
            found = [records.amplitude_event_record(payload, source)]
        elif vendor == "mparticle":
            found = records.mparticle_records(payload, source)[:1]
        else:
            return ()
    except (KeyError, TypeError, ValueError):
        return ()  # stored before a rule changed: show what can be read
    ops: list[UserOp] = []
    for record in found:
        if record.group_type is None:
            ops.extend(record.user_ops)
    return ops


def _shown(ops: Sequence[UserOp]) -> list[dict[str, Any]]:
    return [{"operation": op, "values": args} for op, args in ops]


def property_history(
    vendor: str, source: str, events: Sequence[StoredEvent]
) -> list[dict[str, Any]]:
    """Each change to the user's properties: the event, its operations, the properties after.

    Args:
        vendor: the user's vendor.
        source: the user's source.
        events: the user's events, oldest first.
    """
    properties: dict[str, Any] = {}
    changes = []
    for event in events:
        ops = _operations(vendor, source, event)
        if not ops:
            continue
        after = apply_operations(properties, ops)
        if after == properties:
            continue
        properties = after
        changes.append(
            {
                "id": event.id,
                "type": event.type,
                "event_name": event.event_name,
                "received_time_ms": event.received_time_ms,
                "operations": _shown(ops),
                "properties": properties,
            }
        )
    return changes
