"""Promotions viewed or clicked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, one_of

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.promotion import Promotion

__all__ = ["PromotionAction"]


class PromotionAction(Model):
    """Promotions viewed or clicked."""

    action: str | None
    promotions: list[Promotion] | None

    swagger_types: ClassVar[dict[str, str]] = {
        "action": "str",
        "promotions": "list[Promotion]",
    }
    checks: ClassVar[dict[str, Any]] = {
        "action": one_of(("unknown", "view", "click")),
    }
