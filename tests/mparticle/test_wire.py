"""mParticle's wire rules: batch and bulk checks, helpers, response bodies, outcomes."""

# The reference examples below are copied verbatim, long lines included.
# ruff: noqa: E501

from __future__ import annotations

import copy
import email.utils
from typing import Any

import orjson
import pytest

from trackwire._engine.retry import Delivered, Rejected, Retry, Split
from trackwire._engine.transport import HTTPResult
from trackwire.mparticle import schema, wire

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAY_MS = 24 * 3600 * 1000

# The reference's §14 examples, copied verbatim: they validate against mParticle's live schema.
EXAMPLE_CUSTOM_EVENTS = """
{
  "environment": "development",
  "source_request_id": "0b6f3c52-2f0e-4c55-9a3e-4a7d2e1f9c01",
  "ip": "203.0.113.24",
  "user_identities": {"customer_id": "user-4821", "email": "ada@example.com"},
  "user_attributes": {"$firstname": "Ada", "plan": "pro", "favorite_genres": ["jazz", "ambient"]},
  "deleted_user_attributes": ["trial_end_date"],
  "device_info": {"platform": "web", "http_header_user_agent": "Mozilla/5.0 (X11; Linux x86_64)"},
  "application_info": {"application_name": "trackwire-demo", "application_version": "1.4.0"},
  "context": {"data_plan": {"plan_id": "backend_plan", "plan_version": 3}},
  "events": [
    {
      "event_type": "custom_event",
      "data": {
        "event_name": "Report Exported",
        "custom_event_type": "user_content",
        "timestamp_unixtime_ms": 1767225600000,
        "source_message_id": "6c1d0e53-9a43-4d2b-8d7f-0d3c5a8b2e11",
        "session_uuid": "3f2a9c1e-7b4d-4e8a-9c0f-1a2b3c4d5e6f",
        "custom_attributes": {"format": "csv", "rows": 1200, "compressed": true},
        "custom_flags": {"Google.Category": "reports"},
        "location": {"latitude": 52.52, "longitude": 13.405, "accuracy": 50.0}
      }
    },
    {
      "event_type": "screen_view",
      "data": {
        "screen_name": "Billing",
        "timestamp_unixtime_ms": 1767225605000,
        "source_message_id": "e1a8f7b2-0c33-4b6e-a1d5-77f0c2d9b310",
        "custom_attributes": {"referrer": "settings"}
      }
    }
  ]
}
"""

EXAMPLE_COMMERCE_CONSENT = """
{
  "environment": "production",
  "source_request_id": "a4e2d8c0-5b1f-4f7a-8e23-9d6c1b0a7f42",
  "mpid": 7346244611012968789,
  "user_identities": {"customer_id": "cust-99812", "email": "buyer@example.com", "mobile_number": "+15555550123"},
  "consent_state": {
    "gdpr": {
      "marketing": {
        "consented": true,
        "document": "privacy_policy_v7",
        "timestamp_unixtime_ms": 1767220000000,
        "location": "shop.example.com/checkout",
        "hardware_id": "web:8d0c1f7e"
      }
    },
    "ccpa": {"data_sale_opt_out": {"consented": false, "timestamp_unixtime_ms": 1767220000000}}
  },
  "events": [
    {
      "event_type": "commerce_event",
      "data": {
        "timestamp_unixtime_ms": 1767225900000,
        "source_message_id": "5d7e0a9c-3b2f-4c6d-8e1a-2f4b6d8e0a13",
        "currency_code": "EUR",
        "is_non_interactive": false,
        "product_action": {
          "action": "purchase",
          "transaction_id": "ORD-2026-000451",
          "affiliation": "web-store",
          "total_amount": 83.97,
          "tax_amount": 13.41,
          "shipping_amount": 4.99,
          "coupon_code": "WINTER10",
          "products": [
            {
              "id": "SKU-TEE-BLK-M",
              "name": "Logo T-Shirt",
              "brand": "Example Apparel",
              "category": "Apparel/Tops",
              "variant": "Black / M",
              "position": 1,
              "price": 24.99,
              "quantity": 2,
              "total_product_amount": 49.98,
              "custom_attributes": {"material": "cotton"}
            },
            {"id": "SKU-MUG-01", "name": "Enamel Mug", "category": "Home", "price": 14.99, "quantity": 1, "total_product_amount": 14.99}
          ]
        },
        "custom_attributes": {"payment_method": "card"}
      }
    }
  ]
}
"""

