"""The device: model, OS, identifiers (advertising ids must be UUIDs)."""

from __future__ import annotations

from typing import Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, check_uuid, one_of, uuid_error

__all__ = ["DeviceInformation"]


class DeviceInformation(Model):
    """The device: model, OS, identifiers (advertising ids must be UUIDs)."""

    brand: str | None
    product: str | None
    device: str | None
    android_uuid: str | None
    device_manufacturer: str | None
    platform: str | None
    os_version: str | None
    device_model: str | None
    screen_height: int | None
    screen_width: int | None
    screen_dpi: int | None
    device_country: str | None
    locale_language: str | None
    locale_country: str | None
    network_country: str | None
    network_carrier: str | None
    network_code: str | None
    network_mobile_country_code: str | None
    timezone_offset: int | None
    build_identifier: str | None
    http_header_user_agent: str | None
    ios_advertising_id: str | None
    push_token: str | None
    cpu_architecture: str | None
    is_tablet: bool | None
    push_notification_sound_enabled: bool | None
    push_notification_vibrate_enabled: bool | None
    radio_access_technology: str | None
    supports_telephony: bool | None
    has_nfc: bool | None
    bluetooth_enabled: bool | None
    bluetooth_version: str | None
    amp_id: str | None
    roku_advertising_id: str | None
    roku_publisher_id: str | None
    microsoft_advertising_id: str | None
    microsoft_publisher_id: str | None
    fire_advertising_id: str | None
    att_timestamp_unixtime_ms: int | None
    att_authorization_status: str | None
    ios_idfv: str | None
    android_advertising_id: str | None

    swagger_types: ClassVar[dict[str, str]] = {
        "brand": "str",
        "product": "str",
        "device": "str",
        "android_uuid": "str",
        "device_manufacturer": "str",
        "platform": "str",
        "os_version": "str",
        "device_model": "str",
        "screen_height": "int",
        "screen_width": "int",
        "screen_dpi": "int",
        "device_country": "str",
        "locale_language": "str",
        "locale_country": "str",
        "network_country": "str",
        "network_carrier": "str",
        "network_code": "str",
        "network_mobile_country_code": "str",
        "timezone_offset": "int",
        "build_identifier": "str",
        "http_header_user_agent": "str",
        "ios_advertising_id": "str",
        "push_token": "str",
        "cpu_architecture": "str",
        "is_tablet": "bool",
        "push_notification_sound_enabled": "bool",
        "push_notification_vibrate_enabled": "bool",
        "radio_access_technology": "str",
        "supports_telephony": "bool",
        "has_nfc": "bool",
        "bluetooth_enabled": "bool",
        "bluetooth_version": "str",
        "amp_id": "str",
        "roku_advertising_id": "str",
        "roku_publisher_id": "str",
        "microsoft_advertising_id": "str",
        "microsoft_publisher_id": "str",
        "fire_advertising_id": "str",
        "att_timestamp_unixtime_ms": "int",
        "att_authorization_status": "str",
        "ios_idfv": "str",
        "android_advertising_id": "str",
    }
    order: ClassVar[tuple[str, ...]] = (
        "brand",
        "product",
        "device",
        "android_uuid",
        "device_manufacturer",
        "platform",
        "os_version",
        "device_model",
        "screen_height",
        "screen_width",
        "screen_dpi",
        "device_country",
        "locale_language",
        "locale_country",
        "network_country",
        "network_carrier",
        "network_code",
        "network_mobile_country_code",
        "timezone_offset",
        "build_identifier",
        "http_header_user_agent",
        "ios_advertising_id",
        "push_token",
        "cpu_architecture",
        "is_tablet",
        "push_notification_sound_enabled",
        "push_notification_vibrate_enabled",
        "radio_access_technology",
        "supports_telephony",
        "has_nfc",
        "bluetooth_enabled",
        "bluetooth_version",
        "att_timestamp_unixtime_ms",
        "att_authorization_status",
        "ios_idfv",
        "android_advertising_id",
        "amp_id",
        "roku_advertising_id",
        "roku_publisher_id",
        "microsoft_advertising_id",
        "microsoft_publisher_id",
        "fire_advertising_id",
    )
    checks: ClassVar[dict[str, Any]] = {
        "platform": one_of(
            (
                "Unknown",
                "iOS",
                "Android",
                "web",
                "tvOS",
                "roku",
                "out_of_band",
                "alexa",
                "smart_tv",
                "fire_tv",
                "xbox",
            )
        ),
        "att_authorization_status": one_of(
            ("authorized", "denied", "not_determined", "restricted")
        ),
        "android_advertising_id": check_uuid,
        "fire_advertising_id": check_uuid,
        "ios_advertising_id": check_uuid,
        "ios_idfv": check_uuid,
        "roku_advertising_id": check_uuid,
    }

    @staticmethod
    def validateUUID(uuid_string: str | None) -> ValueError | None:
        """None if ``uuid_string`` is None or a valid UUID, else the error saying why not."""
        return uuid_error(uuid_string)
