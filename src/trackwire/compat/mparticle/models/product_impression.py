"""Products shown in a list."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from trackwire.compat.mparticle.models._model import Model

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.product import Product

__all__ = ["ProductImpression"]


class ProductImpression(Model):
    """Products shown in a list."""

    product_impression_list: str | None
    products: list[Product] | None

    swagger_types: ClassVar[dict[str, str]] = {
        "product_impression_list": "str",
        "products": "list[Product]",
    }
