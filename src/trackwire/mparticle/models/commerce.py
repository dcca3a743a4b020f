"""Commerce events: product actions, promotions and impressions, with their products.

A commerce event carries exactly one of ``product_action``, ``promotion_action`` or
``product_impressions`` (mParticle's three variants). Amounts may be floats or ``Decimal``
(sent as JSON numbers).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from decimal import Decimal
from typing import Any, ClassVar

from trackwire.mparticle.models._base import Model
from trackwire.mparticle.models.enums import ProductActionType, PromotionActionType
from trackwire.mparticle.models.events import EventBase

__all__ = [
    "CommerceEvent",
    "Product",
    "ProductAction",
    "ProductImpression",
    "Promotion",
    "PromotionAction",
    "ShoppingCart",
]

Amount = float | int | Decimal


@dataclass(kw_only=True, repr=False, slots=True)
class Product(Model):
    """A product in a commerce event; every field optional."""

    id: str | None = None
    name: str | None = None
    brand: str | None = None
    category: str | None = None
    variant: str | None = None
    position: int | None = None
    price: Amount | None = None
    quantity: Amount | None = None
    coupon_code: str | None = None
    added_to_cart_time_ms: Any = None
    total_product_amount: Amount | None = None
    custom_attributes: dict[str, Any] | None = None


@dataclass(repr=False, slots=True)
class ProductAction(Model):
    """What happened to products: ``action`` (a :class:`ProductActionType`, required).

    ``transaction_id``, ``total_amount``, ``tax_amount`` and ``shipping_amount`` describe a
    purchase or refund.
    """

    ActionType: ClassVar[type[ProductActionType]] = ProductActionType

    action: str | None = None
    _: KW_ONLY
    products: list[Product] | None = None
    checkout_step: int | None = None
    checkout_options: str | None = None
    product_action_list: str | None = None
    product_list_source: str | None = None
    transaction_id: str | None = None
    affiliation: str | None = None
    total_amount: Amount | None = None
    tax_amount: Amount | None = None
    shipping_amount: Amount | None = None
    coupon_code: str | None = None


@dataclass(kw_only=True, repr=False, slots=True)
class Promotion(Model):
    """An internal promotion or campaign."""

    id: str | None = None
    name: str | None = None
    creative: str | None = None
    position: str | None = None


@dataclass(repr=False, slots=True)
class PromotionAction(Model):
    """A promotion seen or clicked: ``action`` (``view`` or ``click``) and the promotions."""

    ActionType: ClassVar[type[PromotionActionType]] = PromotionActionType

    action: str | None = None
    promotions: list[Promotion] | None = None


@dataclass(repr=False, slots=True)
class ProductImpression(Model):
    """Products shown in a named list (``product_impression_list``)."""

    product_impression_list: str | None = None
    products: list[Product] | None = None


@dataclass(repr=False, slots=True)
class ShoppingCart(Model):
    """The products in the user's cart."""

    products: list[Product] | None = None


@dataclass(repr=False, slots=True)
class CommerceEvent(EventBase):
    """A commerce event (``commerce_event``): one product action, promotion action or impressions.

    Args:
        product_action: products bought, viewed, added to the cart, ...
        promotion_action: promotions viewed or clicked.
        product_impressions: product lists shown.
        currency_code: ISO 4217 code of the amounts.
    """

    event_type: ClassVar[str] = "commerce_event"

    product_action: ProductAction | None = None
    promotion_action: PromotionAction | None = None
    product_impressions: list[ProductImpression] | None = None
    shopping_cart: ShoppingCart | None = None
    currency_code: str | None = None
    screen_name: str | None = None
    is_non_interactive: bool | None = None
    event_name: str | None = None
    custom_event_type: str | None = None
    custom_flags: dict[str, Any] | None = None
