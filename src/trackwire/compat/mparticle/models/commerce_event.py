"""A commerce event: a product action, promotion action or impressions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, check_attribute_bag

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.device_current_state import DeviceCurrentState
    from trackwire.compat.mparticle.models.geo_location import GeoLocation
    from trackwire.compat.mparticle.models.product_action import ProductAction
    from trackwire.compat.mparticle.models.product_impression import ProductImpression
    from trackwire.compat.mparticle.models.promotion_action import PromotionAction
    from trackwire.compat.mparticle.models.shopping_cart import ShoppingCart

__all__ = ["CommerceEvent"]


class CommerceEvent(Model):
    """A commerce event: a product action, promotion action or impressions."""

    timestamp_unixtime_ms: int | None
    event_id: int | None
    source_message_id: str | None
    session_id: int | None
    session_uuid: str | None
    custom_attributes: dict[str, Any] | None
    location: GeoLocation | None
    device_current_state: DeviceCurrentState | None
    product_action: ProductAction | None
    promotion_action: PromotionAction | None
    product_impressions: list[ProductImpression] | None
    shopping_cart: ShoppingCart | None
    currency_code: str | None
    screen_name: str | None
    is_non_interactive: bool | None
    custom_flags: dict[str, Any] | None

    swagger_types: ClassVar[dict[str, str]] = {
        "timestamp_unixtime_ms": "int",
        "event_id": "int",
        "source_message_id": "str",
        "session_id": "int",
        "session_uuid": "str",
        "custom_attributes": "dict(str, str)",
        "location": "GeoLocation",
        "device_current_state": "DeviceCurrentState",
        "product_action": "ProductAction",
        "promotion_action": "PromotionAction",
        "product_impressions": "list[ProductImpression]",
        "shopping_cart": "ShoppingCart",
        "currency_code": "str",
        "screen_name": "str",
        "is_non_interactive": "bool",
        "custom_flags": "dict(str, str)",
    }
    order: ClassVar[tuple[str, ...]] = (
        "product_action",
        "timestamp_unixtime_ms",
        "event_id",
        "source_message_id",
        "session_id",
        "session_uuid",
        "custom_attributes",
        "location",
        "device_current_state",
        "promotion_action",
        "product_impressions",
        "shopping_cart",
        "currency_code",
        "screen_name",
        "is_non_interactive",
        "custom_flags",
    )
    checks: ClassVar[dict[str, Any]] = {
        "custom_attributes": check_attribute_bag,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actions = (self.product_action, self.product_impressions, self.promotion_action)
        if all(action is None for action in actions):
            raise ValueError(
                "At least one of: product_action, product_impressions, or promotion_action "
                "is required."
            )
