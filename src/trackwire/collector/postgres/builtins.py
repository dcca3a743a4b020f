"""An event's built-in properties, found once at ingest: PostgreSQL's ``events.builtins``.

Amplitude's built-in properties (``country``, ``platform``, ``os``, ... :data:`~trackwire.
collector.query.mapping.BUILT_IN_PROPERTIES`) are read from each event's payload, or from the
shared context of its batch. Reading them there per event at query time cost ~3.5 us an event
(scanning the payload's JSON), so a group-by on ``country`` over 300k events took 1.4 s of
server CPU at 10M stored events. The ingest now keeps them in a small ``jsonb`` object beside
the event (``{"country": "FR", "platform": "iOS"}``), held in the covering segmentation
indexes with the event's properties: a built-in is then read like an event property.

What the object holds is exactly what the queries read from the payload before (see
``_event_access`` in :mod:`.amplitude_segmentation`): per name, the first value that is set
and not JSON ``null`` among the vendor's :func:`places` (the payload and the batch context,
in the vendor's order), at the vendor's path. Names with no such value are left out; an event
with none has ``{}``. The object's JSON text passes through ``tw_builtins`` in SQL, which makes
it ``jsonb`` as ``tw_json`` reads every stored text (U+0000 as U+FFFD) and keeps it NULL when
larger than :data:`.schema_indexes.BUILTINS_INDEX_MAX` bytes: such rows' built-ins are read
from the payload, as before.

The stored names and paths are those of migration 6 (which filled the column for the events
stored before it, in SQL: :mod:`.schema_indexes`). A change of the mapping's built-in names or
paths therefore needs a new migration filling the column again (a test pins the mapping).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from trackwire.collector.query.mapping import BUILT_IN_PROPERTIES

__all__ = ["VENDORS", "builtins_text", "paths_of", "places"]

#: Where each vendor's built-in properties are looked for, in order: the event's payload
#: and its batch's shared context. mParticle keeps device and application info on the
#: batch (older payloads held the whole batch); Segment on each message, else its batch.
_PLACES: Final[Mapping[str, tuple[str, ...]]] = {
    "amplitude": ("payload",),
    "mparticle": ("context", "payload"),
}
_DEFAULT_PLACES: Final = ("payload", "context")


def places(vendor: str) -> tuple[str, ...]:
    """Where a vendor's built-in properties are read, in order: ``payload``, ``context``."""
    return _PLACES.get(vendor, _DEFAULT_PLACES)


def paths_of(vendor: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each built-in property a vendor has, with the members of its path in a payload
    (``$.context.location.country`` is ``("context", "location", "country")``)."""
    found = []
    for name, paths in BUILT_IN_PROPERTIES.items():
        path = paths.get(vendor)
        if path is not None:
            # The mapping's built-in paths are plain dotted members (no quotes, no indexes).
            found.append((name, tuple(path[2:].split("."))))
    return tuple(found)


#: The vendors whose events have built-in properties.
VENDORS: Final = ("amplitude", "segment", "mparticle")
_PATHS: Final = {vendor: paths_of(vendor) for vendor in VENDORS}


def builtins_text(vendor: str, payload: str, context: Any) -> str | None:
    """The JSON text of an event's built-in properties, for ``events.builtins``; None (read
    them from the payload) when the payload is not JSON, which the ingest never stores.

    Args:
        vendor: the vendor the event came through.
        payload: the event's stored payload (JSON text).
        context: its batch's shared context, decoded (None when it has none).
    """
    paths = _PATHS.get(vendor)
    if not paths:
        return "{}"
    try:
        decoded = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    # Runs once per stored event: plain loops, no call per name. Only objects hold members
    # (``#>`` finds nothing inside a string, a number or an array by a member's name).
    documents = [
        document
        for document in (decoded if place == "payload" else context for place in places(vendor))
        if type(document) is dict
    ]
    found: dict[str, Any] = {}
    for name, parts in paths:
        for document in documents:
            value: Any = document
            for part in parts:
                value = value.get(part) if type(value) is dict else None
            if value is not None:
                found[name] = value
                break
    # Values came from decoded JSON: they encode back to the JSON they were read from.
    return orjson.dumps(found).decode() if found else "{}"
