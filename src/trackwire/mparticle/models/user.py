"""Who the batch is about: identities, device, application, consent, data plan, location."""

from __future__ import annotations

import time
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from trackwire.errors import ValidationError
from trackwire.mparticle.models._base import Model
from trackwire.mparticle.schema import CCPA_PURPOSE

__all__ = [
    "ApplicationInformation",
    "BatchContext",
    "CCPAConsentState",
    "ConsentState",
    "DataPlanContext",
    "DeviceInformation",
    "GDPRConsentState",
    "GeoLocation",
    "UserIdentities",
]


@dataclass(init=False, repr=False, slots=True)
class UserIdentities(Model):
    """The user's identities (``user_identities``); every value is a string.

    ``customerid``, the official packages' spelling, is accepted as an argument and as an
    attribute; it is the same value as ``customer_id`` and is sent as ``customer_id``, the key
    mParticle documents (the official packages send ``customerid``, which mParticle's schema
    refuses).
    """

    customer_id: str | None = None
    email: str | None = None
    other: str | None = None
    other_id_2: str | None = None
    other_id_3: str | None = None
    other_id_4: str | None = None
    other_id_5: str | None = None
    other_id_6: str | None = None
    other_id_7: str | None = None
    other_id_8: str | None = None
    other_id_9: str | None = None
    other_id_10: str | None = None
    mobile_number: str | None = None
    phone_number_2: str | None = None
    phone_number_3: str | None = None
    facebook: str | None = None
    twitter: str | None = None
    google: str | None = None
    microsoft: str | None = None
    yahoo: str | None = None
    alias: str | None = None
    facebook_custom_audience_id: str | None = None

    def __init__(
        self,
        *,
        customer_id: str | None = None,
        email: str | None = None,
        other: str | None = None,
        other_id_2: str | None = None,
        other_id_3: str | None = None,
        other_id_4: str | None = None,
        other_id_5: str | None = None,
        other_id_6: str | None = None,
        other_id_7: str | None = None,
        other_id_8: str | None = None,
        other_id_9: str | None = None,
        other_id_10: str | None = None,
        mobile_number: str | None = None,
        phone_number_2: str | None = None,
        phone_number_3: str | None = None,
        facebook: str | None = None,
        twitter: str | None = None,
        google: str | None = None,
        microsoft: str | None = None,
        yahoo: str | None = None,
        alias: str | None = None,
        facebook_custom_audience_id: str | None = None,
        customerid: str | None = None,
    ) -> None:
        if customerid is not None and customer_id is not None and customerid != customer_id:
            raise ValidationError(
                "user_identities.customer_id", "customerid and customer_id differ; pass one"
            )
        self.customer_id = customer_id if customer_id is not None else customerid
        self.email = email
        self.other = other
        self.other_id_2 = other_id_2
        self.other_id_3 = other_id_3
        self.other_id_4 = other_id_4
        self.other_id_5 = other_id_5
        self.other_id_6 = other_id_6
        self.other_id_7 = other_id_7
        self.other_id_8 = other_id_8
        self.other_id_9 = other_id_9
        self.other_id_10 = other_id_10
        self.mobile_number = mobile_number
        self.phone_number_2 = phone_number_2
        self.phone_number_3 = phone_number_3
        self.facebook = facebook
        self.twitter = twitter
        self.google = google
        self.microsoft = microsoft
        self.yahoo = yahoo
        self.alias = alias
        self.facebook_custom_audience_id = facebook_custom_audience_id

    @property
    def customerid(self) -> str | None:
        """The official packages' name for :attr:`customer_id`."""
        return self.customer_id

    @customerid.setter
    def customerid(self, value: str | None) -> None:
        self.customer_id = value


