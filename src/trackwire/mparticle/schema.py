"""mParticle's Events API v2 vocabulary and limits: what a batch may hold, and how much.

Enum values, identity keys, consent fields, the per-event-type field tables and the size
limits, taken from mParticle's live JSON Schema and docs, with a note wherever trackwire has to
choose between sources that disagree. The checks in :mod:`.wire` apply them; keeping the tables
in one place lets them be read, and compared with mParticle's schema, apart from the code that
walks a batch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

__all__ = [
    "APPLICATION_OS",
    "APPLICATION_TRANSITION_TYPES",
    "ATT_STATUSES",
    "CCPA_PURPOSE",
    "COMMERCE_CUSTOM_EVENT_TYPES",
    "CONSENT_PURPOSE_FIELDS",
    "CUSTOM_EVENT_TYPES",
    "DEVICE_PLATFORMS",
    "ENVIRONMENTS",
    "EVENT_TYPES",
    "HISTORICAL_MIN_AGE_MS",
    "IDENTITY_ALIASES",
    "IDENTITY_KEYS",
    "LOCATION_SOURCES",
    "MAX_ATTRIBUTE_NAME_LENGTH",
    "MAX_ATTRIBUTE_VALUE_LENGTH",
    "MAX_BATCH_BYTES",
    "MAX_BULK_BATCHES",
    "MAX_EVENT_ATTRIBUTES",
    "MAX_EVENT_NAME_LENGTH",
    "MAX_REQUEST_BYTES",
    "MAX_USER_ATTRIBUTES",
    "MAX_USER_ATTRIBUTE_LIST_ITEMS",
    "MAX_USER_ATTRIBUTE_LIST_ITEM_LENGTH",
    "PRODUCT_ACTIONS",
    "PROFILE_EVENT_TYPES",
    "PROMOTION_ACTIONS",
    "REALTIME_MAX_AGE_MS",
]

#: Batches per bulk request.
MAX_BULK_BATCHES: Final = 100
#: Largest batch and request, encoded. mParticle says "128 KB" and "256 KB" without saying
#: which kilobyte; the smaller reading is the safe one for a client. mParticle does not document
#: the status of an oversize request; the collector answers 413 (its own choice).
MAX_BATCH_BYTES: Final = 128_000
MAX_REQUEST_BYTES: Final = 256_000
#: Service limits mParticle enforces by truncating or dropping, never by refusing a request;
#: :func:`~.wire.check_batch` does not check them.
MAX_EVENT_NAME_LENGTH: Final = 256
MAX_EVENT_ATTRIBUTES: Final = 100
MAX_ATTRIBUTE_NAME_LENGTH: Final = 256
MAX_ATTRIBUTE_VALUE_LENGTH: Final = 4096
MAX_USER_ATTRIBUTES: Final = 100
MAX_USER_ATTRIBUTE_LIST_ITEMS: Final = 1000
MAX_USER_ATTRIBUTE_LIST_ITEM_LENGTH: Final = 512
#: Events older than this (30 days) belong on the historical endpoint.
REALTIME_MAX_AGE_MS: Final = 30 * 24 * 3600 * 1000
#: Events on the historical endpoint must be at least this old (72 hours).
HISTORICAL_MIN_AGE_MS: Final = 72 * 3600 * 1000

#: The batch's required ``environment``. The OAS also lists ``unknown``; the live schema and the
#: Python SDK's setter do not, so neither does trackwire.
ENVIRONMENTS: Final = ("production", "development")
#: Every ``event_type`` in the live schema (the docs table lists only the first 13 "classic" ones).
EVENT_TYPES: Final = (
    "custom_event", "commerce_event", "session_start", "session_end", "screen_view", "uninstall",
    "crash_report", "opt_out", "push_registration", "application_state_transition",
    "push_message", "network_performance", "breadcrumb", "first_run", "pre_attribution",
    "profile", "push_reaction", "user_attribute_change", "user_identity_change",
)  # fmt: skip
#: ``custom_event_type`` of a custom event: the schema's nine plus ``attribution`` (documented
#: for attribution events, missing from the schema enum).
CUSTOM_EVENT_TYPES: Final = (
    "navigation", "location", "search", "transaction", "user_content", "user_preference",
    "social", "other", "media", "attribution",
)  # fmt: skip
#: ``product_action.action``; note ``remove_from_wish_list``, unlike the event type below.
PRODUCT_ACTIONS: Final = (
    "add_to_cart", "remove_from_cart", "checkout", "checkout_option", "click", "view_detail",
    "purchase", "refund", "add_to_wishlist", "remove_from_wish_list",
)  # fmt: skip
#: ``custom_event_type`` of a commerce event (normally derived by mParticle).
COMMERCE_CUSTOM_EVENT_TYPES: Final = (
    *CUSTOM_EVENT_TYPES[:9],
    "add_to_cart", "remove_from_cart", "checkout", "checkout_option", "click", "view_detail",
    "purchase", "refund", "promotion_view", "promotion_click", "add_to_wishlist",
    "remove_from_wishlist", "impression", "attribution", "consent_granted", "consent_denied",
)  # fmt: skip
#: ``promotion_action.action``.
PROMOTION_ACTIONS: Final = ("view", "click")
#: ``user_identities`` keys (all string values).
IDENTITY_KEYS: Final = (
    "customer_id", "email", "other", "other_id_2", "other_id_3", "other_id_4", "other_id_5",
    "other_id_6", "other_id_7", "other_id_8", "other_id_9", "other_id_10", "mobile_number",
    "phone_number_2", "phone_number_3", "facebook", "twitter", "google", "microsoft", "yahoo",
    "alias", "facebook_custom_audience_id",
)  # fmt: skip
#: Spellings the official Python and Node SDKs send, and the documented key they stand for.
IDENTITY_ALIASES: Final[Mapping[str, str]] = {"customerid": "customer_id"}
#: ``device_info.platform`` (the OAS adds ``desktop``, the Python SDK ``Unknown``; not accepted).
DEVICE_PLATFORMS: Final = (
    "iOS", "Android", "web", "tvOS", "roku", "out_of_band", "alexa", "smart_tv", "fire_tv", "xbox",
)  # fmt: skip
#: ``application_info.os``.
APPLICATION_OS: Final = (
    "IOS", "Android", "WindowsPhone", "MobileWeb", "UnityIOS", "UnityAndroid", "Desktop", "TVOS",
    "Roku", "OutOfBand", "Alexa", "SmartTV", "FireTV", "Xbox", "Unknown",
)  # fmt: skip
#: ``device_info.att_authorization_status``.
ATT_STATUSES: Final = ("authorized", "denied", "not_determined", "restricted")
#: ``application_transition_type`` of an application_state_transition event.
APPLICATION_TRANSITION_TYPES: Final = (
    "application_initialized", "application_exit", "application_background",
    "application_foreground",
)  # fmt: skip
#: ``profile_event_type`` of a profile event.
PROFILE_EVENT_TYPES: Final = ("signup", "login", "logout", "update", "delete")
#: ``location_source`` of a GeoLocation.
LOCATION_SOURCES: Final = ("unknown", "ip_lookup", "lat_long")
#: CCPA's only purpose; ``consented: true`` means the user opted OUT of data sale.
CCPA_PURPOSE: Final = "data_sale_opt_out"
#: Fields of one consent purpose (GDPR purposes are named freely, as set up in the workspace).
CONSENT_PURPOSE_FIELDS: Final = (
    "consented", "timestamp_unixtime_ms", "document", "location", "hardware_id", "regulation",
)  # fmt: skip

_UUID: Final = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_UUID_DEVICE_FIELDS: Final = (
    "ios_advertising_id", "ios_idfv", "android_advertising_id", "roku_advertising_id",
    "roku_publisher_id", "fire_advertising_id",
)  # fmt: skip
_DEVICE_BOOLS: Final = (
    "is_tablet", "push_notification_sound_enabled", "push_notification_vibrate_enabled",
    "supports_telephony", "has_nfc", "bluetooth_enabled", "limit_ad_tracking", "is_dst",
)  # fmt: skip
# Per event type: fields the schema requires in ``data`` (session_end's duration is left out:
# the docs call it optional) and the enum some of them must match.
_REQUIRED_DATA: Final[Mapping[str, tuple[str, ...]]] = {
    "custom_event": ("event_name", "custom_event_type"),
    "screen_view": ("screen_name",),
    "application_state_transition": ("application_transition_type",),
    "crash_report": ("severity", "message"),
    "opt_out": ("is_opted_out",),
    "push_registration": ("register", "registration_token"),
    "push_message": ("push_message_type", "push_message_token", "push_notification_payload"),
    "network_performance": ("url", "response_code"),
    "breadcrumb": ("label",),
    "profile": ("previous_mpid", "current_mpid", "profile_event_type"),
    "user_attribute_change": ("user_attribute_name",),
    "user_identity_change": ("new", "old"),
}
_DATA_ENUMS: Final[Mapping[tuple[str, str], tuple[str, ...]]] = {
    ("custom_event", "custom_event_type"): CUSTOM_EVENT_TYPES,
    ("commerce_event", "custom_event_type"): COMMERCE_CUSTOM_EVENT_TYPES,
    ("application_state_transition", "application_transition_type"): APPLICATION_TRANSITION_TYPES,
    ("profile", "profile_event_type"): PROFILE_EVENT_TYPES,
    ("push_message", "push_message_type"): ("sent", "received", "action"),
}
# JSON type of known ``data`` fields, whatever the event type (objects are checked on their own).
_DATA_INTS: Final = (
    "timestamp_unixtime_ms", "session_id", "event_id", "session_start_unixtime_ms",
    "event_start_unixtime_ms", "session_duration_ms", "previous_mpid", "current_mpid",
    "response_code",
)  # fmt: skip
_DATA_STRINGS: Final = (
    "source_message_id", "session_uuid", "event_name", "screen_name", "custom_event_type",
    "currency_code", "application_transition_type", "severity", "message", "label", "url",
    "registration_token", "profile_event_type", "user_attribute_name",
)  # fmt: skip
_DATA_BOOLS: Final = (
    "is_non_interactive", "is_opted_out", "register", "is_first_run", "is_upgrade",
    "successfully_closed", "deleted", "is_new_attribute",
)  # fmt: skip
_DATA_TYPES: Final[Mapping[str, str]] = {
    **dict.fromkeys(_DATA_INTS, "int"),
    **dict.fromkeys(_DATA_STRINGS, "str"),
    **dict.fromkeys(_DATA_BOOLS, "bool"),
    "product_impressions": "array",
}
_PRODUCT_TYPES: Final[Mapping[str, str]] = {
    **dict.fromkeys(("id", "name", "brand", "category", "variant", "coupon_code"), "str"),
    **dict.fromkeys(("price", "quantity", "total_product_amount"), "number"),
    "position": "int",
    "added_to_cart_time_ms": "int",
}
_ACTION_STRINGS: Final = (
    "transaction_id", "affiliation", "coupon_code", "checkout_options", "product_action_list",
    "product_list_source",
)  # fmt: skip
_PRODUCT_ACTION_TYPES: Final[Mapping[str, str]] = {
    **dict.fromkeys(_ACTION_STRINGS, "str"),
    **dict.fromkeys(("total_amount", "tax_amount", "shipping_amount"), "number"),
    "checkout_step": "int",
}
_COMMERCE_VARIANTS: Final = ("product_action", "promotion_action", "product_impressions")
