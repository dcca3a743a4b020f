"""The rules an mParticle batch must follow, checked once for the SDK and the collector.

:func:`check_batch` (``/v2/events``), :func:`check_bulk` (``/v2/bulkevents``) and
:func:`check_sizes` say why mParticle would refuse a batch, as :class:`BatchProblem` s; the
collector's common event takes a one-pass path (:func:`_plain_event`) and everything else the
general check. The rest of the wire format (hosts, response bodies, reading an event) is
:mod:`.wire`, which re-exports these.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from trackwire.mparticle.schema import (
    _COMMERCE_VARIANTS,
    _DATA_ENUMS,
    _DATA_TYPES,
    _DEVICE_BOOLS,
    _PRODUCT_ACTION_TYPES,
    _PRODUCT_TYPES,
    _REQUIRED_DATA,
    _UUID,
    _UUID_DEVICE_FIELDS,
    APPLICATION_OS,
    ATT_STATUSES,
    CCPA_PURPOSE,
    CONSENT_PURPOSE_FIELDS,
    DEVICE_PLATFORMS,
    ENVIRONMENTS,
    EVENT_TYPES,
    HISTORICAL_MIN_AGE_MS,
    IDENTITY_ALIASES,
    IDENTITY_KEYS,
    LOCATION_SOURCES,
    MAX_BATCH_BYTES,
    MAX_BULK_BATCHES,
    MAX_REQUEST_BYTES,
    PRODUCT_ACTIONS,
    PROMOTION_ACTIONS,
)

__all__ = ["BatchProblem", "check_batch", "check_bulk", "check_sizes"]


@dataclass(frozen=True, slots=True)
class BatchProblem:
    """Why mParticle would refuse a batch.

    Attributes:
        path: where the problem is, e.g. ``events[3].data.custom_event_type``; in a bulk
            request prefixed with the batch index, e.g. ``[2].environment``; ``""`` for the
            whole body.
        message: what was wrong and what is accepted.
        batch: the batch's index in a bulk request, None for a single batch or for a problem
            with the bulk request as a whole.
    """

    path: str
    message: str
    batch: int | None = None


_KINDS: Final[Mapping[str, str]] = {
    "str": "a string",
    "int": "an integer",
    "number": "a number",
    "bool": "a boolean",
    "object": "an object",
    "array": "an array",
}


def _is(value: object, kind: str) -> bool:
    # bool is an int subclass in Python, never a number in JSON terms.
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "int":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float)
    if kind == "str":
        return isinstance(value, str)
    if kind == "object":
        return isinstance(value, dict)
    return isinstance(value, list)


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class _Checker:
    """Collects problems while walking one batch; paths are joined as it descends."""

    def __init__(self, prefix: str, batch: int | None) -> None:
        self.problems: list[BatchProblem] = []
        self._prefix = prefix
        self._batch = batch

    def add(self, path: str, message: str) -> None:
        full = _join(self._prefix, path) if path else self._prefix
        self.problems.append(BatchProblem(full, message, self._batch))

    def typed(self, obj: Mapping[str, Any], types: Mapping[str, str], path: str) -> None:
        """Check the JSON type of every known field present (null counts as absent)."""
        for name, kind in types.items():
            value = obj.get(name)
            if value is not None and not _is(value, kind):
                self.add(_join(path, name), f"must be {_KINDS[kind]}")

    def enum(self, obj: Mapping[str, Any], name: str, allowed: Sequence[str], path: str) -> None:
        value = obj.get(name)
        if value is not None and value not in allowed:
            self.add(_join(path, name), f"must be one of {', '.join(allowed)}; got {value!r}")

    def obj(self, value: object, path: str) -> dict[str, Any] | None:
        """``value`` as an object, None when absent; a problem when it is something else."""
        if value is None:
            return None
        if not isinstance(value, dict):
            self.add(path, "must be an object")
            return None
        return value

    def attributes(self, value: object, path: str) -> None:
        attrs = self.obj(value, path)
        for key, item in (attrs or {}).items():
            if not _scalar(item):
                self.add(f"{path}.{key}", "must be a string, number, boolean or null")

    def location(self, value: object, path: str) -> None:
        loc = self.obj(value, path)
        if loc is None:
            return
        for name in ("latitude", "longitude"):
            if not _is(loc.get(name), "number"):
                self.add(f"{path}.{name}", "is required and must be a number")
        self.typed(loc, {"accuracy": "number", "dma_code": "int"}, path)
        self.typed(loc, dict.fromkeys(("country_code", "region_code", "city_name"), "str"), path)
        self.enum(loc, "location_source", LOCATION_SOURCES, path)

    def purpose(self, value: object, path: str) -> None:
        if value is None:
            self.add(path, "must be an object")
            return
        purpose = self.obj(value, path)
        if purpose is None:
            return
        for key in purpose:
            if key not in CONSENT_PURPOSE_FIELDS:
                self.add(f"{path}.{key}", "is not a consent field")
        if not _is(purpose.get("consented"), "bool"):
            self.add(f"{path}.consented", "is required and must be a boolean")
        if not _is(purpose.get("timestamp_unixtime_ms"), "int"):
            self.add(f"{path}.timestamp_unixtime_ms", "is required and must be an integer (ms)")
        strings = ("document", "location", "hardware_id", "regulation")
        self.typed(purpose, dict.fromkeys(strings, "str"), path)

    def products(self, value: object, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            self.add(path, "must be an array")
            return
        for index, item in enumerate(value):
            product = self.obj(item, f"{path}[{index}]")
            if product is not None:
                self.typed(product, _PRODUCT_TYPES, f"{path}[{index}]")
                self.attributes(
                    product.get("custom_attributes"), f"{path}[{index}].custom_attributes"
                )


def _check_commerce(c: _Checker, data: Mapping[str, Any], path: str) -> None:
    # The docs allow one variant per event. None at all passes, as in the schema: the official
    # Python SDK sends its crash reports as commerce events with no variant.
    present = [name for name in _COMMERCE_VARIANTS if data.get(name) is not None]
    if len(present) > 1:
        c.add(path, "a commerce event has at most one of " + ", ".join(_COMMERCE_VARIANTS))
    action = c.obj(data.get("product_action"), f"{path}.product_action")
    if action is not None:
        if action.get("action") not in PRODUCT_ACTIONS:
            c.add(f"{path}.product_action.action", "must be one of " + ", ".join(PRODUCT_ACTIONS))
        c.typed(action, _PRODUCT_ACTION_TYPES, f"{path}.product_action")
        c.products(action.get("products"), f"{path}.product_action.products")
    promotion = c.obj(data.get("promotion_action"), f"{path}.promotion_action")
    if promotion is not None:
        if promotion.get("action") not in PROMOTION_ACTIONS:
            c.add(f"{path}.promotion_action.action", "must be one of view, click")
        promotions = promotion.get("promotions")
        if promotions is not None and not isinstance(promotions, list):
            c.add(f"{path}.promotion_action.promotions", "must be an array")
        for index, item in enumerate(promotions if isinstance(promotions, list) else []):
            item_path = f"{path}.promotion_action.promotions[{index}]"
            entry = c.obj(item, item_path)
            if entry is not None:
                fields = ("id", "name", "creative", "position")
                c.typed(entry, dict.fromkeys(fields, "str"), item_path)
    impressions = data.get("product_impressions")
    for index, item in enumerate(impressions if isinstance(impressions, list) else []):
        item_path = f"{path}.product_impressions[{index}]"
        entry = c.obj(item, item_path)
        if entry is not None:
            if not _is(entry.get("product_impression_list"), "str"):
                c.add(f"{item_path}.product_impression_list", "is required and must be a string")
            if entry.get("products") is None:
                c.add(f"{item_path}.products", "is required")
            c.products(entry.get("products"), f"{item_path}.products")
    cart = c.obj(data.get("shopping_cart"), f"{path}.shopping_cart")
    if cart is not None:
        if cart.get("products") is None:
            c.add(f"{path}.shopping_cart.products", "is required")
        c.products(cart.get("products"), f"{path}.shopping_cart.products")


#: The classes of the scalars decoded JSON holds.
_EXACT_SCALARS: Final = frozenset({type(None), str, int, float, bool})
#: The one class decoded JSON gives each kind :func:`_is` accepts but "number" (which no typed
#: ``data`` field is: one that were would fail here, at import); a subclass takes the general
#: check.
_ONE_CLASS: Final[Mapping[str, type]] = {
    "bool": bool, "int": int, "str": str, "object": dict, "array": list,
}  # fmt: skip
#: Per typed ``data`` field, the class :func:`_plain_event` passes (besides null, absent).
_DATA_EXACT: Final = {name: _ONE_CLASS[kind] for name, kind in _DATA_TYPES.items()}
#: ``data`` objects :func:`_check_event` checks inside for every event type.
_NESTED_DATA: Final = frozenset({"custom_flags", "location"})
#: Per event type (but commerce, whose objects take the general check): its required ``data``
#: fields and its enums (as sets: :func:`_plain_event` looks only strings up in them).
_EVENT_RULES: Final[
    Mapping[str, tuple[tuple[str, ...], tuple[tuple[str, frozenset[str]], ...]]]
] = {
    event_type: (
        _REQUIRED_DATA.get(event_type, ()),
        tuple(
            (name, frozenset(allowed))
            for (kind, name), allowed in _DATA_ENUMS.items()
            if kind == event_type
        ),
    )
    for event_type in EVENT_TYPES
    if event_type != "commerce_event"
}


def _plain_event(event: Any, historical_before: int | None) -> bool:
    """Whether :func:`_check_event` would certainly find nothing wrong with ``event``.

    The collector checks every event it receives: this is the common case written out with
    exact types (decoded JSON has no subclasses), one pass over the event's own ``data`` and
    no problem paths built. False is no verdict: the event then takes the general check, which
    finds its problems (or none), so the answers are the general check's either way.
    """
    if type(event) is not dict:
        return False
    event_type = event.get("event_type")
    rules = _EVENT_RULES.get(event_type) if type(event_type) is str else None
    data = event.get("data")
    if rules is None or type(data) is not dict:
        return False
    exact = _DATA_EXACT.get
    scalars = _EXACT_SCALARS
    for name, value in data.items():
        expected = exact(name)
        if expected is not None:
            if type(value) is not expected and value is not None:
                return False
        elif name == "custom_attributes":
            if type(value) is dict:
                for item in value.values():
                    if type(item) not in scalars:
                        return False
            elif value is not None:
                return False
        elif value is not None and name in _NESTED_DATA:
            return False
    required, enums = rules
    for name in required:
        value = data.get(name)
        if value is None or value == "":
            return False
    for name, allowed in enums:
        value = data.get(name)
        # Only a string is looked up (a list is unhashable); any other value takes the
        # general check.
        if value is not None and (type(value) is not str or value not in allowed):
            return False
    if historical_before is not None:
        stamp = data.get("timestamp_unixtime_ms")
        if type(stamp) is not int or stamp > historical_before:
            return False
    return True


def _check_event(c: _Checker, event: object, path: str, historical_before: int | None) -> None:
    if not isinstance(event, dict):
        c.add(path, "an event must be an object {event_type, data}")
        return
    event_type = event.get("event_type")
    if event_type not in EVENT_TYPES:
        message = "is required" if event_type is None else f"is not an event type: {event_type!r}"
        c.add(f"{path}.event_type", message)
    data = event.get("data")
    if not isinstance(data, dict):
        c.add(f"{path}.data", "is required and must be an object")
        return
    path = f"{path}.data"
    c.typed(data, _DATA_TYPES, path)
    for name in _REQUIRED_DATA.get(str(event_type), ()):
        if data.get(name) is None or data[name] == "":
            c.add(f"{path}.{name}", f"is required for {event_type}")
    for (kind, name), allowed in _DATA_ENUMS.items():
        if kind == event_type:
            c.enum(data, name, allowed, path)
    c.attributes(data.get("custom_attributes"), f"{path}.custom_attributes")
    flags = c.obj(data.get("custom_flags"), f"{path}.custom_flags")
    for key, flag in (flags or {}).items():
        # The Python SDK's examples send lists of strings, which the schema forbids; accepted.
        if not _scalar(flag) and not (isinstance(flag, list) and all(map(_scalar, flag))):
            c.add(f"{path}.custom_flags.{key}", "must be a scalar or an array of scalars")
    c.location(data.get("location"), f"{path}.location")
    if event_type == "commerce_event":
        _check_commerce(c, data, path)
    if historical_before is not None:
        stamp = data.get("timestamp_unixtime_ms")
        if not isinstance(stamp, int) or isinstance(stamp, bool):
            c.add(f"{path}.timestamp_unixtime_ms", "is required on the historical endpoint")
        elif stamp > historical_before:
            c.add(
                f"{path}.timestamp_unixtime_ms", "must be 72 hours old on the historical endpoint"
            )


_DEVICE_BOOL_TYPES: Final = dict.fromkeys(_DEVICE_BOOLS, "bool")
_DEVICE_INT_TYPES: Final = {"att_timestamp_unixtime_ms": "int"}
#: What :func:`_plain_device` accepts per ``device_info`` field :func:`_check_device` checks:
#: the strings of an enum, an exact class, or ``_UUID`` for a UUID string.
_DEVICE_RULES: Final[Mapping[str, object]] = {
    "platform": frozenset(DEVICE_PLATFORMS),
    "att_authorization_status": frozenset(ATT_STATUSES),
    **dict.fromkeys(_DEVICE_BOOLS, bool),
    "att_timestamp_unixtime_ms": int,
    **dict.fromkeys(_UUID_DEVICE_FIELDS, _UUID),
}


def _plain_device(device: dict[str, Any]) -> bool:
    """Whether :func:`_check_device` would certainly find nothing wrong with ``device``: one
    pass over its own fields with exact types (a batch's device usually names one or two of
    the twenty fields checked). False is no verdict: the general check runs."""
    rules = _DEVICE_RULES
    for name, value in device.items():
        rule = rules.get(name)
        if rule is None or value is None:
            continue
        if type(rule) is frozenset:
            if type(value) is not str or value not in rule:
                return False
        elif rule is _UUID:
            if type(value) is not str or not _UUID.match(value):
                return False
        elif type(value) is not rule:
            return False
    return True


def _check_device(c: _Checker, value: object) -> None:
    if type(value) is dict and _plain_device(value):
        return
    _check_device_fields(c, value)


def _check_device_fields(c: _Checker, value: object) -> None:
    """:func:`_check_device`'s general rules."""
    device = c.obj(value, "device_info")
    if device is None:
        return
    c.enum(device, "platform", DEVICE_PLATFORMS, "device_info")
    c.enum(device, "att_authorization_status", ATT_STATUSES, "device_info")
    c.typed(device, _DEVICE_BOOL_TYPES, "device_info")
    c.typed(device, _DEVICE_INT_TYPES, "device_info")
    for name in _UUID_DEVICE_FIELDS:
        item = device.get(name)
        if item is not None and not (isinstance(item, str) and _UUID.match(item)):
            c.add(f"device_info.{name}", "must be a UUID string")


