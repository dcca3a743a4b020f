"""The official ``amplitude.event``: events, options, Identify, Revenue, Plan, IngestionMetadata.

These behave as the official classes do, since code written for them reads and writes them
directly: constructors take the official arguments in the official order; ``event["key"] =
value`` checks the value's type and logs (on the ``amplitude`` logger) and ignores a wrong one;
``get_event_body()`` gives the HTTP V2 dict with Enum values unwrapped, None properties left
out and strings truncated to 1024 characters; ``Identify`` refuses a key used twice, as
Amplitude would. :class:`~trackwire.compat.amplitude.Amplitude` sends that body through
:class:`trackwire.Amplitude`.
"""

from __future__ import annotations

import copy
import enum
import inspect
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from trackwire.compat.amplitude import constants, utils

__all__ = [
    "EVENT_KEY_MAPPING",
    "BaseEvent",
    "EventOptions",
    "GroupIdentifyEvent",
    "Identify",
    "IdentifyEvent",
    "IngestionMetadata",
    "Plan",
    "Revenue",
    "RevenueEvent",
    "is_validate_object",
    "is_validate_properties",
]

logger = logging.getLogger(constants.LOGGER_NAME)

#: ``callback(event, status_code, message)``, called once the event's delivery is settled.
EventCallback = Callable[[Any, int, "str | None"], None]


class Plan:
    """The tracking plan an event belongs to (``branch``, ``source``, ``version``,
    ``version_id``); the value of an event's or the Config's ``plan``."""

    _KEYS: Final = {"branch": "branch", "source": "source", "version": "version",
                    "version_id": "versionId"}  # fmt: skip

    def __init__(
        self,
        branch: str | None = None,
        source: str | None = None,
        version: str | None = None,
        version_id: str | None = None,
    ) -> None:
        self.branch = branch
        self.source = source
        self.version = version
        self.version_id = version_id

    def get_plan_body(self) -> dict[str, str]:
        """The wire object: set str fields only (another type is logged and left out)."""
        return _str_body(self, self._KEYS)


class IngestionMetadata:
    """Where events were ingested from (``source_name``, ``source_version``)."""

    _KEYS: Final = {"source_name": "source_name", "source_version": "source_version"}

    def __init__(self, source_name: str | None = None, source_version: str | None = None) -> None:
        self.source_name = source_name
        self.source_version = source_version

    def get_body(self) -> dict[str, str]:
        """The wire object: set str fields only (another type is logged and left out)."""
        return _str_body(self, self._KEYS)


def _str_body(obj: object, keys: Mapping[str, str]) -> dict[str, str]:
    body = {}
    for name, wire_name in keys.items():
        value = getattr(obj, name)
        if not value:
            continue
        if isinstance(value, str):
            body[wire_name] = value
        else:
            logger.error(f"{type(obj).__name__}.{name} expected {str} but received {type(value)}.")
    return body


#: Attribute -> (wire name, accepted type), as the official SDK checks ``event[key] = value``.
EVENT_KEY_MAPPING: Final[Mapping[str, tuple[str, type | tuple[type, ...]]]] = {
    "user_id": ("user_id", str),
    "device_id": ("device_id", str),
    "event_type": ("event_type", str),
    "time": ("time", int),
    "event_properties": ("event_properties", dict),
    "user_properties": ("user_properties", dict),
    "groups": ("groups", dict),
    "app_version": ("app_version", str),
    "platform": ("platform", str),
    "os_name": ("os_name", str),
    "os_version": ("os_version", str),
    "device_brand": ("device_brand", str),
    "device_manufacturer": ("device_manufacturer", str),
    "device_model": ("device_model", str),
    "carrier": ("carrier", str),
    "country": ("country", str),
    "region": ("region", str),
    "city": ("city", str),
    "dma": ("dma", str),
    "language": ("language", str),
    "price": ("price", float),
    "quantity": ("quantity", int),
    "revenue": ("revenue", float),
    "currency": ("currency", str),
    "product_id": ("productId", str),
    "revenue_type": ("revenueType", str),
    "location_lat": ("location_lat", float),
    "location_lng": ("location_lng", float),
    "ip": ("ip", str),
    "idfa": ("idfa", str),
    "idfv": ("idfv", str),
    "adid": ("adid", str),
    "android_id": ("android_id", str),
    "event_id": ("event_id", int),
    "session_id": ("session_id", int),
    "insert_id": ("insert_id", str),
    "library": ("library", str),
    "plan": ("plan", Plan),
    "ingestion_metadata": ("ingestion_metadata", IngestionMetadata),
    "group_properties": ("group_properties", dict),
    "partner_id": ("partner_id", str),
    "version_name": ("version_name", str),
    "user_agent": ("user_agent", str),
}
_EVENT_ONLY: Final = ("event_type", "event_properties", "user_properties", "groups",
                      "group_properties")  # fmt: skip
