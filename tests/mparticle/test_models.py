"""The mParticle models serialise to the documented JSON, and every check names its field."""

# Tables of cases read best one case per line.
# ruff: noqa: E501

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pytest

from tests.mparticle.test_wire import EXAMPLE_BULK, EXAMPLE_COMMERCE_CONSENT, EXAMPLE_CUSTOM_EVENTS
from trackwire.errors import MessageTooLargeError, ValidationError
from trackwire.mparticle import models as mp
from trackwire.mparticle import schema
from trackwire.mparticle.prepare import build, encode_batch, fill_ids, is_historical

SESSION = "11111111-2222-4333-8444-555555555555"


def custom_events_batch() -> mp.Batch:
    """The reference's §14.1 example, built keyword style."""
    return mp.Batch(
        environment="development",
        source_request_id="0b6f3c52-2f0e-4c55-9a3e-4a7d2e1f9c01",
        ip="203.0.113.24",
        user_identities=mp.UserIdentities(customer_id="user-4821", email="ada@example.com"),
        user_attributes={
            "$firstname": "Ada",
            "plan": "pro",
            "favorite_genres": ["jazz", "ambient"],
        },
        deleted_user_attributes=["trial_end_date"],
        device_info=mp.DeviceInformation(
            platform="web", http_header_user_agent="Mozilla/5.0 (X11; Linux x86_64)"
        ),
        application_info=mp.ApplicationInformation(
            application_name="trackwire-demo", application_version="1.4.0"
        ),
        context=mp.BatchContext(data_plan=mp.DataPlanContext("backend_plan", 3)),
        events=[
            mp.AppEvent(
                "Report Exported",
                mp.CustomEventType.user_content,
                timestamp_unixtime_ms=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                source_message_id="6c1d0e53-9a43-4d2b-8d7f-0d3c5a8b2e11",
                session_uuid="3f2a9c1e-7b4d-4e8a-9c0f-1a2b3c4d5e6f",
                custom_attributes={"format": "csv", "rows": 1200, "compressed": True},
                custom_flags={"Google.Category": "reports"},
                location=mp.GeoLocation(52.52, 13.405, 50.0),
            ),
            mp.ScreenViewEvent(
                "Billing",
                timestamp_unixtime_ms=1767225605000,
                source_message_id="e1a8f7b2-0c33-4b6e-a1d5-77f0c2d9b310",
                custom_attributes={"referrer": "settings"},
            ),
        ],
    )


def commerce_batch() -> mp.Batch:
    """The reference's §14.2 example, built the official SDKs' way: create, then assign."""
    batch = mp.Batch()
    batch.environment = mp.Batch.Environment.production
    batch.source_request_id = "a4e2d8c0-5b1f-4f7a-8e23-9d6c1b0a7f42"
    batch.mpid = 7346244611012968789
    identities = mp.UserIdentities()
    identities.customerid = "cust-99812"  # the official package's spelling
    identities.email = "buyer@example.com"
    identities.mobile_number = "+15555550123"
    batch.user_identities = identities
    marketing = mp.GDPRConsentState()
    marketing.consented = True
    marketing.document = "privacy_policy_v7"
    marketing.timestamp_unixtime_ms = 1767220000000
    marketing.location = "shop.example.com/checkout"
    marketing.hardware_id = "web:8d0c1f7e"
    consent = mp.ConsentState()
    consent.gdpr = {"marketing": marketing}
    consent.ccpa = {
        "data_sale_opt_out": mp.CCPAConsentState(
            consented=False, timestamp_unixtime_ms=1767220000000
        )
    }
    batch.consent_state = consent
    tee = mp.Product()
    tee.id, tee.name, tee.brand = "SKU-TEE-BLK-M", "Logo T-Shirt", "Example Apparel"
    tee.category, tee.variant, tee.position = "Apparel/Tops", "Black / M", 1
    tee.price, tee.quantity, tee.total_product_amount = Decimal("24.99"), 2, Decimal("49.98")
    tee.custom_attributes = {"material": "cotton"}
    mug = mp.Product(
        id="SKU-MUG-01", name="Enamel Mug", category="Home", price=14.99, quantity=1,
        total_product_amount=14.99,
    )  # fmt: skip
    action = mp.ProductAction("purchase")
    action.products = [tee, mug]
    action.transaction_id, action.affiliation = "ORD-2026-000451", "web-store"
    action.total_amount, action.tax_amount, action.shipping_amount = 83.97, 13.41, 4.99
    action.coupon_code = "WINTER10"
    event = mp.CommerceEvent(action)
    event.timestamp_unixtime_ms = 1767225900000
    event.source_message_id = "5d7e0a9c-3b2f-4c6d-8e1a-2f4b6d8e0a13"
    event.currency_code = "EUR"
    event.is_non_interactive = False
    event.custom_attributes = {"payment_method": "card"}
    batch.add_event(event)
    return batch


