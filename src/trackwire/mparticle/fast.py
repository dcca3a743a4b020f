"""The common batch built, checked and given its ids in one pass over its events.

The general path (:func:`trackwire.mparticle.prepare.build`) converts every event of a
:class:`~trackwire.mparticle.models.Batch` to its JSON object, then walks the result again to
check it (:func:`~trackwire.mparticle.models.checks.plainly_valid`, the full checks when that
cannot prove the batch fine), then a third time to fill the ids. A backend's batches are
nearly always a user's identities with custom events (:class:`AppEvent`) of flat attributes:
for those, :func:`build_plain` reads each event's fields once, checking each against the
rule the fast check applies to it as it goes, and only then fills the ids. The
result is the dict the general path builds, key for key and in the same order.

Anything else — another event class, a field the fast check does not prove (a location, a
datetime, a nested attribute), a value the general path would convert or refuse — returns
None, and the client takes the general path, which converts what it can and names the
offending field in its error.
"""

from __future__ import annotations

from typing import Any, Final

from trackwire._engine.ids import new_message_id
from trackwire.mparticle.models import AppEvent, Batch, CustomEventType
from trackwire.mparticle.models._base import _MIN_PLAUSIBLE_MS, Model, _plan
from trackwire.mparticle.models.checks import _flat_attributes, plainly_valid
from trackwire.mparticle.schema import _DATA_ENUMS, MAX_EVENT_ATTRIBUTES, MAX_EVENT_NAME_LENGTH

__all__ = ["build_plain"]

#: The fields of :class:`AppEvent` this module reads, in the order its ``to_dict`` writes them
#: (attribute, JSON key, conversion kind). If the class changes, the fast path turns itself
#: off rather than write another order (see ``_ENABLED``).
_APP_EVENT_PLAN: Final = (
    ("timestamp_unixtime_ms", "timestamp_unixtime_ms", 1),
    ("source_message_id", "source_message_id", 0),
    ("session_id", "session_id", 0),
    ("session_uuid", "session_uuid", 0),
    ("session_start_unixtime_ms", "session_start_unixtime_ms", 1),
    ("custom_attributes", "custom_attributes", 0),
    ("location", "location", 0),
    ("device_current_state", "device_current_state", 0),
    ("event_name", "event_name", 0),
    ("custom_event_type", "custom_event_type", 0),
    ("custom_flags", "custom_flags", 0),
)
_ENABLED: Final = _plan(AppEvent) == _APP_EVENT_PLAN
_EVENT_TYPES: Final = frozenset(_DATA_ENUMS[("custom_event", "custom_event_type")])
_CUSTOM_EVENT: Final = AppEvent.event_type


def build_plain(batch: Batch, environment: str | None) -> dict[str, Any] | None:
    """What ``build(batch, environment=environment)`` returns, or None for the general path.

    Args:
        batch: an exact :class:`Batch` whose events are exact :class:`AppEvent`.
        environment: the client's default, for a batch that sets none.
    """
    if not _ENABLED:
        return None
    events = batch.events
    if events:
        for event in events:
            if event.__class__ is not AppEvent:
                return None
    # The batch's own fields (all but its events) convert as the general path converts them.
    out = Model.to_dict(batch, "")
    if "mpid" in out:
        mpid = out["mpid"]
        if type(mpid) is not int or not -(2**63) <= mpid < 2**63:
            return None  # a str of digits to convert, or a value to refuse naming the field
    set_environment = not out.get("environment") and environment is not None
    # The batch-level rules, checked on the batch without its events (events are checked
    # below, one by one, as they are built).
    if not plainly_valid({**out, "environment": environment} if set_environment else out):
        return None
    datas: list[dict[str, Any]] = []
    if events:
        for event in events:
            data = _event_data(event)  # type: ignore[arg-type]
            if data is None:
                return None
            datas.append(data)
        out["events"] = [{"data": data, "event_type": _CUSTOM_EVENT} for data in datas]
    if set_environment:
        out["environment"] = environment
    # The ids last, in fill_ids' order (the request's, then each event's): nothing is made
    # for a batch handed to the general path, and both paths number alike.
    if not out.get("source_request_id"):
        out["source_request_id"] = new_message_id()
    for data in datas:
        if not data.get("source_message_id"):
            data["source_message_id"] = new_message_id()
    return out


def _event_data(event: AppEvent) -> dict[str, Any] | None:
    """The ``data`` object of one custom event (its id not yet filled); None when the fast
    check would not prove it fine or the general path would convert a value."""
    data: dict[str, Any] = {}
    value: Any = event.timestamp_unixtime_ms
    if value is not None:
        if type(value) is not int or value < _MIN_PLAUSIBLE_MS:
            return None
        data["timestamp_unixtime_ms"] = value
    value = event.source_message_id
    if value is not None:
        if type(value) is not str:
            return None
        data["source_message_id"] = value
    value = event.session_id
    if value is not None:
        if type(value) is not int:
            return None
        data["session_id"] = value
    value = event.session_uuid
    if value is not None:
        if type(value) is not str:
            return None
        data["session_uuid"] = value
    value = event.session_start_unixtime_ms
    if value is not None:
        if type(value) is not int or value < _MIN_PLAUSIBLE_MS:
            return None
        data["session_start_unixtime_ms"] = value
    value = event.custom_attributes
    if value is not None:
        if type(value) is not dict or not _flat_attributes(value, MAX_EVENT_ATTRIBUTES):
            return None
        data["custom_attributes"] = dict(value)
    if event.location is not None or event.device_current_state is not None:
        return None
    value = event.event_name
    if type(value) is not str or not 0 < len(value) <= MAX_EVENT_NAME_LENGTH:
        return None
    data["event_name"] = value
    value = event.custom_event_type
    if type(value) is not str:
        if not isinstance(value, CustomEventType):
            return None
        value = value.value
    if value not in _EVENT_TYPES:
        return None
    data["custom_event_type"] = value
    value = event.custom_flags
    if value is not None:
        if type(value) is not dict or not _flat_attributes(value, MAX_EVENT_ATTRIBUTES):
            return None
        data["custom_flags"] = dict(value)
    return data
