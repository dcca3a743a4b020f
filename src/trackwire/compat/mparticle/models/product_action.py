"""What happened to products: add to cart, purchase, refund, ..."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, one_of

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.product import Product

__all__ = ["ProductAction"]


class ProductAction(Model):
    """What happened to products: add to cart, purchase, refund, ..."""

    action: str | None
    checkout_step: int | None
    checkout_options: str | None
    product_action_list: str | None
    product_list_source: str | None
    transaction_id: str | None
    affiliation: str | None
    total_amount: float | None
    tax_amount: float | None
    shipping_amount: float | None
    coupon_code: str | None
    products: list[Product] | None

    swagger_types: ClassVar[dict[str, str]] = {
        "action": "str",
        "checkout_step": "int",
        "checkout_options": "str",
        "product_action_list": "str",
        "product_list_source": "str",
        "transaction_id": "str",
        "affiliation": "str",
        "total_amount": "float",
        "tax_amount": "float",
        "shipping_amount": "float",
        "coupon_code": "str",
        "products": "list[Product]",
    }
    checks: ClassVar[dict[str, Any]] = {
        "action": one_of(
            (
                "unknown",
                "add_to_cart",
                "remove_from_cart",
                "checkout",
                "checkout_option",
                "click",
                "view_detail",
                "purchase",
                "refund",
                "add_to_wishlist",
                "remove_from_wish_list",
            )
        ),
    }