def bulk_batches() -> list[mp.Batch]:
    """The reference's §14.3 example: two users, sessions and commerce."""
    start = dt.datetime(2026, 1, 1, 1, 0, tzinfo=dt.timezone.utc)
    first = mp.Batch(
        "production",
        mp.UserIdentities(customer_id="user-1001"),
        source_request_id="c9f1e2d3-4a5b-4c6d-8e7f-901a2b3c4d5e",
    )
    first.add_event(
        mp.SessionStartEvent(
            timestamp_unixtime_ms=start, session_uuid=SESSION, source_message_id=SESSION
        )
    ).add_event(
        mp.AppEvent(
            "Search Performed",
            "search",
            timestamp_unixtime_ms=start + dt.timedelta(seconds=10),
            session_uuid=SESSION,
            source_message_id="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            custom_attributes={"query": "usb-c cable", "results": 42},
        )
    ).add_event(
        mp.SessionEndEvent(
            timestamp_unixtime_ms=1767229260000,
            session_uuid=SESSION,
            source_message_id="0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
            session_duration_ms=dt.timedelta(minutes=1),
        )
    )
    second = mp.Batch(
        "production",
        mp.UserIdentities(customer_id="user-1002", other="crm-77"),
        source_request_id="d0e1f2a3-b4c5-4d6e-9f70-8192a3b4c5d6",
        user_attributes={"tier": "gold"},
        events=[
            mp.CommerceEvent(
                mp.ProductAction(
                    mp.ProductActionType.add_to_cart,
                    products=[
                        mp.Product(id="SKU-CBL-2M", name="USB-C Cable 2m", price=9.5, quantity=3)
                    ],
                ),
                timestamp_unixtime_ms=1767229300000,
                source_message_id="2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
                currency_code="USD",
            ),
            mp.CommerceEvent(
                promotion_action=mp.PromotionAction(
                    "click",
                    [
                        mp.Promotion(
                            id="PROMO-SPRING",
                            name="Spring Sale",
                            creative="banner_top",
                            position="home_1",
                        )
                    ],
                ),
                timestamp_unixtime_ms=1767229320000,
                source_message_id="3c4d5e6f-7081-4293-a4b5-c6d7e8f90a12",
            ),
        ],
    )
    return [first, second]


def test_custom_events_example() -> None:
    assert custom_events_batch().to_dict(validate=True) == orjson.loads(EXAMPLE_CUSTOM_EVENTS)


def test_commerce_and_consent_example_with_official_spellings() -> None:
    built = commerce_batch().to_dict(validate=True)
    assert built == orjson.loads(EXAMPLE_COMMERCE_CONSENT)
    assert "customerid" not in orjson.dumps(built).decode()
    # The 64-bit mpid is written exactly (a float would round it to ...8800).
    assert b'"mpid":7346244611012968789' in encode_batch(built)


def test_bulk_example() -> None:
    assert [b.to_dict(validate=True) for b in bulk_batches()] == orjson.loads(EXAMPLE_BULK)


