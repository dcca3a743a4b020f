"""Builders for identify operations and revenue, in the official SDKs' shape.

``Identify().set("plan", "pro").add("logins", 1)`` collects user (or group) property
operations; :class:`Revenue` collects a purchase. Mistakes raise
:class:`~trackwire.errors.ValidationError` where they are made, naming the property, instead
of being logged and skipped as the official SDKs do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from trackwire.amplitude.properties import (
    GROUP_PROPERTY_OPERATIONS,
    SET_RULE,
    USER_PROPERTY_OPERATIONS,
    _operations_problem,
)
from trackwire.errors import ValidationError

__all__ = ["Identify", "Revenue", "check_property_operations"]

_UNSET_VALUE: Final = "-"


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_property_operations(
    properties: Mapping[str, Any], field: str, allowed: tuple[str, ...] = USER_PROPERTY_OPERATIONS
) -> None:
    """Refuse a ``user_properties``/``group_properties`` object Amplitude would refuse.

    Plain objects pass. Objects of operations pass when every key is an allowed operation
    whose value maps property names to values (``$add`` values numbers).

    Raises:
        ValidationError: naming ``field``; the message explains Amplitude's ``$set`` rule when
            operations are mixed with plain properties.
    """
    problem = _operations_problem(properties, allowed)
    if problem is None:
        return
    if problem.startswith("mixes"):
        raise ValidationError(field, f"mixes operations with plain properties; {SET_RULE}")
    raise ValidationError(field, problem)


class Identify:
    """User (or group) property operations, applied by Amplitude in one identify.

    Each method returns the builder, so calls chain::

        Identify().set("plan", "pro").set_once("first_seen", "2026-01-01").add("logins", 1)

    A property may appear in one operation only, and nothing may follow ``clear_all()``:
    Amplitude applies the operations of one identify in no documented order, so two operations
    on one property would have no defined result.
    """

    __slots__ = ("_operations", "_seen")

    def __init__(self) -> None:
        self._operations: dict[str, Any] = {}
        self._seen: set[str] = set()

    def __repr__(self) -> str:
        return f"Identify({self._operations!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identify) and other._operations == self._operations

    __hash__ = None  # type: ignore[assignment]  # mutable builder

    @property
    def user_properties(self) -> dict[str, Any]:
        """The operations object sent as ``user_properties`` (or ``group_properties``)."""
        return {
            op: dict(value) if isinstance(value, dict) else value
            for op, value in self._operations.items()
        }

    def is_valid(self) -> bool:
        """True when at least one operation was added."""
        return bool(self._operations)

    def _add(self, op: str, key: object, value: Any) -> Identify:
        if "$clearAll" in self._operations:
            raise ValidationError(str(key), "no operation may follow clear_all()")
        if not isinstance(key, str) or not key:
            raise ValidationError("key", f"a property name must be a non-empty str, got {key!r}")
        if value is None:
            raise ValidationError(key, f"{op} needs a value; use unset({key!r}) to remove it")
        if key in self._seen:
            raise ValidationError(
                key, "already used in another operation of this Identify; use one per property"
            )
        self._seen.add(key)
        self._operations.setdefault(op, {})[key] = value
        return self

    def set(self, key: str, value: Any) -> Identify:
        """Set ``key`` to ``value``, overwriting it."""
        return self._add("$set", key, value)

    def set_once(self, key: str, value: Any) -> Identify:
        """Set ``key`` only if it has no value yet."""
        return self._add("$setOnce", key, value)

    def add(self, key: str, value: int | float) -> Identify:
        """Add the number ``value`` to ``key`` (a missing property counts as 0)."""
        if not _number(value):
            raise ValidationError(str(key), f"add() needs a number, got {type(value).__name__}")
        return self._add("$add", key, value)

    def append(self, key: str, value: Any) -> Identify:
        """Append ``value`` (or each item of a list) to the list in ``key``."""
        return self._add("$append", key, value)

    def prepend(self, key: str, value: Any) -> Identify:
        """Prepend ``value`` (or each item of a list) to the list in ``key``."""
        return self._add("$prepend", key, value)

    def pre_insert(self, key: str, value: Any) -> Identify:
        """Insert ``value`` at the start of the list in ``key`` unless it is already there."""
        return self._add("$preInsert", key, value)

    def post_insert(self, key: str, value: Any) -> Identify:
        """Insert ``value`` at the end of the list in ``key`` unless it is already there."""
        return self._add("$postInsert", key, value)

    def remove(self, key: str, value: Any) -> Identify:
        """Remove every occurrence of ``value`` (or of each item of a list) from ``key``."""
        return self._add("$remove", key, value)

    def unset(self, key: str) -> Identify:
        """Remove the property ``key``."""
        return self._add("$unset", key, _UNSET_VALUE)

    def clear_all(self) -> Identify:
        """Remove every user property; no other operation may be added to this Identify."""
        if self._operations:
            raise ValidationError("$clearAll", "clear_all() must be the only operation")
        self._operations["$clearAll"] = _UNSET_VALUE
        return self

    def group_properties(self) -> dict[str, Any]:
        """The operations as ``group_properties``.

        Raises:
            ValidationError: an operation groups do not support (only ``$set``, ``$setOnce``,
                ``$add``, ``$append``, ``$prepend`` and ``$unset`` are).
        """
        for op in self._operations:
            if op not in GROUP_PROPERTY_OPERATIONS:
                raise ValidationError(
                    op, f"group properties support only {', '.join(GROUP_PROPERTY_OPERATIONS)}"
                )
        return self.user_properties


class Revenue:
    """A purchase, sent as a ``revenue_amount`` event with ``$price``, ``$quantity``, ...

    Args:
        price: the unit price (negative for refunds); an int is accepted.
        quantity: units bought, a positive int. Default 1.
        product_id: the product's id.
        revenue_type: e.g. ``"purchase"`` or ``"refund"``.
        receipt: the store receipt, and ``receipt_sig`` its signature (revenue verification).
        properties: more event properties.
        revenue: the total; when None Amplitude uses ``price * quantity``.
        currency: three-letter ISO 4217 code, uppercase.

    Raises:
        ValidationError: a field has the wrong type, naming it.
    """

    __slots__ = (
        "currency",
        "price",
        "product_id",
        "properties",
        "quantity",
        "receipt",
        "receipt_sig",
        "revenue",
        "revenue_type",
    )

    def __init__(
        self,
        price: float,
        quantity: int = 1,
        product_id: str | None = None,
        revenue_type: str | None = None,
        receipt: str | None = None,
        receipt_sig: str | None = None,
        properties: Mapping[str, Any] | None = None,
        revenue: float | None = None,
        currency: str | None = None,
    ) -> None:
        if not _number(price):
            raise ValidationError("price", f"must be a number, got {type(price).__name__}")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ValidationError("quantity", f"must be a positive int, got {quantity!r}")
        if revenue is not None and not _number(revenue):
            raise ValidationError("revenue", f"must be a number, got {type(revenue).__name__}")
        for name, text in (
            ("product_id", product_id),
            ("revenue_type", revenue_type),
            ("receipt", receipt),
            ("receipt_sig", receipt_sig),
        ):
            if text is not None and not isinstance(text, str):
                raise ValidationError(name, f"must be a str, got {type(text).__name__}")
        if currency is not None and not (
            isinstance(currency, str) and len(currency) == 3 and currency.isalpha()
            and currency.isupper()
        ):  # fmt: skip
            raise ValidationError(
                "currency", f"must be a 3-letter ISO 4217 code like 'USD', got {currency!r}"
            )
        if properties is not None and not isinstance(properties, Mapping):
            raise ValidationError("properties", "must be a dict of event properties")
        self.price = price
        self.quantity = quantity
        self.product_id = product_id
        self.revenue_type = revenue_type
        self.receipt = receipt
        self.receipt_sig = receipt_sig
        self.properties = dict(properties) if properties is not None else None
        self.revenue = revenue
        self.currency = currency

    def __repr__(self) -> str:
        return (
            f"Revenue(price={self.price!r}, quantity={self.quantity!r}, "
            f"product_id={self.product_id!r})"
        )

    def event_properties(self) -> dict[str, Any]:
        """The ``revenue_amount`` event's properties, as the official SDKs name them."""
        out: dict[str, Any] = dict(self.properties or {})
        for key, value in (
            ("$price", self.price),
            ("$quantity", self.quantity),
            ("$productId", self.product_id),
            ("$revenueType", self.revenue_type),
            ("$receipt", self.receipt),
            ("$receiptSig", self.receipt_sig),
            ("$revenue", self.revenue),
            ("$currency", self.currency),
        ):
            if value is not None:
                out[key] = value
        return out

    def event_fields(self) -> dict[str, Any]:
        """The top-level HTTP V2 revenue fields (``price``, ``quantity``, ``productId``, ...)."""
        out: dict[str, Any] = {"price": self.price, "quantity": self.quantity}
        for key, value in (
            ("revenue", self.revenue),
            ("productId", self.product_id),
            ("revenueType", self.revenue_type),
            ("currency", self.currency),
        ):
            if value is not None:
                out[key] = value
        return out
