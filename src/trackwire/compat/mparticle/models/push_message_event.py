"""A push message sent, received or acted on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, check_attribute_bag, one_of

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.device_current_state import DeviceCurrentState
    from trackwire.compat.mparticle.models.geo_location import GeoLocation

__all__ = ["PushMessageEvent"]


class PushMessageEvent(Model):
    """A push message sent, received or acted on."""

    timestamp_unixtime_ms: int | None
    event_id: int | None
    source_message_id: str | None
    session_id: int | None
    session_uuid: str | None
    custom_attributes: dict[str, Any] | None
    location: GeoLocation | None
    device_current_state: DeviceCurrentState | None
    push_message_token: str | None
    push_message_type: str | None
    message: str | None
    network: str | None
    push_notification_payload: str | None
    application_state: str | None
    action_identifier: str | None

    swagger_types: ClassVar[dict[str, str]] = {
        "timestamp_unixtime_ms": "int",
        "event_id": "int",
        "source_message_id": "str",
        "session_id": "int",
        "session_uuid": "str",
        "custom_attributes": "dict(str, str)",
        "location": "GeoLocation",
        "device_current_state": "DeviceCurrentState",
        "push_message_token": "str",
        "push_message_type": "str",
        "message": "str",
        "network": "str",
        "push_notification_payload": "str",
        "application_state": "str",
        "action_identifier": "str",
    }
    checks: ClassVar[dict[str, Any]] = {
        "push_message_type": one_of(("unknown", "sent", "received", "action")),
        "application_state": one_of(("unknown", "not_running", "background", "foreground")),
        "custom_attributes": check_attribute_bag,
    }
