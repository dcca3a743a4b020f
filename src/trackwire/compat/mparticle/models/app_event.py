"""A custom event (``custom_event``): a name, a type and custom attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, check_attribute_bag, one_of

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.device_current_state import DeviceCurrentState
    from trackwire.compat.mparticle.models.geo_location import GeoLocation
    from trackwire.compat.mparticle.models.media_info import MediaInfo

__all__ = ["AppEvent"]


class AppEvent(Model):
    """A custom event (``custom_event``): a name, a type and custom attributes."""

    timestamp_unixtime_ms: int | None
    event_id: int | None
    source_message_id: str | None
    session_id: int | None
    session_uuid: str | None
    custom_attributes: dict[str, Any] | None
    location: GeoLocation | None
    device_current_state: DeviceCurrentState | None
    custom_event_type: str | None
    event_name: str | None
    media_info: MediaInfo | None
    custom_flags: dict[str, Any] | None

    swagger_types: ClassVar[dict[str, str]] = {
        "timestamp_unixtime_ms": "int",
        "event_id": "int",
        "source_message_id": "str",
        "session_id": "int",
        "session_uuid": "str",
        "custom_attributes": "dict(str, str)",
        "location": "GeoLocation",
        "device_current_state": "DeviceCurrentState",
        "custom_event_type": "str",
        "event_name": "str",
        "media_info": "MediaInfo",
        "custom_flags": "dict(str, str)",
    }
    order: ClassVar[tuple[str, ...]] = (
        "event_name",
        "custom_event_type",
        "timestamp_unixtime_ms",
        "event_id",
        "source_message_id",
        "session_id",
        "session_uuid",
        "custom_attributes",
        "location",
        "device_current_state",
        "media_info",
        "custom_flags",
    )
    defaults: ClassVar[dict[str, Any]] = {"custom_event_type": "other"}
    event_type: ClassVar[str] = "custom_event"
    checks: ClassVar[dict[str, Any]] = {
        "custom_event_type": one_of(
            (
                "unknown",
                "navigation",
                "location",
                "search",
                "transaction",
                "user_content",
                "user_preference",
                "social",
                "other",
                "attribution",
            )
        ),
        "custom_attributes": check_attribute_bag,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.event_name is None:
            raise ValueError("Event Name is required.")

    @classmethod
    def create_attribution_event(
        cls, publisher: str | None = None, campaign: str | None = None
    ) -> AppEvent:
        """An ``attribution`` event naming the install's publisher and campaign."""
        return cls(
            event_name="attribution",
            custom_event_type="attribution",
            custom_attributes={"campaign": campaign, "publisher": publisher},
        )

    @classmethod
    def create_attribution_delete_event(cls) -> AppEvent:
        """An ``attribution`` event that deletes the user's attribution."""
        return cls(
            event_name="attribution",
            custom_event_type="attribution",
            custom_attributes={"action": "delete"},
        )
