"""Amplitude event models, builders and the per-event checks, by explicit tables."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from trackwire.amplitude.builders import Identify, Revenue, check_property_operations
from trackwire.amplitude.events import CAMEL_CASE, prepare
from trackwire.amplitude.models import (
    BaseEvent,
    EventOptions,
    GroupIdentifyEvent,
    IdentifyEvent,
    IngestionMetadata,
    Plan,
    RevenueEvent,
)
from trackwire.amplitude.wire import EVENT_FIELDS
from trackwire.errors import ValidationError

# --- models ------------------------------------------------------------------------------------


def test_every_http_v2_field_is_an_event_option() -> None:
    event = BaseEvent("e")
    names = {f for f in event.__dataclass_fields__ if f != "callback"}
    wire_names = {
        {"product_id": "productId", "revenue_type": "revenueType"}.get(n, n)
        for n in names
        if n != "skip_user_properties_sync"
    } | {"$skip_user_properties_sync"}
    assert wire_names == set(EVENT_FIELDS)


def test_to_dict_uses_wire_spellings_and_skips_unset() -> None:
    event = BaseEvent(
        "Song Played",
        user_id="user-1",
        product_id="p-1",
        revenue_type="purchase",
        skip_user_properties_sync=True,
        plan=Plan(branch="main", version_id="v9"),
        ingestion_metadata=IngestionMetadata(source_name="etl"),
        event_properties={"a": 1},
        callback=lambda e, c, m: None,
    )
    assert event.to_dict() == {
        "user_id": "user-1",
        "productId": "p-1",
        "revenueType": "purchase",
        "$skip_user_properties_sync": True,
        "plan": {"branch": "main", "versionId": "v9"},
        "ingestion_metadata": {"source_name": "etl"},
        "event_type": "Song Played",
        "event_properties": {"a": 1},
    }


@pytest.mark.parametrize(
    ("cls", "event_type"),
    [
        (IdentifyEvent, "$identify"),
        (GroupIdentifyEvent, "$groupidentify"),
        (RevenueEvent, "revenue_amount"),
    ],
)
def test_special_events_have_their_type(cls: type[BaseEvent], event_type: str) -> None:
    assert cls(user_id="user-1").event_type == event_type


def test_load_event_options_copies_set_fields() -> None:
    event = BaseEvent("e", user_id="old-user", city="Paris")
    event.load_event_options(EventOptions(user_id="new-user", session_id=5))
    assert (event.user_id, event.session_id, event.city) == ("new-user", 5, "Paris")


# --- Identify ----------------------------------------------------------------------------------

IDENTIFY_CASES: list[tuple[str, Identify, dict[str, Any]]] = [
    ("set", Identify().set("plan", "pro"), {"$set": {"plan": "pro"}}),
    ("set_once", Identify().set_once("first", "2026"), {"$setOnce": {"first": "2026"}}),
    ("add", Identify().add("logins", 2), {"$add": {"logins": 2}}),
    ("append", Identify().append("tags", ["a"]), {"$append": {"tags": ["a"]}}),
    ("prepend", Identify().prepend("tags", "z"), {"$prepend": {"tags": "z"}}),
    ("pre_insert", Identify().pre_insert("tags", "p"), {"$preInsert": {"tags": "p"}}),
    ("post_insert", Identify().post_insert("tags", "q"), {"$postInsert": {"tags": "q"}}),
    ("remove", Identify().remove("tags", "a"), {"$remove": {"tags": "a"}}),
    ("unset", Identify().unset("old"), {"$unset": {"old": "-"}}),
    ("clear_all", Identify().clear_all(), {"$clearAll": "-"}),
    (
        "chained",
        Identify().set("plan", "pro").set("seats", 3).add("logins", 1).unset("trial"),
        {"$set": {"plan": "pro", "seats": 3}, "$add": {"logins": 1}, "$unset": {"trial": "-"}},
    ),
]


@pytest.mark.parametrize(
    ("builder", "expected"), [c[1:] for c in IDENTIFY_CASES], ids=[c[0] for c in IDENTIFY_CASES]
)
def test_identify_operations(builder: Identify, expected: dict[str, Any]) -> None:
    assert builder.user_properties == expected
    assert builder.is_valid()


IDENTIFY_ERRORS: list[tuple[str, Any, str]] = [
    ("same key twice", lambda: Identify().set("a", 1).add("a", 1), "a"),
    ("add a string", lambda: Identify().add("n", "1"), "n"),
    ("add a bool", lambda: Identify().add("n", True), "n"),
    ("empty key", lambda: Identify().set("", 1), "key"),
    ("none value", lambda: Identify().set("k", None), "k"),
    ("after clear_all", lambda: Identify().clear_all().set("k", 1), "k"),
    ("clear_all after op", lambda: Identify().set("k", 1).clear_all(), "$clearAll"),
    ("group op not allowed", lambda: Identify().remove("k", 1).group_properties(), "$remove"),
]


@pytest.mark.parametrize(
    ("make", "field"), [c[1:] for c in IDENTIFY_ERRORS], ids=[c[0] for c in IDENTIFY_ERRORS]
)
def test_identify_errors_name_the_property(make: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        make()
    assert info.value.field == field


def test_empty_identify_is_not_valid() -> None:
    assert not Identify().is_valid()


PROPERTY_OBJECTS: list[tuple[str, dict[str, Any], str | None]] = [
    ("plain", {"plan": "pro"}, None),
    ("operations", {"$set": {"plan": "pro"}, "$add": {"n": 1}}, None),
    ("mixed", {"$add": {"n": 1}, "plan": "pro"}, "move plain properties inside $set"),
    ("op not an object", {"$set": "pro"}, "$set must map"),
    ("add not a number", {"$add": {"n": "one"}}, "$add values must be numbers"),
]


@pytest.mark.parametrize(
    ("props", "error"), [c[1:] for c in PROPERTY_OBJECTS], ids=[c[0] for c in PROPERTY_OBJECTS]
)
def test_raw_property_operations(props: dict[str, Any], error: str | None) -> None:
    if error is None:
        check_property_operations(props, "user_properties")
        return
    with pytest.raises(ValidationError, match=error.replace("$", r"\$")) as info:
        check_property_operations(props, "user_properties")
    assert info.value.field == "user_properties"


# --- Revenue -----------------------------------------------------------------------------------


def test_revenue_properties_and_fields() -> None:
    revenue = Revenue(
        price=9.99,
        quantity=3,
        product_id="sku-1",
        revenue_type="purchase",
        receipt="r",
        receipt_sig="s",
        properties={"coupon": "X"},
        currency="EUR",
    )
    assert revenue.event_properties() == {
        "coupon": "X",
        "$price": 9.99,
        "$quantity": 3,
        "$productId": "sku-1",
        "$revenueType": "purchase",
        "$receipt": "r",
        "$receiptSig": "s",
        "$currency": "EUR",
    }
    assert revenue.event_fields() == {
        "price": 9.99,
        "quantity": 3,
        "productId": "sku-1",
        "revenueType": "purchase",
        "currency": "EUR",
    }


REVENUE_ERRORS: list[tuple[str, dict[str, Any], str]] = [
    ("price text", {"price": "9.99"}, "price"),
    ("quantity zero", {"price": 1, "quantity": 0}, "quantity"),
    ("quantity float", {"price": 1, "quantity": 1.5}, "quantity"),
    ("revenue text", {"price": 1, "revenue": "x"}, "revenue"),
    ("currency lower", {"price": 1, "currency": "usd"}, "currency"),
    ("product id int", {"price": 1, "product_id": 5}, "product_id"),
]


@pytest.mark.parametrize(
    ("kwargs", "field"), [c[1:] for c in REVENUE_ERRORS], ids=[c[0] for c in REVENUE_ERRORS]
)
def test_revenue_errors(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Revenue(**kwargs)
    assert info.value.field == field


def test_revenue_accepts_an_int_price() -> None:
    assert Revenue(price=10).event_fields() == {"price": 10, "quantity": 1}


# --- prepare -----------------------------------------------------------------------------------


def test_camel_case_has_the_fourteen_conversions() -> None:
    assert len(CAMEL_CASE) == 14
    camel = {key: f"value-{i}" for i, key in enumerate(CAMEL_CASE)}
    camel.update(sessionId=1, locationLat=1.5, locationLng=2.5)
    camel.update(eventProperties={}, userProperties={})
    event = prepare(camel, min_id_length=5)
    assert set(event) == set(CAMEL_CASE.values())


PREPARED: list[tuple[str, Any, dict[str, Any], dict[str, Any]]] = [
    (
        "dataclass",
        BaseEvent("e", user_id="user-1", price=2),
        {},
        {"event_type": "e", "user_id": "user-1", "price": 2},
    ),
    (
        "python spellings in a dict",
        {"event_type": "e", "device_id": "dev-1", "product_id": "p", "revenue_type": "r"},
        {},
        {"event_type": "e", "device_id": "dev-1", "productId": "p", "revenueType": "r"},
    ),
    (
        "None values dropped",
        {"event_type": "e", "user_id": "user-1", "city": None},
        {},
        {"event_type": "e", "user_id": "user-1"},
    ),
    (
        "defaults fill",
        {"event_type": "e"},
        {"user_id": "default-user", "session_id": 7},
        {"event_type": "e", "user_id": "default-user", "session_id": 7},
    ),
    (
        "event wins over defaults",
        {"event_type": "e", "user_id": "mine-1"},
        {"user_id": "default-user"},
        {"event_type": "e", "user_id": "mine-1"},
    ),
    (
        "short id removed, other kept",
        {"event_type": "e", "user_id": "abc", "device_id": "device-1"},
        {},
        {"event_type": "e", "device_id": "device-1"},
    ),
]


@pytest.mark.parametrize(
    ("source", "defaults", "expected"), [c[1:] for c in PREPARED], ids=[c[0] for c in PREPARED]
)
def test_prepare(source: Any, defaults: dict[str, Any], expected: dict[str, Any]) -> None:
    assert prepare(source, min_id_length=5, defaults=defaults) == expected


def test_short_id_warns_without_the_value(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="trackwire"):
        prepare({"event_type": "e", "user_id": "abc", "device_id": "device-1"}, min_id_length=5)
    assert "user_id shorter than min_id_length=5 removed" in caplog.text
    assert "abc" not in caplog.text


def test_min_id_length_option() -> None:
    event = prepare({"event_type": "e", "user_id": "ab"}, min_id_length=2)
    assert event["user_id"] == "ab"


def test_group_identify_gets_a_device_id() -> None:
    event = prepare(GroupIdentifyEvent(groups={"org": "acme"}), min_id_length=5)
    assert len(event["device_id"]) == 36


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"x": value}
    return value


PREPARE_ERRORS: list[tuple[str, Any, str, str]] = [
    ("no event type", {"user_id": "user-1"}, "event_type", "is required"),
    ("no id", {"event_type": "e"}, "user_id", "needs a user_id or a device_id"),
    ("only id too short", {"event_type": "e", "user_id": "abc"}, "user_id", "at least 5"),
    ("unknown key", {"event_type": "e", "user_id": "user-1", "usr_id": 1}, "usr_id", "user_id"),
    ("wrong type", {"event_type": "e", "user_id": "user-1", "time": "now"}, "time", "an int"),
    ("bool as number", {"event_type": "e", "user_id": "user-1", "price": True}, "price", "number"),
    ("id not str", {"event_type": "e", "user_id": 12345}, "user_id", "must be a str"),
    ("blocked id", {"event_type": "e", "user_id": "undefined"}, "user_id", "refuses"),
    (
        "deep nesting",
        {"event_type": "e", "user_id": "user-1", "event_properties": _nested(45)},
        "event_properties",
        "deeper than 40",
    ),
    (
        "mixed operations",
        {
            "event_type": "$identify",
            "user_id": "user-1",
            "user_properties": {"$add": {"n": 1}, "plan": "pro"},
        },
        "user_properties",
        "$set",
    ),
    (
        "group op",
        {
            "event_type": "$groupidentify",
            "user_id": "user-1",
            "group_properties": {"$remove": {"n": 1}},
        },
        "group_properties",
        "not allowed",
    ),
    (
        "groups values",
        {"event_type": "e", "user_id": "user-1", "groups": {"a": 1}},
        "groups",
        "a str",
    ),
    ("not an event", ["e"], "event", "BaseEvent or a dict"),
]


@pytest.mark.parametrize(
    ("source", "field", "text"), [c[1:] for c in PREPARE_ERRORS], ids=[c[0] for c in PREPARE_ERRORS]
)
def test_prepare_errors_name_the_field(source: Any, field: str, text: str) -> None:
    with pytest.raises(ValidationError) as info:
        prepare(source, min_id_length=5)
    assert info.value.field == field
    assert text in str(info.value)


def _nested_lists(levels: int) -> dict[str, Any]:
    # A dict, then lists and dicts in turn: every container is a level.
    value: Any = ["leaf"]
    for level in range(levels - 2):
        value = {"x": value} if level % 2 else [1, value]
    return {"a": value, "flat": "text"}


DEPTHS: list[tuple[str, Any, bool]] = [
    ("flat", {"a": 1, "b": "two", "c": None}, True),
    ("empty", {}, True),
    ("40 dicts", _nested(40), True),
    ("41 dicts", _nested(41), False),
    ("40 mixed levels", _nested_lists(40), True),
    ("41 mixed levels", _nested_lists(41), False),
    ("deep branch after shallow ones", {"a": [1], "b": {"c": 2}, "z": _nested(40)}, False),
    ("tuple is not a level", {"a": ({"b": 1},)}, True),
]


@pytest.mark.parametrize(
    ("properties", "accepted"), [c[1:] for c in DEPTHS], ids=[c[0] for c in DEPTHS]
)
def test_properties_nesting_limit(properties: dict[str, Any], accepted: bool) -> None:
    source = {"event_type": "e", "user_id": "user-1", "event_properties": properties}
    if accepted:
        assert prepare(source, min_id_length=5)["event_properties"] is properties
    else:
        with pytest.raises(ValidationError, match="deeper than 40"):
            prepare(source, min_id_length=5)


def test_event_object_is_checked_like_its_dict() -> None:
    event = BaseEvent(
        "e", user_id="user-1", product_id="p-1", plan=Plan(branch="main"), event_properties={"a": 1}
    )
    assert prepare(event, min_id_length=5) == prepare(event.to_dict(), min_id_length=5)
    event.price = "free"  # type: ignore[assignment]
    with pytest.raises(ValidationError) as info:
        prepare(event, min_id_length=5)
    assert info.value.field == "price"


def test_long_top_level_strings_are_truncated_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = {"event_type": "e" * 1025, "user_id": "u" * 2000, "platform": "p" * 1024}
    with caplog.at_level(logging.WARNING, logger="trackwire"):
        event = prepare(source, min_id_length=5)
    assert event["event_type"] == "e" * 1024
    assert event["user_id"] == "u" * 1024
    assert event["platform"] == "p" * 1024  # at the limit: kept whole
    assert len(source["event_type"]) == 1025  # the caller's dict is untouched
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "event_type longer than 1024 characters truncated" in logged
    assert "user_id longer than 1024" in logged and "platform" not in logged
    assert "eeee" not in logged  # the value never reaches a log line