def _check_user(c: _Checker, batch: Mapping[str, Any]) -> None:
    ids = c.obj(batch.get("user_identities"), "user_identities")
    for key, value in (ids or {}).items():
        if key not in IDENTITY_KEYS and key not in IDENTITY_ALIASES:
            c.add(f"user_identities.{key}", "is not an identity type")
        elif value is not None and not isinstance(value, str):
            c.add(f"user_identities.{key}", "must be a string")
    attrs = c.obj(batch.get("user_attributes"), "user_attributes")
    for key, value in (attrs or {}).items():
        if not _scalar(value) and not (isinstance(value, list) and all(map(_scalar, value))):
            c.add(f"user_attributes.{key}", "must be a scalar or an array of strings")
    deleted = batch.get("deleted_user_attributes")
    if deleted is not None and not (
        isinstance(deleted, list) and all(isinstance(item, str) for item in deleted)
    ):
        c.add("deleted_user_attributes", "must be an array of strings")
    for name in ("partner_identities", "integration_attributes"):
        mapping = c.obj(batch.get(name), name)
        for key, value in (mapping or {}).items():
            inner = "object" if name == "integration_attributes" else "str"
            if not _is(value, inner):
                c.add(f"{name}.{key}", f"must be {_KINDS[inner]}")


def _check_consent(c: _Checker, value: object) -> None:
    consent = c.obj(value, "consent_state")
    if consent is None:
        return
    gdpr = c.obj(consent.get("gdpr"), "consent_state.gdpr")
    for purpose, state in (gdpr or {}).items():
        c.purpose(state, f"consent_state.gdpr.{purpose}")
    ccpa = c.obj(consent.get("ccpa"), "consent_state.ccpa")
    for purpose, state in (ccpa or {}).items():
        if purpose != CCPA_PURPOSE:
            c.add(f"consent_state.ccpa.{purpose}", f"CCPA's only purpose is {CCPA_PURPOSE}")
        else:
            c.purpose(state, f"consent_state.ccpa.{purpose}")


