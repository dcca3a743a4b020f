"""Enums for the values the Events API restricts, for editors and type checkers.

Every member is a ``str``, so a member and its plain string are interchangeable anywhere a
model takes one. The accepted values themselves are defined once, in
:mod:`trackwire.mparticle.schema`; a unit test holds each enum equal to its schema tuple.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "ApplicationTransitionType",
    "CustomEventType",
    "Environment",
    "IdentityType",
    "ProductActionType",
    "PromotionActionType",
]


class Environment(str, Enum):
    """A batch's ``environment``: mParticle keeps test data apart from live data by it."""

    production = "production"
    development = "development"


class CustomEventType(str, Enum):
    """An :class:`~trackwire.mparticle.AppEvent`'s ``custom_event_type``."""

    navigation = "navigation"
    location = "location"
    search = "search"
    transaction = "transaction"
    user_content = "user_content"
    user_preference = "user_preference"
    social = "social"
    other = "other"
    media = "media"
    attribution = "attribution"


class ProductActionType(str, Enum):
    """A :class:`~trackwire.mparticle.ProductAction`'s ``action``."""

    add_to_cart = "add_to_cart"
    remove_from_cart = "remove_from_cart"
    checkout = "checkout"
    checkout_option = "checkout_option"
    click = "click"
    view_detail = "view_detail"
    purchase = "purchase"
    refund = "refund"
    add_to_wishlist = "add_to_wishlist"
    remove_from_wish_list = "remove_from_wish_list"


class PromotionActionType(str, Enum):
    """A :class:`~trackwire.mparticle.PromotionAction`'s ``action``."""

    view = "view"
    click = "click"


class ApplicationTransitionType(str, Enum):
    """An application state transition's ``application_transition_type``."""

    application_initialized = "application_initialized"
    application_exit = "application_exit"
    application_background = "application_background"
    application_foreground = "application_foreground"


class IdentityType(str, Enum):
    """The ``identity_type`` of a user identity change (the ``user_identities`` keys)."""

    customer_id = "customer_id"
    email = "email"
    other = "other"
    other_id_2 = "other_id_2"
    other_id_3 = "other_id_3"
    other_id_4 = "other_id_4"
    other_id_5 = "other_id_5"
    other_id_6 = "other_id_6"
    other_id_7 = "other_id_7"
    other_id_8 = "other_id_8"
    other_id_9 = "other_id_9"
    other_id_10 = "other_id_10"
    mobile_number = "mobile_number"
    phone_number_2 = "phone_number_2"
    phone_number_3 = "phone_number_3"
    facebook = "facebook"
    twitter = "twitter"
    google = "google"
    microsoft = "microsoft"
    yahoo = "yahoo"
    alias = "alias"
    facebook_custom_audience_id = "facebook_custom_audience_id"