def test_events_are_wrapped_with_their_own_type() -> None:
    cases: list[tuple[mp.EventBase, str, dict[str, Any]]] = [
        (mp.AppEvent("Hello World", "navigation"), "custom_event",
         {"event_name": "Hello World", "custom_event_type": "navigation"}),
        (mp.AppEvent("x"), "custom_event", {"event_name": "x", "custom_event_type": "other"}),
        (mp.ScreenViewEvent("Home", activity_type="activity_started"), "screen_view",
         {"screen_name": "Home", "activity_type": "activity_started"}),
        (mp.SessionStartEvent(session_id=12345678), "session_start", {"session_id": 12345678}),
        (mp.SessionEndEvent(session_id=1, session_duration_ms=5000), "session_end",
         {"session_id": 1, "session_duration_ms": 5000}),
        (mp.CrashReportEvent(severity="fatal", message="boom", exception_handled=False),
         "crash_report", {"severity": "fatal", "message": "boom", "exception_handled": False}),
        (mp.OptOutEvent(is_opted_out=True), "opt_out", {"is_opted_out": True}),
        (mp.PushRegistrationEvent(register=True, registration_token="tok"), "push_registration",
         {"register": True, "registration_token": "tok"}),
        (mp.NetworkPerformanceEvent(url="https://x", response_code=200, http_verb="GET",
                                    time_elapsed=12, bytes_in=3, bytes_out=4),
         "network_performance",
         {"url": "https://x", "response_code": 200, "http_verb": "GET", "time_elapsed": 12,
          "bytes_in": 3, "bytes_out": 4}),
        (mp.BreadcrumbEvent(label="step 2", session_number=3), "breadcrumb",
         {"label": "step 2", "session_number": 3}),
        (mp.ApplicationStateTransitionEvent.create_install_event(), "application_state_transition",
         {"application_transition_type": "application_initialized", "is_first_run": True,
          "is_upgrade": False}),
        (mp.ApplicationStateTransitionEvent.create_background_event(),
         "application_state_transition", {"application_transition_type": "application_background"}),
        (mp.UserAttributeChangeEvent(user_attribute_name="plan", new="pro", old="free",
                                     deleted=False, is_new_attribute=False),
         "user_attribute_change",
         {"user_attribute_name": "plan", "new": "pro", "old": "free", "deleted": False,
          "is_new_attribute": False}),
        (mp.UserIdentityChangeEvent(
            new=mp.IdentityChange(identity_type=mp.IdentityType.email, identity="b@x.io",
                                  timestamp_unixtime_ms=1767225600000),
            old=mp.IdentityChange(identity_type="email", identity="a@x.io",
                                  timestamp_unixtime_ms=1767225500000)),
         "user_identity_change",
         {"new": {"identity_type": "email", "identity": "b@x.io",
                  "timestamp_unixtime_ms": 1767225600000},
          "old": {"identity_type": "email", "identity": "a@x.io",
                  "timestamp_unixtime_ms": 1767225500000}}),
        (mp.CommerceEvent(product_impressions=[mp.ProductImpression("search", [mp.Product(id="a")])]),
         "commerce_event",
         {"product_impressions": [{"product_impression_list": "search", "products": [{"id": "a"}]}]}),
        (mp.AppEvent.create_attribution_event(publisher="p", campaign="c"), "custom_event",
         {"event_name": "attribution", "custom_event_type": "attribution",
          "custom_attributes": {"campaign": "c", "publisher": "p"}}),
        (mp.FirstRunEvent(), "first_run", {}),
        (mp.UninstallEvent(event_id=9), "uninstall", {}),  # event_id is mParticle's, never sent
    ]  # fmt: skip
    for event, event_type, data in cases:
        assert event.to_event() == {"data": data, "event_type": event_type}
        assert event_type in schema.EVENT_TYPES
        # Every event validates inside a batch (as mParticle's own rules and the limits see it).
        mp.Batch("development", mp.UserIdentities(email="a@x.io"), events=[event]).to_dict(
            validate=True
        )


def test_enums_match_the_schema() -> None:
    assert tuple(mp.Environment) == schema.ENVIRONMENTS
    assert tuple(mp.CustomEventType) == schema.CUSTOM_EVENT_TYPES
    assert tuple(mp.ProductActionType) == schema.PRODUCT_ACTIONS
    assert tuple(mp.PromotionActionType) == schema.PROMOTION_ACTIONS
    assert tuple(mp.ApplicationTransitionType) == schema.APPLICATION_TRANSITION_TYPES
    assert tuple(mp.IdentityType) == schema.IDENTITY_KEYS
    assert mp.AppEvent.CustomEventType.navigation == "navigation"


