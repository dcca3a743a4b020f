"""A sign-up, login, logout, update or delete of a profile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, check_attribute_bag, one_of

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.device_current_state import DeviceCurrentState
    from trackwire.compat.mparticle.models.geo_location import GeoLocation

__all__ = ["ProfileEvent"]


class ProfileEvent(Model):
    """A sign-up, login, logout, update or delete of a profile."""

    timestamp_unixtime_ms: int | None
    event_id: int | None
    source_message_id: str | None
    session_id: int | None
    session_uuid: str | None
    custom_attributes: dict[str, Any] | None
    location: GeoLocation | None
    device_current_state: DeviceCurrentState | None
    profile_name: str | None
    previous_profile_name: str | None
    profile_event_type: str | None

    swagger_types: ClassVar[dict[str, str]] = {
        "timestamp_unixtime_ms": "int",
        "event_id": "int",
        "source_message_id": "str",
        "session_id": "int",
        "session_uuid": "str",
        "custom_attributes": "dict(str, str)",
        "location": "GeoLocation",
        "device_current_state": "DeviceCurrentState",
        "profile_name": "str",
        "previous_profile_name": "str",
        "profile_event_type": "str",
    }
    checks: ClassVar[dict[str, Any]] = {
        "profile_event_type": one_of(("unknown", "signup", "login", "logout", "update", "delete")),
        "custom_attributes": check_attribute_bag,
    }