_BATCH_TYPES: Final = {"source_request_id": "str", "mp_deviceid": "str", "mpid": "int"}


def _check(batch: object, c: _Checker, historical: bool, now: float | None) -> None:
    if not isinstance(batch, dict):
        c.add("", "a batch must be a JSON object")
        return
    environment = batch.get("environment")
    if environment not in ENVIRONMENTS:
        got = "is required" if environment is None else f"got {environment!r}"
        c.add("environment", f"must be production or development; {got}")
    c.typed(batch, _BATCH_TYPES, "")
    ip = batch.get("ip")
    if ip is not None:
        try:
            ipaddress.ip_address(ip if isinstance(ip, str) else "")
        except ValueError:
            c.add("ip", "must be an IPv4 or IPv6 address")
    _check_user(c, batch)
    _check_device(c, batch.get("device_info"))
    app = c.obj(batch.get("application_info"), "application_info")
    if app is not None:
        c.enum(app, "os", APPLICATION_OS, "application_info")
    _check_consent(c, batch.get("consent_state"))
    context = c.obj(batch.get("context"), "context")
    if context is not None:
        plan = c.obj(context.get("data_plan"), "context.data_plan")
        if plan is not None:
            if not _is(plan.get("plan_id"), "str"):
                c.add("context.data_plan.plan_id", "is required and must be a string")
            c.typed(plan, {"plan_version": "int"}, "context.data_plan")
        c.location(context.get("location"), "context.location")
    events = batch.get("events")
    if events is not None and not isinstance(events, list):
        c.add("events", "must be an array")
        return
    before = None
    if historical:
        if not events:
            c.add("events", "the historical endpoint needs at least one event")
        clock = time.time() if now is None else now
        before = int(clock * 1000) - HISTORICAL_MIN_AGE_MS
    for index, event in enumerate(events or []):
        if not _plain_event(event, before):
            _check_event(c, event, f"events[{index}]", before)