EXAMPLE_BULK = """
[
  {
    "environment": "production",
    "source_request_id": "c9f1e2d3-4a5b-4c6d-8e7f-901a2b3c4d5e",
    "user_identities": {"customer_id": "user-1001"},
    "events": [
      {
        "event_type": "session_start",
        "data": {
          "timestamp_unixtime_ms": 1767229200000,
          "session_uuid": "11111111-2222-4333-8444-555555555555",
          "source_message_id": "11111111-2222-4333-8444-555555555555"
        }
      },
      {
        "event_type": "custom_event",
        "data": {
          "event_name": "Search Performed",
          "custom_event_type": "search",
          "timestamp_unixtime_ms": 1767229210000,
          "session_uuid": "11111111-2222-4333-8444-555555555555",
          "source_message_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
          "custom_attributes": {"query": "usb-c cable", "results": 42}
        }
      },
      {
        "event_type": "session_end",
        "data": {
          "timestamp_unixtime_ms": 1767229260000,
          "session_uuid": "11111111-2222-4333-8444-555555555555",
          "source_message_id": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
          "session_duration_ms": 60000
        }
      }
    ]
  },
  {
    "environment": "production",
    "source_request_id": "d0e1f2a3-b4c5-4d6e-9f70-8192a3b4c5d6",
    "user_identities": {"customer_id": "user-1002", "other": "crm-77"},
    "user_attributes": {"tier": "gold"},
    "events": [
      {
        "event_type": "commerce_event",
        "data": {
          "timestamp_unixtime_ms": 1767229300000,
          "source_message_id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
          "currency_code": "USD",
          "product_action": {"action": "add_to_cart", "products": [{"id": "SKU-CBL-2M", "name": "USB-C Cable 2m", "price": 9.5, "quantity": 3}]}
        }
      },
      {
        "event_type": "commerce_event",
        "data": {
          "timestamp_unixtime_ms": 1767229320000,
          "source_message_id": "3c4d5e6f-7081-4293-a4b5-c6d7e8f90a12",
          "promotion_action": {"action": "click", "promotions": [{"id": "PROMO-SPRING", "name": "Spring Sale", "creative": "banner_top", "position": "home_1"}]}
        }
      }
    ]
  }
]
"""

# What mparticle (Python) 0.16.1 put on the wire (reference §9.8 and wire-formats), crash
# report mislabelled as a commerce event and ``customerid`` included.
PYTHON_SDK_BODY = {
    "environment": "development",
    "events": [
        {"data": {}, "event_type": "session_start"},
        {
            "data": {
                "custom_attributes": {"k": "v"},
                "custom_event_type": "navigation",
                "event_name": "Hello",
                "timestamp_unixtime_ms": 1700000000000,
            },
            "event_type": "custom_event",
        },
        {"data": {"message": "boom"}, "event_type": "commerce_event"},
        {
            "data": {
                "product_action": {
                    "action": "purchase",
                    "transaction_id": "T1",
                    "products": [{"id": "SKU", "price": 9.5, "quantity": 2}],
                }
            },
            "event_type": "commerce_event",
        },
        {"data": {"screen_name": "Home"}, "event_type": "screen_view"},
    ],
    "user_identities": {"customerid": "123", "email": "a@b.c"},
    "consent_state": {
        "ccpa": {"data_sale_opt_out": {"consented": False, "timestamp_unixtime_ms": 1767225600000}},
        "gdpr": {
            "marketing": {
                "document": "doc",
                "consented": True,
                "timestamp_unixtime_ms": 1767225600000,
                "location": "l",
                "hardware_id": "h",
            }
        },
    },
}


def _batch(*events: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"environment": "production", "events": list(events), **fields}


def _custom(**data: Any) -> dict[str, Any]:
    base = {"event_name": "Clicked", "custom_event_type": "navigation"}
    return {"event_type": "custom_event", "data": {**base, **data}}


def _paths(problems: list[wire.BatchProblem]) -> list[str]:
    return [p.path for p in problems]


# --- constants ---------------------------------------------------------------------------------


