"""The user's identities (customer id, email, other ids, phone numbers)."""

from __future__ import annotations

from typing import ClassVar

from trackwire.compat.mparticle.models._model import Model

__all__ = ["UserIdentities"]


class UserIdentities(Model):
    """The user's identities (customer id, email, other ids, phone numbers)."""

    other: str | None
    customerid: str | None
    facebook: str | None
    twitter: str | None
    google: str | None
    microsoft: str | None
    yahoo: str | None
    email: str | None
    alias: str | None
    facebook_custom_audience_id: str | None
    other_id_2: str | None
    other_id_3: str | None
    other_id_4: str | None
    other_id_5: str | None
    other_id_6: str | None
    other_id_7: str | None
    other_id_8: str | None
    other_id_9: str | None
    other_id_10: str | None
    mobile_number: str | None
    phone_number_2: str | None
    phone_number_3: str | None

    # The official package sends `customerid`; mParticle documents (and reads) `customer_id`.
    wire_names: ClassVar[dict[str, str]] = {"customerid": "customer_id"}
    swagger_types: ClassVar[dict[str, str]] = {
        "other": "str",
        "customerid": "str",
        "facebook": "str",
        "twitter": "str",
        "google": "str",
        "microsoft": "str",
        "yahoo": "str",
        "email": "str",
        "alias": "str",
        "facebook_custom_audience_id": "str",
        "other_id_2": "str",
        "other_id_3": "str",
        "other_id_4": "str",
        "other_id_5": "str",
        "other_id_6": "str",
        "other_id_7": "str",
        "other_id_8": "str",
        "other_id_9": "str",
        "other_id_10": "str",
        "mobile_number": "str",
        "phone_number_2": "str",
        "phone_number_3": "str",
    }
