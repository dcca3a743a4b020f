"""The products in the cart."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from trackwire.compat.mparticle.models._model import Model

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.product import Product

__all__ = ["ShoppingCart"]


class ShoppingCart(Model):
    """The products in the cart."""

    products: list[Product] | None

    swagger_types: ClassVar[dict[str, str]] = {
        "products": "list[Product]",
    }