def test_hosts_and_paths() -> None:
    assert wire.DEFAULT_BASE_URL + wire.EVENTS_PATH == "https://s2s.mparticle.com/v2/events"
    assert wire.POD_URLS["eu1"] + wire.BULK_PATH == "https://s2s.eu1.mparticle.com/v2/bulkevents"
    assert set(wire.POD_URLS) == {"us1", "us2", "eu1", "au1"}
    assert wire.HISTORICAL_PATH == "/v2/bulkevents/historical"
    assert (schema.MAX_BULK_BATCHES, schema.MAX_BATCH_BYTES, schema.MAX_REQUEST_BYTES) == (
        100,
        128_000,
        256_000,
    )
    assert schema.HISTORICAL_MIN_AGE_MS == 3 * DAY_MS
    assert "remove_from_wish_list" in schema.PRODUCT_ACTIONS
    assert "remove_from_wishlist" in schema.COMMERCE_CUSTOM_EVENT_TYPES
    assert {"media", "attribution"} <= set(schema.CUSTOM_EVENT_TYPES)
    assert len(schema.EVENT_TYPES) == 19


# --- the documented examples and the SDKs' bodies ----------------------------------------------


@pytest.mark.parametrize("text", [EXAMPLE_CUSTOM_EVENTS, EXAMPLE_COMMERCE_CONSENT])
def test_reference_batch_examples_pass(text: str) -> None:
    assert wire.check_batch(orjson.loads(text)) == []


def test_reference_bulk_example_passes() -> None:
    assert wire.check_bulk(orjson.loads(EXAMPLE_BULK)) == []


def test_reference_examples_fit_the_size_limits() -> None:
    for text in (EXAMPLE_CUSTOM_EVENTS, EXAMPLE_COMMERCE_CONSENT, EXAMPLE_BULK):
        assert wire.check_sizes(len(orjson.dumps(orjson.loads(text)))) == []


def test_official_python_sdk_body_passes() -> None:
    assert wire.check_batch(PYTHON_SDK_BODY) == []


def test_official_node_sdk_body_passes() -> None:
    body = {
        "environment": "production",
        "user_identities": {"customerid": "123456", "email": "a@b.c"},
        "mpid": 600868121729048600,
        "events": [
            {"data": {"session_uuid": "11111111-2222-4333-8444-555555555555"},
             "event_type": "session_start"},
            {"data": {"custom_event_type": "navigation", "event_name": "Hello World"},
             "event_type": "custom_event"},
        ],
    }  # fmt: skip
    assert wire.check_batch(body) == []


# --- check_batch -------------------------------------------------------------------------------