def test_customerid_is_customer_id() -> None:
    ids = mp.UserIdentities(customerid="42")
    assert ids.customer_id == ids.customerid == "42"
    assert ids.to_dict() == {"customer_id": "42"}
    with pytest.raises(ValidationError, match="customerid and customer_id differ"):
        mp.UserIdentities(customerid="1", customer_id="2")


def test_times_and_amounts() -> None:
    naive = dt.datetime(2026, 1, 1)  # read as UTC
    aware = dt.datetime(2026, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    for stamp in (naive, aware, 1767225600000):
        assert (
            mp.AppEvent("x", timestamp_unixtime_ms=stamp).to_dict()["timestamp_unixtime_ms"]
            == 1767225600000
        )
    assert mp.Product(price=Decimal("9.99")).to_dict() == {"price": 9.99}
    consent = mp.GDPRConsentState(consented=True)
    assert isinstance(
        consent.timestamp_unixtime_ms, int
    )  # filled when made: mParticle requires one


def test_lone_ccpa_state_is_the_data_sale_opt_out_purpose() -> None:
    state = mp.CCPAConsentState(consented=True, timestamp_unixtime_ms=1767220000000)
    assert mp.ConsentState(ccpa=state).to_dict() == {
        "ccpa": {"data_sale_opt_out": {"consented": True, "timestamp_unixtime_ms": 1767220000000}}
    }


def test_official_only_fields_are_accepted_and_not_sent() -> None:
    batch = mp.Batch(
        "development", mp.UserIdentities(email="a@x.io"), schema_version=2, api_key="k"
    )
    assert batch.to_dict() == {"environment": "development", "user_identities": {"email": "a@x.io"}}


def _user(**kwargs: Any) -> mp.Batch:
    return mp.Batch("development", mp.UserIdentities(customer_id="u"), **kwargs)


LONG = "x" * 257
INVALID: list[tuple[str, mp.Batch, str, str]] = [
    ("no environment", mp.Batch(user_identities=mp.UserIdentities(customer_id="u")), "environment",
     "must be production or development"),
    ("bad environment", mp.Batch("staging", mp.UserIdentities(customer_id="u")), "environment",
     "'staging'"),
    ("no user", mp.Batch("development"), "user_identities", "a batch is about one user"),
    ("custom type", _user(events=[mp.AppEvent("x", "shopping")]), "events[0].data.custom_event_type",
     "shopping"),
    ("event name required", _user(events=[mp.AppEvent()]), "events[0].data.event_name",
     "is required"),
    ("screen name required", _user(events=[mp.ScreenViewEvent()]), "events[0].data.screen_name",
     "is required"),
    ("product action", _user(events=[mp.CommerceEvent(mp.ProductAction("buy"))]),
     "events[0].data.product_action.action", "must be one of"),
    ("two commerce variants", _user(events=[mp.CommerceEvent(
        mp.ProductAction("purchase"), promotion_action=mp.PromotionAction("view"))]),
     "events[0].data", "one of"),
    ("platform", _user(device_info=mp.DeviceInformation(platform="Linux")), "device_info.platform",
     "Linux"),
    ("idfa", _user(device_info=mp.DeviceInformation(ios_advertising_id="nope")),
     "device_info.ios_advertising_id", "UUID"),
    ("ip", _user(ip="300.1.1.1"), "ip", "IPv4 or IPv6"),
    ("ccpa purpose", _user(consent_state=mp.ConsentState(ccpa={"sale": mp.CCPAConsentState(consented=True)})),
     "consent_state.ccpa.sale", "data_sale_opt_out"),
    ("consent consented", _user(consent_state=mp.ConsentState(gdpr={"m": mp.GDPRConsentState()})),
     "consent_state.gdpr.m.consented", ""),
    ("plan id", _user(context=mp.BatchContext(data_plan=mp.DataPlanContext(plan_version=2))),
     "context.data_plan.plan_id", "is required"),
    ("mpid type", _user(mpid="abc"), "mpid", "64-bit integer"),
    ("mpid range", _user(mpid=2**64), "mpid", "does not fit in 64 bits"),
    ("timestamp seconds", _user(events=[mp.AppEvent("x", timestamp_unixtime_ms=1767225600)]),
     "events[0].data.timestamp_unixtime_ms", "looks like seconds"),
    ("timestamp type", _user(events=[mp.AppEvent("x", timestamp_unixtime_ms="today")]),
     "events[0].data.timestamp_unixtime_ms", "epoch milliseconds"),
    ("duration type", _user(events=[mp.SessionEndEvent(session_duration_ms=1.5)]),
     "events[0].data.session_duration_ms", "milliseconds"),
    ("attribute value type", _user(events=[mp.AppEvent("x", custom_attributes={"a": [1]})]),
     "events[0].data.custom_attributes.a", ""),
    ("not JSON", _user(events=[mp.AppEvent("x", custom_attributes={"a": object()})]),
     "events[0].data.custom_attributes.a", "cannot be sent as JSON"),
    ("event name length", _user(events=[mp.AppEvent(LONG)]), "events[0].data.event_name",
     "257 characters; at most 256"),
    ("event attribute count", _user(events=[mp.AppEvent("x", custom_attributes={str(i): i for i in range(101)})]),
     "events[0].data.custom_attributes", "101 attributes; at most 100"),
    ("event attribute name", _user(events=[mp.AppEvent("x", custom_attributes={LONG: 1})]),
     f"events[0].data.custom_attributes.{LONG}", "name is 257 characters"),
    ("event attribute value", _user(events=[mp.AppEvent("x", custom_attributes={"a": "v" * 4097})]),
     "events[0].data.custom_attributes.a", "value is 4097 characters; at most 4096"),
    ("user attribute count", _user(user_attributes={str(i): i for i in range(101)}), "user_attributes",
     "101 attributes; at most 100"),
    ("user attribute list", _user(user_attributes={"l": ["a"] * 1001}), "user_attributes.l",
     "1001 items; at most 1000"),
    ("user attribute list item", _user(user_attributes={"l": ["a" * 513]}), "user_attributes.l[0]",
     "513 characters; at most 512"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("batch", "field", "text"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_validation_names_the_field(batch: mp.Batch, field: str, text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        batch.to_dict(validate=True)
    assert caught.value.field == field
    assert text in str(caught.value)


def test_bulk_errors_carry_the_batch_index() -> None:
    with pytest.raises(ValidationError) as caught:
        build(mp.Batch("development"), path="[3]")
    assert caught.value.field == "[3].user_identities"


def test_build_fills_ids_without_touching_the_batch() -> None:
    batch = _user(events=[mp.AppEvent("x"), mp.AppEvent("y", source_message_id="mine")])
    first, second = build(batch), build(batch)
    assert batch.source_request_id is None and batch.events[0].source_message_id is None  # type: ignore[union-attr]
    assert first["source_request_id"] != second["source_request_id"]
    ids = [event["data"]["source_message_id"] for event in first["events"]]
    assert ids[1] == "mine" and len(ids[0]) == 36
    assert build({"environment": "production", "user_identities": {"email": "a@x.io"}})[
        "source_request_id"
    ]
    kept = fill_ids({"source_request_id": "r"})
    assert kept["source_request_id"] == "r"


def test_build_fills_the_environment_and_checks_dicts() -> None:
    built = build({"user_identities": {"customerid": "1"}}, environment="production")
    assert built["environment"] == "production"
    with pytest.raises(ValidationError, match="environment"):
        build({"user_identities": {"customer_id": "1"}})
    with pytest.raises(ValidationError, match="must be a Batch or a dict"):
        build(["not", "a", "batch"])  # type: ignore[arg-type]


def test_batch_size_limit() -> None:
    big = _user(events=[mp.AppEvent("x", custom_attributes={"a": "v" * 4000}) for _ in range(33)])
    with pytest.raises(MessageTooLargeError) as caught:
        encode_batch(build(big))
    assert caught.value.limit == schema.MAX_BATCH_BYTES


NOW_S = 1_767_225_600.0
DAY = 86_400_000


@pytest.mark.parametrize(
    ("ages_days", "expected"),
    [((), False), ((1,), False), ((29,), False), ((31,), True), ((31, 40), True), ((31, 5), True)],
)
def test_historical_by_age(ages_days: tuple[int, ...], expected: bool) -> None:
    events = [
        {
            "event_type": "custom_event",
            "data": {"timestamp_unixtime_ms": int(NOW_S * 1000) - d * DAY},
        }
        for d in ages_days
    ]
    assert is_historical({"events": events}, NOW_S) is expected


def test_historical_refuses_mixed_ages() -> None:
    now_ms = int(NOW_S * 1000)
    events = [{"data": {"timestamp_unixtime_ms": now_ms - 31 * DAY}}, {"data": {}}]
    with pytest.raises(ValidationError, match="separate batches"):
        is_historical({"events": events}, NOW_S)
    events[1] = {"data": {"timestamp_unixtime_ms": now_ms - 3_600_000}}
    with pytest.raises(ValidationError, match="separate batches"):
        is_historical({"events": events}, NOW_S)


def test_a_misspelt_attribute_raises_instead_of_vanishing() -> None:
    event = mp.AppEvent("x")
    with pytest.raises(AttributeError, match="custom_atributes"):
        event.custom_atributes = {"a": 1}  # type: ignore[attr-defined]
    batch = mp.Batch()
    with pytest.raises(AttributeError):
        batch.user_identity = mp.UserIdentities(email="a@x.io")  # type: ignore[attr-defined]


def test_more_models_serialise() -> None:
    cart = mp.CommerceEvent(
        mp.ProductAction("checkout", checkout_step=2, products=[mp.Product(id="a")]),
        shopping_cart=mp.ShoppingCart([mp.Product(id="a", quantity=Decimal("2"))]),
        screen_name="Cart",
    )
    assert cart.to_event()["data"] == {
        "product_action": {"action": "checkout", "products": [{"id": "a"}], "checkout_step": 2},
        "shopping_cart": {"products": [{"id": "a", "quantity": 2.0}]},
        "screen_name": "Cart",
    }
    push = mp.PushMessageEvent(
        push_message_type="received", push_message_token="t", push_notification_payload="{}",
        network="apn",
    )  # fmt: skip
    assert push.to_event() == {
        "data": {"push_message_type": "received", "push_message_token": "t",
                 "push_notification_payload": "{}", "network": "apn"},
        "event_type": "push_message",
    }  # fmt: skip
    device = mp.DeviceInformation(
        platform="iOS", ios_idfv="07d2ebaa-e956-407e-a1e6-f05f871bf4e2", is_tablet=False,
        att_authorization_status="authorized", att_timestamp_unixtime_ms=1767225600000,
        screen_width=1170, limit_ad_tracking=True,
    )  # fmt: skip
    located = mp.BatchContext(
        location=mp.GeoLocation(52.5, 13.4, country_code="DE", location_source="lat_long")
    )
    batch = mp.Batch(
        "development", mp.UserIdentities(other_id_5="o5", phone_number_2="+1"),
        device_info=device, context=located, mp_deviceid="07d2ebaa-e956-407e-a1e6-f05f871bf4e2",
        integration_attributes={"123": {"k": "v"}}, events=[cart, push],
    )  # fmt: skip
    built = batch.to_dict(validate=True)
    assert built["device_info"] == {
        "platform": "iOS", "ios_idfv": "07d2ebaa-e956-407e-a1e6-f05f871bf4e2",
        "att_authorization_status": "authorized", "att_timestamp_unixtime_ms": 1767225600000,
        "screen_width": 1170, "is_tablet": False, "limit_ad_tracking": True,
    }  # fmt: skip
    assert built["context"] == {
        "location": {"latitude": 52.5, "longitude": 13.4, "country_code": "DE",
                     "location_source": "lat_long"}
    }  # fmt: skip
    assert built["user_identities"] == {"other_id_5": "o5", "phone_number_2": "+1"}
    assert built["integration_attributes"] == {"123": {"k": "v"}}