_OPTION_KEYS: Final = tuple(key for key in EVENT_KEY_MAPPING if key not in _EVENT_ONLY)

# The official constructors' parameter orders (each differs a little; code passes them
# positionally, so they are kept exactly).
_DEVICE: Final = ("app_version", "platform", "os_name", "os_version", "device_brand",
                  "device_manufacturer", "device_model", "carrier", "country", "region", "city",
                  "dma", "language", "price", "quantity", "revenue", "product_id",
                  "revenue_type")  # fmt: skip
_IDS: Final = ("location_lat", "location_lng", "ip", "idfa", "idfv", "adid", "android_id",
               "event_id", "session_id", "insert_id", "plan", "ingestion_metadata",
               "partner_id")  # fmt: skip
_EVENT_HEAD: Final = ("user_id", "device_id", "time", "event_properties", "user_properties",
                      "groups", "group_properties")  # fmt: skip
OPTIONS_ORDER: Final = ("user_id", "device_id", "time", *_DEVICE, "currency", *_IDS,
                        "version_name", "user_agent", "callback")  # fmt: skip
BASE_EVENT_ORDER: Final = ("event_type", *_EVENT_HEAD, *_DEVICE, "currency", *_IDS,
                           "user_agent", "callback")  # fmt: skip
IDENTIFY_ORDER: Final = (*_EVENT_HEAD, *_DEVICE, *_IDS, "user_agent", "callback", "identify_obj")
REVENUE_ORDER: Final = (*_EVENT_HEAD, *_DEVICE, "currency", *_IDS, "user_agent", "callback",
                        "revenue_obj")  # fmt: skip


