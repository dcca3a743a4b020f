"""An app crash."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, check_attribute_bag

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.breadcrumb_event import BreadcrumbEvent
    from trackwire.compat.mparticle.models.device_current_state import DeviceCurrentState
    from trackwire.compat.mparticle.models.geo_location import GeoLocation

__all__ = ["CrashReportEvent"]


class CrashReportEvent(Model):
    """An app crash."""

    timestamp_unixtime_ms: int | None
    event_id: int | None
    source_message_id: str | None
    session_id: int | None
    session_uuid: str | None
    custom_attributes: dict[str, Any] | None
    location: GeoLocation | None
    device_current_state: DeviceCurrentState | None
    breadcrumbs: list[BreadcrumbEvent] | None
    class_name: str | None
    severity: str | None
    message: str | None
    stack_trace: str | None
    exception_handled: bool | None
    topmost_context: str | None
    pl_crash_report_file_base64: str | None
    ios_image_base_address: int | None
    ios_image_size: int | None
    session_number: int | None

    swagger_types: ClassVar[dict[str, str]] = {
        "timestamp_unixtime_ms": "int",
        "event_id": "int",
        "source_message_id": "str",
        "session_id": "int",
        "session_uuid": "str",
        "custom_attributes": "dict(str, str)",
        "location": "GeoLocation",
        "device_current_state": "DeviceCurrentState",
        "breadcrumbs": "list[BreadcrumbEvent]",
        "class_name": "str",
        "severity": "str",
        "message": "str",
        "stack_trace": "str",
        "exception_handled": "bool",
        "topmost_context": "str",
        "pl_crash_report_file_base64": "str",
        "ios_image_base_address": "int",
        "ios_image_size": "int",
        "session_number": "int",
    }
    checks: ClassVar[dict[str, Any]] = {
        "custom_attributes": check_attribute_bag,
    }
