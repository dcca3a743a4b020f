"""A product in a commerce event."""

from __future__ import annotations

from typing import Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, check_attribute_bag

__all__ = ["Product"]


class Product(Model):
    """A product in a commerce event."""

    id: str | None
    name: str | None
    brand: str | None
    category: str | None
    variant: str | None
    position: int | None
    price: float | None
    quantity: float | None
    coupon_code: str | None
    added_to_cart_time_ms: int | None
    total_product_amount: float | None
    custom_attributes: dict[str, Any] | None

    swagger_types: ClassVar[dict[str, str]] = {
        "id": "str",
        "name": "str",
        "brand": "str",
        "category": "str",
        "variant": "str",
        "position": "int",
        "price": "float",
        "quantity": "float",
        "coupon_code": "str",
        "added_to_cart_time_ms": "int",
        "total_product_amount": "float",
        "custom_attributes": "dict(str, str)",
    }
    checks: ClassVar[dict[str, Any]] = {
        "custom_attributes": check_attribute_bag,
    }