@dataclass(kw_only=True, repr=False, slots=True)
class DeviceInformation(Model):
    """The device the batch's events came from (``device_info``).

    The advertising ids (``ios_advertising_id``, ``android_advertising_id``, ...) are what most
    audience integrations match on; ``platform`` is one of
    :data:`~trackwire.mparticle.schema.DEVICE_PLATFORMS` (``"web"`` for a browser).
    """

    brand: str | None = None
    product: str | None = None
    device: str | None = None
    android_uuid: str | None = None
    device_manufacturer: str | None = None
    platform: str | None = None
    os_version: str | None = None
    device_model: str | None = None
    screen_height: int | None = None
    screen_width: int | None = None
    screen_dpi: int | None = None
    device_country: str | None = None
    locale_language: str | None = None
    locale_country: str | None = None
    network_country: str | None = None
    network_carrier: str | None = None
    network_code: str | None = None
    network_mobile_country_code: str | None = None
    timezone_offset: int | None = None
    build_identifier: str | None = None
    http_header_user_agent: str | None = None
    ios_advertising_id: str | None = None
    ios_idfv: str | None = None
    android_advertising_id: str | None = None
    roku_advertising_id: str | None = None
    roku_publisher_id: str | None = None
    microsoft_advertising_id: str | None = None
    microsoft_publisher_id: str | None = None
    fire_advertising_id: str | None = None
    amp_id: str | None = None
    att_authorization_status: str | None = None
    att_timestamp_unixtime_ms: Any = None
    push_token: str | None = None
    cpu_architecture: str | None = None
    is_tablet: bool | None = None
    push_notification_sound_enabled: bool | None = None
    push_notification_vibrate_enabled: bool | None = None
    radio_access_technology: str | None = None
    supports_telephony: bool | None = None
    has_nfc: bool | None = None
    bluetooth_enabled: bool | None = None
    bluetooth_version: str | None = None
    limit_ad_tracking: bool | None = None
    is_dst: bool | None = None
    build_version_release: str | None = None


@dataclass(kw_only=True, repr=False, slots=True)
class ApplicationInformation(Model):
    """The application that produced the batch (``application_info``)."""

    application_name: str | None = None
    application_version: str | None = None
    application_build_number: str | None = None
    install_referrer: str | None = None
    package: str | None = None
    os: str | None = None
    apple_search_ads_attributes: dict[str, dict[str, str]] | None = None


@dataclass(repr=False, slots=True)
class GeoLocation(Model):
    """A position (an event's ``location`` or the batch context's); both coordinates required."""

    latitude: float | None = None
    longitude: float | None = None
    accuracy: float | None = None
    _: KW_ONLY
    country_code: str | None = None
    region_code: str | None = None
    city_name: str | None = None
    postal_code: str | None = None
    dma_code: int | None = None
    location_source: str | None = None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(kw_only=True, repr=False, slots=True)
class GDPRConsentState(Model):
    """One consent purpose's state: ``consented`` and when (``timestamp_unixtime_ms``).

    The timestamp defaults to the time the object is made (mParticle requires one; its native
    SDKs fill it the same way). For CCPA, ``consented=True`` means the user opted OUT of data
    sale.
    """

    consented: bool | None = None
    document: str | None = None
    timestamp_unixtime_ms: Any = field(default_factory=_now_ms)
    location: str | None = None
    hardware_id: str | None = None
    regulation: str | None = None


class CCPAConsentState(GDPRConsentState):
    """The CCPA ``data_sale_opt_out`` purpose's state; ``consented=True`` = opted out of sale."""

    __slots__ = ()


@dataclass(kw_only=True, repr=False, slots=True)
class ConsentState(Model):
    """The user's consent (``consent_state``).

    Args:
        gdpr: GDPR purposes by name (as set up in the workspace's privacy settings).
        ccpa: ``{"data_sale_opt_out": state}``, or the state alone.
    """

    gdpr: dict[str, GDPRConsentState] | None = None
    ccpa: dict[str, CCPAConsentState] | CCPAConsentState | None = None

    def to_dict(self, path: str = "") -> dict[str, Any]:
        """The JSON object; a lone CCPA state is sent as the ``data_sale_opt_out`` purpose."""
        ccpa = self.ccpa
        if isinstance(ccpa, GDPRConsentState):
            return ConsentState(gdpr=self.gdpr, ccpa={CCPA_PURPOSE: ccpa}).to_dict(path)
        return Model.to_dict(self, path)


@dataclass(repr=False, slots=True)
class DataPlanContext(Model):
    """The data plan (``plan_id``, optional ``plan_version``, latest if unset) to validate with."""

    plan_id: str | None = None
    plan_version: int | None = None


@dataclass(kw_only=True, repr=False, slots=True)
class BatchContext(Model):
    """The batch's ``context``: its data plan and location."""

    data_plan: DataPlanContext | None = None
    location: GeoLocation | None = None
