"""The collector's mParticle Events API: batches, bulk, historical, auth, sizes, dedup."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.collector.conftest import Client, basic
from trackwire.collector.keys import fingerprint

AUTH = {"Authorization": basic("mp-key", "mp-secret")}
DAY_MS = 24 * 3600 * 1000


def _custom(name: str, n: int = 0, **data: Any) -> dict[str, Any]:
    return {
        "event_type": "custom_event",
        "data": {
            "event_name": name,
            "custom_event_type": "navigation",
            "timestamp_unixtime_ms": 1_795_380_500_000 + n,
            "source_message_id": f"msg-{name}-{n}",
            "custom_attributes": {"n": n},
            **data,
        },
    }


def _batch(*events: dict[str, Any], **fields: Any) -> dict[str, Any]:
    batch: dict[str, Any] = {
        "events": list(events),
        "environment": "development",
        "user_identities": {"customerid": "cust-1", "email": "a@example.com"},
        "user_attributes": {"plan": "pro"},
    }
    batch.update(fields)
    return batch


def test_events_answers_202_with_no_body_and_stores_each_event(client: Client) -> None:
    screen = {
        "event_type": "screen_view",
        "data": {"screen_name": "Home", "timestamp_unixtime_ms": 1_795_380_500_100},
    }
    purchase = {
        "event_type": "commerce_event",
        "data": {
            "timestamp_unixtime_ms": 1_795_380_500_200,
            "product_action": {
                "action": "purchase",
                "transaction_id": "t-1",
                "total_amount": 20.5,
                "products": [{"id": "sku-1", "name": "Hat", "price": 20.5, "quantity": 1}],
            },
        },
    }

    answer = client.post("/v2/events", _batch(_custom("Hello"), screen, purchase), headers=AUTH)

    assert answer.status == 202
    assert answer.body == b""
    events = {e["type"]: e for e in client.events(vendor="mparticle")}
    assert set(events) == {"custom_event", "screen_view", "commerce_event"}
    custom = events["custom_event"]
    assert custom["event_name"] == "Hello"
    assert custom["user_id"] == "cust-1"
    assert custom["client_time_ms"] == 1_795_380_500_000
    assert custom["dedup_key"] == "msg-Hello-0"
    assert custom["source"] == fingerprint("mp-key")
    assert custom["payload"]["events"][0]["data"]["custom_attributes"] == {"n": 0}
    assert custom["payload"]["user_identities"]["email"] == "a@example.com"
    assert events["screen_view"]["event_name"] == "Home"
    assert events["commerce_event"]["event_name"] == "commerce_event"


def test_user_attributes_are_kept_per_user(client: Client) -> None:
    client.post("/v2/events", _batch(_custom("A")), headers=AUTH)
    client.post(
        "/v2/events",
        _batch(user_attributes={"city": "Oslo"}, deleted_user_attributes=["plan"]),
        headers=AUTH,
    )

    user = client.collector.store.user("mparticle", fingerprint("mp-key"), user_id="cust-1")
    assert user is not None
    assert user.properties == {"city": "Oslo"}


@pytest.mark.parametrize("spelling", ["customer_id", "customerid"])
def test_both_customer_id_spellings(client: Client, spelling: str) -> None:
    batch = _batch(_custom("A"), user_identities={spelling: "cust-9"})

    assert client.post("/v2/events", batch, headers=AUTH).status == 202

    assert client.events()[0]["user_id"] == "cust-9"


def test_a_batch_without_events_is_one_batch_record(client: Client) -> None:
    answer = client.post("/v2/events", _batch(), headers=AUTH)

    assert answer.status == 202
    (record,) = client.events()
    assert record["type"] == "batch"
    assert record["user_id"] == "cust-1"
    assert record["payload"]["user_attributes"] == {"plan": "pro"}


def test_retried_request_is_deduplicated_by_source_request_id(client: Client) -> None:
    plain = {"event_type": "custom_event",
             "data": {"event_name": "NoId", "custom_event_type": "other"}}  # fmt: skip
    batch = _batch(plain, source_request_id="req-1")

    assert client.post("/v2/events", batch, headers=AUTH).status == 202
    assert client.post("/v2/events", batch, headers=AUTH).status == 202

    assert len(client.events()) == 1


def test_bulk_stores_every_batch(client: Client) -> None:
    batches = [
        _batch(_custom("A"), user_identities={"customer_id": "u-a"}),
        _batch(_custom("B"), user_identities={"customer_id": "u-b"}),
    ]

    answer = client.post("/v2/bulkevents", batches, headers=AUTH)

    assert answer.status == 202
    assert {(e["user_id"], e["event_name"]) for e in client.events()} == {
        ("u-a", "A"),
        ("u-b", "B"),
    }


def test_retried_bulk_without_message_ids_stores_nothing_twice(client: Client) -> None:
    plain = {"event_type": "custom_event",
             "data": {"event_name": "NoId", "custom_event_type": "other"}}  # fmt: skip
    batches = [
        _batch(plain, plain, source_request_id="r-a"),
        _batch(plain, source_request_id="r-b"),
    ]

    client.post("/v2/bulkevents", batches, headers=AUTH)
    client.post("/v2/bulkevents", batches, headers=AUTH)

    assert len(client.events()) == 3


def test_bulk_keeps_good_batches_and_answers_202_when_some_are_bad(client: Client) -> None:
    batches = [_batch(_custom("Good")), _batch(_custom("Bad"), environment="staging")]

    answer = client.post("/v2/bulkevents", batches, headers=AUTH)

    assert answer.status == 202
    assert [e["event_name"] for e in client.events()] == ["Good"]
    assert client.stats()["rejected"]["mparticle"]["invalid_batch"] == 1


def test_bulk_over_100_batches_is_400(client: Client) -> None:
    answer = client.post("/v2/bulkevents", [_batch()] * 101, headers=AUTH)

    assert answer.status == 400
    assert answer.json()["errors"][0]["code"] == "BAD_REQUEST"
    assert "at most 100" in answer.json()["errors"][0]["message"]
    assert client.events() == []


def test_historical_refuses_recent_events_and_marks_old_ones(client: Client) -> None:
    now = int(time.time() * 1000)
    recent = _custom("Recent", timestamp_unixtime_ms=now - DAY_MS)
    old = _custom("Old", timestamp_unixtime_ms=now - 40 * DAY_MS)

    bad = client.post("/v2/bulkevents/historical", [_batch(recent)], headers=AUTH)
    good = client.post("/v2/bulkevents/historical", [_batch(old)], headers=AUTH)

    assert bad.status == good.status == 202
    (stored,) = client.events()
    assert stored["event_name"] == "Old"
    assert stored["payload"]["source_info"]["is_historical"] is True


def test_an_invalid_batch_is_400_with_the_problems(client: Client) -> None:
    event = _custom("A", custom_event_type="not-a-type")

    answer = client.post("/v2/events", _batch(event, environment=None), headers=AUTH)

    assert answer.status == 400
    messages = [e["message"] for e in answer.json()["errors"]]
    assert any(m.startswith("environment:") for m in messages)
    assert any("events[0].data.custom_event_type" in m for m in messages)
    assert client.events() == []


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic !!!"}, {"Authorization": "Bearer token"}],
    ids=["missing", "not-base64", "not-basic"],
)
def test_missing_or_malformed_credentials_are_401(client: Client, headers: dict[str, str]) -> None:
    answer = client.post("/v2/events", _batch(_custom("A")), headers=headers)

    assert answer.status == 401
    assert answer.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert client.events() == []


def test_keys_file_wrong_secret_is_403_and_right_one_stores_under_the_name(
    keyed_client: Client,
) -> None:
    wrong = keyed_client.post(
        "/v2/events", _batch(_custom("A")), headers={"Authorization": basic("mp-key", "bad")}
    )
    right = keyed_client.post("/v2/events", _batch(_custom("A")), headers=AUTH)

    assert wrong.status == 403
    assert wrong.json()["errors"][0]["code"] == "FORBIDDEN"
    assert right.status == 202
    (event,) = keyed_client.events()
    assert event["source"] == "feed"


def test_request_over_256kb_is_413(client: Client) -> None:
    events = [_custom("A", i, custom_attributes={"blob": "x" * 3000}) for i in range(100)]

    answer = client.post("/v2/events", _batch(*events), headers=AUTH)

    assert answer.status == 413
    assert answer.json()["errors"][0]["code"] == "PAYLOAD_TOO_LARGE"
    assert client.events() == []


def test_batch_over_128kb_is_413(client: Client) -> None:
    events = [_custom("A", i, custom_attributes={"blob": "x" * 3000}) for i in range(50)]

    answer = client.post("/v2/events", _batch(*events), headers=AUTH)

    assert answer.status == 413
    assert client.events() == []


def test_gzip_batch(client: Client) -> None:
    answer = client.post("/v2/events", _batch(_custom("Zipped")), headers=AUTH, compress=True)

    assert answer.status == 202
    assert client.events()[0]["event_name"] == "Zipped"