# (case, batch, expected problem paths)
BATCH_CASES: list[tuple[str, object, list[str]]] = [
    ("not an object", [], [""]),
    ("no environment", {"events": []}, ["environment"]),
    ("bad environment", _batch(environment="staging"), ["environment"]),
    ("unknown environment", _batch(environment="unknown"), ["environment"]),
    ("no events is fine", {"environment": "development"}, []),
    ("unknown top-level key ignored", _batch(schema_version=2, something_new=1), []),
    ("events not a list", _batch() | {"events": {}}, ["events"]),
    ("event not an object", _batch("x"), ["events[0]"]),  # type: ignore[arg-type]
    ("no event_type", _batch({"data": {}}), ["events[0].event_type"]),
    ("unknown event_type", _batch({"event_type": "pageview", "data": {}}),
     ["events[0].event_type"]),
    ("no data", _batch({"event_type": "session_start"}), ["events[0].data"]),
    ("data not object", _batch({"event_type": "session_start", "data": []}), ["events[0].data"]),
    ("custom without name", _batch(_custom(event_name=None)), ["events[0].data.event_name"]),
    ("custom empty name", _batch(_custom(event_name="")), ["events[0].data.event_name"]),
    ("custom without type", _batch(_custom(custom_event_type=None)),
     ["events[0].data.custom_event_type"]),
    ("custom bad type", _batch(_custom(custom_event_type="unknown")),
     ["events[0].data.custom_event_type"]),
    ("custom media", _batch(_custom(custom_event_type="media")), []),
    ("custom attribution", _batch(_custom(custom_event_type="attribution")), []),
    ("timestamp string", _batch(_custom(timestamp_unixtime_ms="1767225600000")),
     ["events[0].data.timestamp_unixtime_ms"]),
    ("timestamp float", _batch(_custom(timestamp_unixtime_ms=1.7e12)),
     ["events[0].data.timestamp_unixtime_ms"]),
    ("source_message_id number", _batch(_custom(source_message_id=5)),
     ["events[0].data.source_message_id"]),
    ("attribute object", _batch(_custom(custom_attributes={"a": {"b": 1}})),
     ["events[0].data.custom_attributes.a"]),
    ("attribute list", _batch(_custom(custom_attributes={"a": [1]})),
     ["events[0].data.custom_attributes.a"]),
    ("attribute scalars", _batch(_custom(custom_attributes={"s": "x", "n": 1.5, "b": True,
                                                            "z": None})), []),
    ("attributes not object", _batch(_custom(custom_attributes=[1])),
     ["events[0].data.custom_attributes"]),
    ("flags list of strings", _batch(_custom(custom_flags={"Google.Label": ["a", "b"]})), []),
    ("flags object", _batch(_custom(custom_flags={"f": {"x": 1}})),
     ["events[0].data.custom_flags.f"]),
    ("location missing longitude", _batch(_custom(location={"latitude": 1.0})),
     ["events[0].data.location.longitude"]),
    ("location bad source", _batch(_custom(location={"latitude": 1, "longitude": 2,
                                                     "location_source": "gps"})),
     ["events[0].data.location.location_source"]),
    ("screen view without name", _batch({"event_type": "screen_view", "data": {}}),
     ["events[0].data.screen_name"]),
    ("session end without duration", _batch({"event_type": "session_end", "data": {}}), []),
    ("session end duration text", _batch({"event_type": "session_end",
                                          "data": {"session_duration_ms": "60"}}),
     ["events[0].data.session_duration_ms"]),
    ("state transition bad type", _batch({"event_type": "application_state_transition",
                                          "data": {"application_transition_type": "sleep"}}),
     ["events[0].data.application_transition_type"]),
    ("opt out needs flag", _batch({"event_type": "opt_out", "data": {}}),
     ["events[0].data.is_opted_out"]),
    ("opt out flag text", _batch({"event_type": "opt_out", "data": {"is_opted_out": "yes"}}),
     ["events[0].data.is_opted_out"]),
    ("breadcrumb needs label", _batch({"event_type": "breadcrumb", "data": {}}),
     ["events[0].data.label"]),
    ("profile bad type", _batch({"event_type": "profile", "data": {
        "previous_mpid": 1, "current_mpid": 2, "profile_event_type": "merge"}}),
     ["events[0].data.profile_event_type"]),
    ("uninstall", _batch({"event_type": "uninstall", "data": {}}), []),
    ("commerce two variants", _batch({"event_type": "commerce_event", "data": {
        "product_action": {"action": "purchase"}, "promotion_action": {"action": "view"}}}),
     ["events[0].data"]),
    ("commerce bad action", _batch({"event_type": "commerce_event", "data": {
        "product_action": {"action": "buy"}}}), ["events[0].data.product_action.action"]),
    ("commerce action missing", _batch({"event_type": "commerce_event", "data": {
        "product_action": {}}}), ["events[0].data.product_action.action"]),
    ("commerce wishlist spelling", _batch({"event_type": "commerce_event", "data": {
        "product_action": {"action": "remove_from_wishlist"}}}),
     ["events[0].data.product_action.action"]),
    ("commerce total text", _batch({"event_type": "commerce_event", "data": {
        "product_action": {"action": "purchase", "total_amount": "9.99"}}}),
     ["events[0].data.product_action.total_amount"]),
    ("product price text", _batch({"event_type": "commerce_event", "data": {
        "product_action": {"action": "purchase", "products": [{"id": "a"}, {"price": "9.99"}]}}}),
     ["events[0].data.product_action.products[1].price"]),
    ("product attribute object", _batch({"event_type": "commerce_event", "data": {
        "product_action": {"action": "purchase", "products": [{"custom_attributes": {"a": {}}}]}}}),
     ["events[0].data.product_action.products[0].custom_attributes.a"]),
    ("promotion bad action", _batch({"event_type": "commerce_event", "data": {
        "promotion_action": {"action": "share", "promotions": [{"id": 1}]}}}),
     ["events[0].data.promotion_action.action",
      "events[0].data.promotion_action.promotions[0].id"]),
    ("impression without list name", _batch({"event_type": "commerce_event", "data": {
        "product_impressions": [{"products": []}]}}),
     ["events[0].data.product_impressions[0].product_impression_list"]),
    ("impression products not list", _batch({"event_type": "commerce_event", "data": {
        "product_impressions": [{"product_impression_list": "l", "products": "p"}]}}),
     ["events[0].data.product_impressions[0].products"]),
    ("cart without products", _batch({"event_type": "commerce_event", "data": {
        "product_action": {"action": "checkout"}, "shopping_cart": {}}}),
     ["events[0].data.shopping_cart.products"]),
    ("products not list", _batch({"event_type": "commerce_event", "data": {
        "product_action": {"action": "checkout", "products": {}}}}),
     ["events[0].data.product_action.products"]),
    ("commerce without variant", _batch({"event_type": "commerce_event",
                                         "data": {"currency_code": "EUR"}}), []),
    ("commerce event type", _batch({"event_type": "commerce_event", "data": {
        "custom_event_type": "purchase", "product_action": {"action": "purchase"}}}), []),
    ("commerce bad event type", _batch({"event_type": "commerce_event", "data": {
        "custom_event_type": "remove_from_wish_list", "product_action": {"action": "refund"}}}),
     ["events[0].data.custom_event_type"]),
    ("identity customer_id", _batch(user_identities={"customer_id": "1"}), []),
    ("identity customerid", _batch(user_identities={"customerid": "1"}), []),
    ("identity unknown", _batch(user_identities={"user_id": "1"}), ["user_identities.user_id"]),
    ("identity number", _batch(user_identities={"email": 5}), ["user_identities.email"]),
    ("user attribute list", _batch(user_attributes={"genres": ["jazz"], "$age": 30}), []),
    ("user attribute object", _batch(user_attributes={"a": {"b": 1}}), ["user_attributes.a"]),
    ("deleted attributes", _batch(deleted_user_attributes="a"), ["deleted_user_attributes"]),
    ("mpid string", _batch(mpid="123"), ["mpid"]),
    ("bad ip", _batch(ip="300.1.1.1"), ["ip"]),
    ("ipv6", _batch(ip="2001:db8::1"), []),
    ("device platform", _batch(device_info={"platform": "linux"}), ["device_info.platform"]),
    ("device idfa", _batch(device_info={"ios_advertising_id": "abc"}),
     ["device_info.ios_advertising_id"]),
    ("device bool", _batch(device_info={"limit_ad_tracking": "no"}),
     ["device_info.limit_ad_tracking"]),
    ("application os", _batch(application_info={"os": "Linux"}), ["application_info.os"]),
    ("data plan id", _batch(context={"data_plan": {"plan_version": 2}}),
     ["context.data_plan.plan_id"]),
    ("consent not object", _batch(consent_state=[]), ["consent_state"]),
    ("gdpr purpose null", _batch(consent_state={"gdpr": {"marketing": None}}),
     ["consent_state.gdpr.marketing"]),
    ("gdpr consented text", _batch(consent_state={"gdpr": {"marketing": {
        "consented": "true", "timestamp_unixtime_ms": 1}}}),
     ["consent_state.gdpr.marketing.consented"]),
    ("gdpr timestamp missing", _batch(consent_state={"gdpr": {"marketing": {"consented": True}}}),
     ["consent_state.gdpr.marketing.timestamp_unixtime_ms"]),
    ("gdpr unknown field", _batch(consent_state={"gdpr": {"marketing": {
        "consented": True, "timestamp_unixtime_ms": 1, "purpose": "x"}}}),
     ["consent_state.gdpr.marketing.purpose"]),
    ("ccpa other purpose", _batch(consent_state={"ccpa": {"sale": {
        "consented": True, "timestamp_unixtime_ms": 1}}}), ["consent_state.ccpa.sale"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("batch", "paths"), [c[1:] for c in BATCH_CASES], ids=[c[0] for c in BATCH_CASES]
)
def test_check_batch(batch: object, paths: list[str]) -> None:
    problems = wire.check_batch(batch)
    assert _paths(problems) == paths
    assert all(p.message and p.batch is None for p in problems)


def test_problems_are_reported_at_each_event() -> None:
    batch = _batch(_custom(), _custom(event_name=None), {"event_type": "screen_view", "data": {}})
    assert _paths(wire.check_batch(batch)) == [
        "events[1].data.event_name",
        "events[2].data.screen_name",
    ]


HISTORICAL_CASES: list[tuple[str, object, list[str]]] = [
    ("old enough", _batch(_custom(timestamp_unixtime_ms=int(NOW * 1000) - 4 * DAY_MS)), []),
    ("exactly 72 hours", _batch(_custom(timestamp_unixtime_ms=int(NOW * 1000) - 3 * DAY_MS)), []),
    ("too recent", _batch(_custom(timestamp_unixtime_ms=int(NOW * 1000) - 3 * DAY_MS + 1)),
     ["events[0].data.timestamp_unixtime_ms"]),
    ("no timestamp", _batch(_custom()), ["events[0].data.timestamp_unixtime_ms"]),
    ("no events", _batch(), ["events"]),
    ("events absent", {"environment": "production"}, ["events"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("batch", "paths"), [c[1:] for c in HISTORICAL_CASES], ids=[c[0] for c in HISTORICAL_CASES]
)
def test_historical_rules(batch: object, paths: list[str]) -> None:
    assert _paths(wire.check_batch(batch, historical=True, now=NOW)) == paths
    assert wire.check_batch(batch, now=NOW) == []


def test_historical_reference_example_needs_old_events() -> None:
    bulk = orjson.loads(EXAMPLE_BULK)
    recent = wire.check_bulk(bulk, historical=True, now=1767229320.0)
    assert len(recent) == 5 and {p.batch for p in recent} == {0, 1}
    assert wire.check_bulk(bulk, historical=True, now=1767229320.0 + 3 * 86400) == []


# --- check_bulk and sizes ----------------------------------------------------------------------


def test_check_bulk_prefixes_paths_with_the_batch_index() -> None:
    bulk = orjson.loads(EXAMPLE_BULK)
    del bulk[1]["environment"]
    bulk[0]["events"][1]["data"]["custom_event_type"] = "clicks"
    problems = wire.check_bulk(bulk)
    assert [(p.path, p.batch) for p in problems] == [
        ("[0].events[1].data.custom_event_type", 0),
        ("[1].environment", 1),
    ]


@pytest.mark.parametrize(
    ("body", "count"),
    [({"environment": "production"}, 1), ([{}] * 0, 0), ([_batch()] * 101, 1), ("x", 1)],
    ids=["object", "empty array", "101 batches", "string"],
)
def test_check_bulk_request_shape(body: object, count: int) -> None:
    problems = wire.check_bulk(body)
    assert len(problems) == count
    assert all(p.path == "" and p.batch is None for p in problems)


def test_check_bulk_accepts_100_batches() -> None:
    assert wire.check_bulk([_batch(_custom())] * 100) == []


def test_check_bulk_reports_non_object_batch() -> None:
    assert [(p.path, p.batch) for p in wire.check_bulk([_batch(), 3])] == [("[1]", 1)]


def test_check_sizes() -> None:
    assert wire.check_sizes(256_000, [128_000]) == []
    problems = wire.check_sizes(256_001, [10, 128_001])
    assert [(p.path, p.batch) for p in problems] == [("", None), ("[1]", 1)]


# --- helpers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"customerid": "1", "email": "a@b.c"}, {"customer_id": "1", "email": "a@b.c"}),
        ({"customer_id": "2", "customerid": "1"}, {"customer_id": "2"}),
        ({"customerid": "1", "customer_id": "2"}, {"customer_id": "2"}),
        ({"email": None, "other": "", "alias": 5}, {}),
        ("nope", {}),
    ],
)
def test_identities(raw: object, expected: dict[str, str]) -> None:
    assert wire.identities({"user_identities": raw}) == expected


@pytest.mark.parametrize(
    ("event", "name"),
    [
        (_custom(), "Clicked"),
        ({"event_type": "screen_view", "data": {"screen_name": "Billing"}}, "Billing"),
        ({"event_type": "commerce_event", "data": {"event_name": "Bought"}}, "Bought"),
        ({"event_type": "commerce_event", "data": {"product_action": {"action": "x"}}}, None),
        ({"event_type": "session_start", "data": {}}, None),
        ({"event_type": "custom_event"}, None),
    ],
)
def test_event_name(event: dict[str, Any], name: str | None) -> None:
    assert wire.event_name(event) == name


def test_event_time_and_dedup_keys() -> None:
    event = _custom(timestamp_unixtime_ms=1767225600000, source_message_id="m-1")
    assert wire.event_time_ms(event) == 1767225600000
    assert wire.dedup_key(event) == "m-1"
    bad = _custom(timestamp_unixtime_ms="1", source_message_id="")
    assert wire.event_time_ms(bad) is None and wire.dedup_key(bad) is None
    assert wire.event_time_ms(_custom(timestamp_unixtime_ms=True)) is None
    assert wire.request_id({"source_request_id": "r-1"}) == "r-1"
    assert wire.request_id({}) is None


# --- responses ---------------------------------------------------------------------------------


def test_bodies() -> None:
    assert wire.ACCEPTED_STATUS == 202
    assert wire.accepted_body() == b""
    problems = [
        wire.BatchProblem("events[0].event_type", "is required"),
        wire.BatchProblem("", "a batch must be a JSON object"),
    ]
    assert wire.error_body(problems) == {
        "errors": [
            {"code": "BAD_REQUEST", "message": "events[0].event_type: is required"},
            {"code": "BAD_REQUEST", "message": "a batch must be a JSON object"},
        ]
    }
    unauthorized = wire.error_body([wire.BatchProblem("", "bad key")], code="UNAUTHORIZED")
    assert unauthorized == {"errors": [{"code": "UNAUTHORIZED", "message": "bad key"}]}


def _result(status: int | None, body: object = b"", **headers: str) -> HTTPResult:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    error = "connection: NewConnectionError" if status is None else None
    return HTTPResult(status=status, headers=headers, body=raw, error=error)


HTTP_DATE = email.utils.formatdate(NOW + 90, usegmt=True)
BAD = wire.error_body([wire.BatchProblem("environment", "is required")])

OUTCOMES: list[tuple[str, HTTPResult, int, object]] = [
    ("202", _result(202), 3, Delivered()),
    ("200", _result(200), 3, Delivered()),
    ("no response", _result(None), 3, Retry(reason="connection: NewConnectionError")),
    ("400", _result(400, BAD), 3, Rejected(reason="HTTP 400: environment: is required",
                                           status=400)),
    ("400 no body", _result(400), 3, Rejected(reason="HTTP 400", status=400)),
    ("401", _result(401), 3, Rejected(reason="HTTP 401: check the API key and secret",
                                      status=401)),
    ("403 with body", _result(403, {"errors": [{"code": "FORBIDDEN", "message": "nope"}]}), 3,
     Rejected(reason="HTTP 403: check the API key and secret (nope)", status=403)),
    ("429 seconds", _result(429, b"", **{"retry-after": "7", "x-mp-rate-limit-exceeded": "app"}),
     3, Retry(reason="HTTP 429: limit: app", after=7.0, status=429)),
    ("429 date", _result(429, b"", **{"retry-after": HTTP_DATE}), 3,
     Retry(reason="HTTP 429", after=90.0, status=429)),
    ("429 no header", _result(429), 3, Retry(reason="HTTP 429", status=429)),
    ("503", _result(503, b"", **{"retry-after": "2"}), 3,
     Retry(reason="HTTP 503", after=2.0, status=503)),
    ("500 text", _result(500, b"oops"), 3, Retry(reason="HTTP 500: oops", status=500)),
    ("413 split", _result(413), 3, Split(reason="HTTP 413", status=413)),
    ("413 single", _result(413), 1, Rejected(reason="HTTP 413", status=413)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("result", "size", "expected"), [c[1:] for c in OUTCOMES], ids=[c[0] for c in OUTCOMES]
)
def test_outcome(result: HTTPResult, size: int, expected: object) -> None:
    assert wire.outcome(result, NOW, size) == expected


def test_checks_do_not_modify_their_input() -> None:
    bulk = orjson.loads(EXAMPLE_BULK)
    before = copy.deepcopy(bulk)
    wire.check_bulk(bulk, historical=True, now=NOW)
    assert bulk == before