def _bind(
    kind: str, order: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The constructor's arguments by name, positional ones in the official order."""
    if len(args) > len(order):
        raise TypeError(f"{kind}() takes at most {len(order)} positional arguments")
    values = dict(zip(order[: len(args)], args, strict=True))
    for name, value in kwargs.items():
        if name not in order:
            raise TypeError(f"{kind}() got an unexpected keyword argument {name!r}")
        if name in values:
            raise TypeError(f"{kind}() got multiple values for argument {name!r}")
        values[name] = value
    return values


def _signature(order: Iterable[str], required: str | None = None) -> inspect.Signature:
    """A signature naming the official parameters, for help() and IDEs' introspection."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature(
        [
            inspect.Parameter("self", kind),
            *(
                inspect.Parameter(name, kind, **({} if name == required else {"default": None}))
                for name in order
            ),
        ]
    )


class EventOptions:
    """Event fields passed to ``identify``, ``revenue``, ``group_identify``, ``set_group``
    (every HTTP V2 field but ``event_type`` and the property objects), and the base of
    :class:`BaseEvent`.

    ``callback(event, code, message)`` is called once the event is delivered or has failed.
    """

    user_id: str | None
    device_id: str | None
    time: int | None
    insert_id: str | None
    library: str | None
    plan: Plan | None
    ingestion_metadata: IngestionMetadata | None
    event_callback: EventCallback | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._fill(_bind(type(self).__name__, OPTIONS_ORDER, args, kwargs), _OPTION_KEYS)

    def _fill(self, values: Mapping[str, Any], keys: Iterable[str]) -> None:
        keys = tuple(keys)
        self.__dict__.update(dict.fromkeys(keys))
        for key in keys:
            value = values.get(key)
            if value is not None:  # None needs no check: it is what the field holds already
                self[key] = value
        self.event_callback = values.get("callback")
        self._retry = 0

    def __getitem__(self, item: str) -> Any:
        return self.__dict__.get(item)

    def __setitem__(self, key: str, value: Any) -> None:
        if self._verify_property(key, value):
            self.__dict__[key] = value

    def __contains__(self, item: str) -> bool:
        return self.__dict__.get(item) is not None

    def __str__(self) -> str:
        return json.dumps(self.get_event_body(), sort_keys=True, skipkeys=True)

    def get_event_body(self) -> dict[str, Any]:
        """The event as HTTP V2's dict: set fields under their wire names, plan and metadata
        as objects, Enum property values unwrapped, None properties left out, strings cut to
        1024 characters (a property object over 1024 keys becomes ``{}``, logged)."""
        body: dict[str, Any] = {}
        fields = self.__dict__
        for key, (wire_name, _) in EVENT_KEY_MAPPING.items():
            value = fields.get(key)
            if value is not None:
                body[wire_name] = value
        if "plan" in body:
            body["plan"] = body["plan"].get_plan_body()
        if "ingestion_metadata" in body:
            body["ingestion_metadata"] = body["ingestion_metadata"].get_body()
        for name in ("user_properties", "event_properties", "group_properties"):
            if name in body:
                body[name] = {
                    key: value.value if isinstance(value, enum.Enum) else value
                    for key, value in body[name].items()
                    if value is not None
                }
        result: dict[str, Any] = utils.truncated_copy(body)
        return result

    def _verify_property(self, key: str, value: Any) -> bool:
        if value is None:
            return True
        if key not in self.__dict__:
            logger.error(f"Unexpected event property key: {key}")
            return False
        expected = EVENT_KEY_MAPPING[key][1]
        if not isinstance(value, expected):
            logger.error(f"Event property {key} expected {expected} but received {type(value)}.")
            return False
        if isinstance(value, dict):
            return is_validate_object(value)
        return True

    def callback(self, status_code: int, message: str | None = None) -> None:
        """Call the event's own callback, if it has one, as ``fn(event, code, message)``."""
        if callable(self.event_callback):
            self.event_callback(self, status_code, message)

    @property
    def retry(self) -> int:
        """How many times the event was retried (kept for code that reads it)."""
        return self._retry

    @retry.setter
    def retry(self, n: int) -> None:
        self._retry = n

    def load_event_options(self, event_options: EventOptions | None) -> None:
        """Copy every field set in ``event_options`` onto this object (overwriting)."""
        if not event_options:
            return
        for key in EVENT_KEY_MAPPING:
            if key in event_options:
                self[key] = copy.deepcopy(event_options[key])


class BaseEvent(EventOptions):
    """One event: ``BaseEvent("Song Played", user_id="u-1", event_properties={...})``."""

    event_type: str
    event_properties: dict[str, Any] | None
    user_properties: dict[str, Any] | None
    groups: dict[str, Any] | None
    group_properties: dict[str, Any] | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        values = _bind(type(self).__name__, BASE_EVENT_ORDER, args, kwargs)
        if "event_type" not in values:
            raise TypeError("BaseEvent() missing 1 required positional argument: 'event_type'")
        self._event_init(values)

    def _event_init(self, values: Mapping[str, Any]) -> None:
        self._fill(values, _OPTION_KEYS)
        self.event_type = values["event_type"]
        for key in _EVENT_ONLY[1:]:
            self.__dict__[key] = None
            value = values.get(key)
            if value is not None:
                self[key] = value


class IdentifyEvent(BaseEvent):
    """An ``$identify`` event: user properties from ``identify_obj`` (an :class:`Identify`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        values = _bind(type(self).__name__, IDENTIFY_ORDER, args, kwargs)
        self._event_init({**values, "event_type": constants.IDENTIFY_EVENT})
        identify = values.get("identify_obj")
        if identify:
            self.user_properties = identify.user_properties


class GroupIdentifyEvent(BaseEvent):
    """A ``$groupidentify`` event: group properties from ``identify_obj``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        values = _bind(type(self).__name__, IDENTIFY_ORDER, args, kwargs)
        self._event_init({**values, "event_type": constants.GROUP_IDENTIFY_EVENT})
        identify = values.get("identify_obj")
        if identify:
            self.group_properties = identify.user_properties


class RevenueEvent(BaseEvent):
    """A ``revenue_amount`` event: ``$price``, ``$quantity``, ... from ``revenue_obj``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        values = _bind(type(self).__name__, REVENUE_ORDER, args, kwargs)
        self._event_init({**values, "event_type": constants.AMP_REVENUE_EVENT})
        revenue = values.get("revenue_obj")
        if revenue:
            if not self.event_properties:
                self.event_properties = {}
            self.event_properties.update(revenue.get_event_properties())


EventOptions.__init__.__signature__ = _signature(OPTIONS_ORDER)  # type: ignore[attr-defined]
BaseEvent.__init__.__signature__ = _signature(BASE_EVENT_ORDER, "event_type")  # type: ignore[attr-defined]
IdentifyEvent.__init__.__signature__ = _signature(IDENTIFY_ORDER)  # type: ignore[attr-defined]
GroupIdentifyEvent.__init__.__signature__ = _signature(IDENTIFY_ORDER)  # type: ignore[attr-defined]
RevenueEvent.__init__.__signature__ = _signature(REVENUE_ORDER)  # type: ignore[attr-defined]


class Identify:
    """User (or group) property operations: ``Identify().set("plan", "pro").add("logins", 1)``.

    Each key takes one operation; a second one on the same key (or any after
    ``clear_all()``) is logged and ignored, as the official SDK does, since Amplitude applies
    only one. Values must be str, int, float, bool, a list of those or of objects, or an
    object (``add`` takes numbers only); a bad value is ignored.
    """

    def __init__(self) -> None:
        self._properties_set: set[str] = set()
        self._properties: dict[str, Any] = {}

    @property
    def user_properties(self) -> dict[str, Any]:
        """The operations as the ``user_properties`` object (a copy)."""
        return copy.deepcopy(self._properties)

    def set(self, key: str, value: Any) -> Identify:
        """Set ``key`` to ``value``."""
        return self._operation(constants.IDENTITY_OP_SET, key, value)

    def set_once(self, key: str, value: Any) -> Identify:
        """Set ``key`` only if it has no value yet."""
        return self._operation(constants.IDENTITY_OP_SET_ONCE, key, value)

    def append(self, key: str, value: Any) -> Identify:
        """Append ``value`` to the list in ``key``."""
        return self._operation(constants.IDENTITY_OP_APPEND, key, value)

    def prepend(self, key: str, value: Any) -> Identify:
        """Prepend ``value`` to the list in ``key``."""
        return self._operation(constants.IDENTITY_OP_PREPEND, key, value)

    def pre_insert(self, key: str, value: Any) -> Identify:
        """Prepend ``value`` to the list in ``key`` unless it is there already."""
        return self._operation(constants.IDENTITY_OP_PRE_INSERT, key, value)

    def post_insert(self, key: str, value: Any) -> Identify:
        """Append ``value`` to the list in ``key`` unless it is there already."""
        return self._operation(constants.IDENTITY_OP_POST_INSERT, key, value)

    def remove(self, key: str, value: Any) -> Identify:
        """Remove ``value`` from the list in ``key``."""
        return self._operation(constants.IDENTITY_OP_REMOVE, key, value)

    def add(self, key: str, value: int | float) -> Identify:
        """Add the number ``value`` to ``key``."""
        return self._operation(constants.IDENTITY_OP_ADD, key, value)

    def unset(self, key: str) -> Identify:
        """Remove ``key`` from the user."""
        return self._operation(constants.IDENTITY_OP_UNSET, key, constants.UNSET_VALUE)

    def clear_all(self) -> Identify:
        """Remove every user property (replaces any other operation)."""
        self._properties = {constants.IDENTITY_OP_CLEAR_ALL: constants.UNSET_VALUE}
        return self

    def is_valid(self) -> bool:
        """True when at least one operation is set."""
        return bool(self._properties)

    def _operation(self, operation: str, key: str, value: Any) -> Identify:
        if self._valid(operation, key, value):
            self._properties.setdefault(operation, {})[key] = value
            self._properties_set.add(key)
        return self

    def _valid(self, operation: str, key: str, value: Any) -> bool:
        if constants.IDENTITY_OP_CLEAR_ALL in self._properties or key in self._properties_set:
            logger.error("Key or clear all operation already set.")
            return False
        if operation == constants.IDENTITY_OP_ADD:
            return isinstance(value, int | float)
        if operation != constants.IDENTITY_OP_UNSET:
            return is_validate_properties(key, value)
        return True


class Revenue:
    """A purchase: ``Revenue(price=3.99, quantity=3, product_id="com.company.productId")``.

    Sent by ``Amplitude.revenue`` as a ``revenue_amount`` event whose properties are
    ``$price``, ``$quantity``, ``$productId``, ``$revenueType``, ``$receipt``,
    ``$receiptSig``, ``$revenue`` and ``$currency`` (set ones only) plus ``properties``.
    """

    def __init__(
        self,
        price: float,
        quantity: int = 1,
        product_id: str | None = None,
        revenue_type: str | None = None,
        receipt: str | None = None,
        receipt_sig: str | None = None,
        properties: dict[str, Any] | None = None,
        revenue: float | None = None,
        currency: str | None = None,
    ) -> None:
        self.price = price
        self.quantity = quantity
        self.product_id = product_id
        self.revenue_type = revenue_type
        self.receipt = receipt
        self.receipt_sig = receipt_sig
        self.properties = properties
        self.revenue = revenue
        self.currency = currency

    def set_receipt(self, receipt: str, receipt_signature: str) -> Revenue:
        """Attach the store receipt and its signature."""
        self.receipt = receipt
        self.receipt_sig = receipt_signature
        return self

    def is_valid(self) -> bool:
        """True when ``price`` is a float and ``quantity`` a positive int (the official rule)."""
        return (
            isinstance(self.price, float) and isinstance(self.quantity, int) and (self.quantity > 0)
        )

    def to_revenue_event(self) -> RevenueEvent:
        """A :class:`RevenueEvent` carrying this purchase."""
        return RevenueEvent(event_properties=self.get_event_properties())

    def get_event_properties(self) -> dict[str, Any]:
        """``properties`` plus the ``$`` revenue fields that are set."""
        properties = copy.deepcopy(self.properties) if self.properties else {}
        properties.update(
            {
                constants.REVENUE_PRODUCT_ID: self.product_id,
                constants.REVENUE_QUANTITY: self.quantity,
                constants.REVENUE_PRICE: self.price,
                constants.REVENUE_TYPE: self.revenue_type,
                constants.REVENUE_RECEIPT: self.receipt,
                constants.REVENUE_RECEIPT_SIG: self.receipt_sig,
                constants.REVENUE: self.revenue,
                constants.REVENUE_CURRENCY: self.currency,
            }
        )
        return {key: value for key, value in properties.items() if value is not None}


def is_validate_properties(key: object, value: object) -> bool:
    """True when ``key`` is a str and ``value`` a valid property value (see :class:`Identify`)."""
    if not isinstance(key, str):
        return False
    if value is None:
        return True
    if isinstance(value, list):
        for element in value:
            if isinstance(element, list):
                return False
            if isinstance(element, dict):
                if not is_validate_object(element):
                    return False
            elif not isinstance(element, float | int | str):
                return False
        return True
    if isinstance(value, dict):
        return is_validate_object(value)
    return isinstance(value, bool | float | int | str | enum.Enum)


def is_validate_object(obj: Mapping[Any, Any]) -> bool:
    """True when every item of ``obj`` is a valid property (see :func:`is_validate_properties`)."""
    return all(is_validate_properties(key, value) for key, value in obj.items())
