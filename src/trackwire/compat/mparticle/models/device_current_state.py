"""The device's state when an event happened."""

from __future__ import annotations

from typing import Any, ClassVar

from trackwire.compat.mparticle.models._model import Check, Model, one_of

__all__ = ["DeviceCurrentState"]

ORIENTATIONS: Check = one_of(
    (
        "unknown",
        "portrait",
        "portrait_upside_down",
        "landscape",
        "LandscapeLeft",
        "LandscapeRight",
        "FaceUp",
        "FaceDown",
        "Square",
    )
)


class DeviceCurrentState(Model):
    """The device's state when an event happened."""

    time_since_start_ms: int | None
    battery_level: float | None
    data_connection_type: str | None
    data_connection_type_detail: str | None
    gps_state: bool | None
    total_system_memory_usage_bytes: int | None
    disk_space_free_bytes: int | None
    cpu: str | None
    system_memory_available_bytes: float | None
    system_memory_low: bool | None
    system_memory_threshold_bytes: float | None
    application_memory_available_bytes: float | None
    application_memory_max_bytes: float | None
    application_memory_total_bytes: float | None
    device_orientation: str | None
    status_bar_orientation: str | None

    swagger_types: ClassVar[dict[str, str]] = {
        "time_since_start_ms": "int",
        "battery_level": "float",
        "data_connection_type": "str",
        "data_connection_type_detail": "str",
        "gps_state": "bool",
        "total_system_memory_usage_bytes": "int",
        "disk_space_free_bytes": "int",
        "cpu": "str",
        "system_memory_available_bytes": "float",
        "system_memory_low": "bool",
        "system_memory_threshold_bytes": "float",
        "application_memory_available_bytes": "float",
        "application_memory_max_bytes": "float",
        "application_memory_total_bytes": "float",
        "device_orientation": "str",
        "status_bar_orientation": "str",
    }
    checks: ClassVar[dict[str, Any]] = {
        "device_orientation": ORIENTATIONS,
        "status_bar_orientation": ORIENTATIONS,
    }
