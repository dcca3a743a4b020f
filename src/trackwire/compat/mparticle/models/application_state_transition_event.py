"""An app launch, upgrade, foreground or background."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, check_attribute_bag, one_of

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.device_current_state import DeviceCurrentState
    from trackwire.compat.mparticle.models.geo_location import GeoLocation

__all__ = ["ApplicationStateTransitionEvent"]


class ApplicationStateTransitionEvent(Model):
    """An app launch, upgrade, foreground or background."""

    timestamp_unixtime_ms: int | None
    event_id: int | None
    source_message_id: str | None
    session_id: int | None
    session_uuid: str | None
    custom_attributes: dict[str, Any] | None
    location: GeoLocation | None
    device_current_state: DeviceCurrentState | None
    successfully_closed: bool | None
    is_first_run: bool | None
    is_upgrade: bool | None
    push_notification_payload: str | None
    application_transition_type: str | None

    swagger_types: ClassVar[dict[str, str]] = {
        "timestamp_unixtime_ms": "int",
        "event_id": "int",
        "source_message_id": "str",
        "session_id": "int",
        "session_uuid": "str",
        "custom_attributes": "dict(str, str)",
        "location": "GeoLocation",
        "device_current_state": "DeviceCurrentState",
        "successfully_closed": "bool",
        "is_first_run": "bool",
        "is_upgrade": "bool",
        "push_notification_payload": "str",
        "application_transition_type": "str",
    }
    checks: ClassVar[dict[str, Any]] = {
        "application_transition_type": one_of(
            (
                "unknown",
                "application_initialized",
                "application_exit",
                "application_background",
                "application_foreground",
            )
        ),
        "custom_attributes": check_attribute_bag,
    }

    @classmethod
    def create_install_event(cls) -> ApplicationStateTransitionEvent:
        """The app's first launch after install."""
        return cls(
            application_transition_type="application_initialized",
            is_first_run=True,
            is_upgrade=False,
        )

    @classmethod
    def create_upgrade_event(cls) -> ApplicationStateTransitionEvent:
        """The app's first launch after an upgrade."""
        return cls(
            application_transition_type="application_initialized",
            is_first_run=False,
            is_upgrade=True,
        )

    @classmethod
    def create_foreground_event(cls) -> ApplicationStateTransitionEvent:
        """The app came to the foreground."""
        return cls(application_transition_type="application_foreground")

    @classmethod
    def create_background_event(cls) -> ApplicationStateTransitionEvent:
        """The app went to the background."""
        return cls(application_transition_type="application_background")
