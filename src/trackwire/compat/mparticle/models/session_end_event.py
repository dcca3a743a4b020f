"""The end of a session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, check_attribute_bag

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.device_current_state import DeviceCurrentState
    from trackwire.compat.mparticle.models.geo_location import GeoLocation

__all__ = ["SessionEndEvent"]


class SessionEndEvent(Model):
    """The end of a session."""

    timestamp_unixtime_ms: int | None
    event_id: int | None
    source_message_id: str | None
    session_id: int | None
    session_uuid: str | None
    custom_attributes: dict[str, Any] | None
    location: GeoLocation | None
    device_current_state: DeviceCurrentState | None
    session_duration_ms: int | None

    swagger_types: ClassVar[dict[str, str]] = {
        "timestamp_unixtime_ms": "int",
        "event_id": "int",
        "source_message_id": "str",
        "session_id": "int",
        "session_uuid": "str",
        "custom_attributes": "dict(str, str)",
        "location": "GeoLocation",
        "device_current_state": "DeviceCurrentState",
        "session_duration_ms": "int",
    }
    checks: ClassVar[dict[str, Any]] = {
        "custom_attributes": check_attribute_bag,
    }
