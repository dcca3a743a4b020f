"""One network request the app made."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, check_attribute_bag

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.device_current_state import DeviceCurrentState
    from trackwire.compat.mparticle.models.geo_location import GeoLocation

__all__ = ["NetworkPerformanceEvent"]


class NetworkPerformanceEvent(Model):
    """One network request the app made."""

    timestamp_unixtime_ms: int | None
    event_id: int | None
    source_message_id: str | None
    session_id: int | None
    session_uuid: str | None
    custom_attributes: dict[str, Any] | None
    location: GeoLocation | None
    device_current_state: DeviceCurrentState | None
    http_verb: str | None
    url: str | None
    time_elapsed: int | None
    bytes_in: int | None
    bytes_out: int | None
    response_code: int | None
    data: str | None

    swagger_types: ClassVar[dict[str, str]] = {
        "timestamp_unixtime_ms": "int",
        "event_id": "int",
        "source_message_id": "str",
        "session_id": "int",
        "session_uuid": "str",
        "custom_attributes": "dict(str, str)",
        "location": "GeoLocation",
        "device_current_state": "DeviceCurrentState",
        "http_verb": "str",
        "url": "str",
        "time_elapsed": "int",
        "bytes_in": "int",
        "bytes_out": "int",
        "response_code": "int",
        "data": "str",
    }
    checks: ClassVar[dict[str, Any]] = {
        "custom_attributes": check_attribute_bag,
    }
