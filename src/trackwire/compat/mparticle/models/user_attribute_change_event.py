"""A user attribute set, changed or removed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, check_attribute_bag

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.device_current_state import DeviceCurrentState
    from trackwire.compat.mparticle.models.geo_location import GeoLocation

__all__ = ["UserAttributeChangeEvent"]


class UserAttributeChangeEvent(Model):
    """A user attribute set, changed or removed."""

    timestamp_unixtime_ms: int | None
    event_id: int | None
    source_message_id: str | None
    session_id: int | None
    session_uuid: str | None
    custom_attributes: dict[str, Any] | None
    location: GeoLocation | None
    device_current_state: DeviceCurrentState | None
    user_attribute_name: str | None
    new: Any | None
    old: Any | None
    deleted: bool | None
    is_new_attribute: bool | None

    swagger_types: ClassVar[dict[str, str]] = {
        "timestamp_unixtime_ms": "int",
        "event_id": "int",
        "source_message_id": "str",
        "session_id": "int",
        "session_uuid": "str",
        "custom_attributes": "dict(str, str)",
        "location": "GeoLocation",
        "device_current_state": "DeviceCurrentState",
        "user_attribute_name": "str",
        "new": "object",
        "old": "object",
        "deleted": "bool",
        "is_new_attribute": "bool",
    }
    checks: ClassVar[dict[str, Any]] = {
        "custom_attributes": check_attribute_bag,
    }