def check_batch(
    batch: object, *, historical: bool = False, now: float | None = None
) -> list[BatchProblem]:
    """Check one batch (a ``/v2/events`` body, or one element of a bulk body).

    Checks: ``environment`` present and valid; known fields' JSON types and enums; events
    are ``{event_type, data}`` objects with the fields their type requires; custom and
    product attribute values are scalars; commerce events carry at most one of product
    action, promotion action or impressions; consent purposes have ``consented`` and an
    integer ``timestamp_unixtime_ms``; identity keys are known. With ``historical`` the
    endpoint's extra rules apply: at least one event, and every event has a timestamp at least
    72 hours before ``now``.

    Args:
        batch: the decoded batch.
        historical: apply the ``/v2/bulkevents/historical`` rules.
        now: the current UNIX time in seconds for the historical age rule; None reads the clock.

    Returns:
        Every problem found, in document order; empty when mParticle would accept the batch.
    """
    checker = _Checker("", None)
    _check(batch, checker, historical, now)
    return checker.problems


def check_bulk(
    body: object, *, historical: bool = False, now: float | None = None
) -> list[BatchProblem]:
    """Check a ``/v2/bulkevents`` (or historical) body: an array of at most 100 batches.

    Problems inside a batch carry its index in ``batch`` and a ``[i].`` path prefix, so the
    collector can keep the good batches: mParticle answers 202 to a bulk request even when
    some of its batches fail. Problems with the array itself have ``batch`` None.
    """
    if not isinstance(body, list):
        return [BatchProblem("", "a bulk body must be a JSON array of batches")]
    if len(body) > MAX_BULK_BATCHES:
        return [BatchProblem("", f"{len(body)} batches; at most {MAX_BULK_BATCHES} per request")]
    problems: list[BatchProblem] = []
    for index, batch in enumerate(body):
        checker = _Checker(f"[{index}]", index)
        _check(batch, checker, historical, now)
        problems.extend(checker.problems)
    return problems


def check_sizes(request_bytes: int, batch_bytes: Sequence[int] = ()) -> list[BatchProblem]:
    """Problems with the encoded sizes of a request and of its batches (bulk order)."""
    problems = []
    if request_bytes > MAX_REQUEST_BYTES:
        problems.append(BatchProblem("", f"request is larger than {MAX_REQUEST_BYTES} bytes"))
    for index, size in enumerate(batch_bytes):
        if size > MAX_BATCH_BYTES:
            message = f"batch is larger than {MAX_BATCH_BYTES} bytes"
            problems.append(BatchProblem(f"[{index}]", message, index))
    return problems


# --- helpers for the collector's ingest --------------------------------------------------------
