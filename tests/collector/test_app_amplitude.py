"""The collector's Amplitude ingestion APIs: HTTP V2, Batch, and the identify form APIs."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from tests.collector.conftest import Client
from trackwire.amplitude.wire import MAX_EVENTS_PER_REQUEST
from trackwire.collector.keys import fingerprint


def _event(n: int = 0, **fields: Any) -> dict[str, Any]:
    event = {
        "event_type": "Song Played",
        "user_id": f"user-{n:03d}",
        "device_id": f"device-{n:03d}",
        "time": 1_795_380_500_000 + n,
        "insert_id": f"insert-{n}",
        "event_properties": {"song": "Blue", "n": n},
        "session_id": 1_795_380_000_000,
        "library": "amplitude-python/1.3.0",
    }
    event.update(fields)
    return event


def _upload(events: list[Any], api_key: str = "amp-key", **extra: Any) -> dict[str, Any]:
    return {"api_key": api_key, "events": events, **extra}


def _form(**fields: str) -> bytes:
    return urllib.parse.urlencode(fields).encode()


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("path", ["/2/httpapi", "/batch"])
def test_upload_answers_the_documented_success_body_and_stores_events(
    client: Client, path: str
) -> None:
    events = [_event(1), _event(2, price=2.5, quantity=4)]

    answer = client.post(path, _upload(events), content_type="application/json; charset=UTF-8")

    assert answer.status == 200
    body = answer.json()
    assert body["code"] == 200
    assert body["events_ingested"] == 2
    assert body["payload_size_bytes"] > 0
    assert isinstance(body["server_upload_time"], int)
    stored = {e["dedup_key"]: e for e in client.events(vendor="amplitude")}
    first = stored["insert-1"]
    assert first["type"] == "event"
    assert first["event_name"] == "Song Played"
    assert first["user_id"] == "user-001"
    assert first["device_id"] == "device-001"
    assert first["client_time_ms"] == 1_795_380_500_001
    assert first["source"] == fingerprint("amp-key")
    assert first["payload"]["event_properties"] == {"song": "Blue", "n": 1}


def test_gzip_upload(client: Client) -> None:
    answer = client.post("/2/httpapi", _upload([_event()]), compress=True)

    assert answer.status == 200
    assert len(client.events()) == 1


def test_retried_upload_is_deduplicated_by_insert_id(client: Client) -> None:
    body = _upload([_event(1), _event(2)])

    assert client.post("/2/httpapi", body).status == 200
    again = client.post("/2/httpapi", body)

    assert again.status == 200
    assert len(client.events()) == 2
    assert client.stats()["duplicates"]["amplitude"]["events"] == 2


def test_partly_bad_request_stores_nothing_and_lists_bad_ones(client: Client) -> None:
    # Amplitude's 400 means nothing was ingested; the official SDKs resend the valid events
    # (HTTP V2 API reference, "400 Bad Request"; amplitude-python's response processor).
    events = [_event(0), _event(1, event_type=None), _event(2, user_id="ab", device_id=None)]
    events.append(_event(3, time="yesterday"))

    answer = client.post("/2/httpapi", _upload(events))

    assert answer.status == 400
    body = answer.json()
    assert body["code"] == 400
    assert body["error"] == "Invalid field values on some events"
    assert body["events_with_missing_fields"] == {"event_type": [1]}
    assert body["events_with_invalid_id_lengths"] == {"user_id": [2]}
    assert body["events_with_invalid_fields"] == {"time": [3]}
    assert client.events() == []
    assert client.stats()["rejected"]["amplitude"]["invalid_event"] == 3
    # The resend of the valid event, as the SDKs do it, stores it once.
    assert client.post("/2/httpapi", _upload([_event(0)])).status == 200
    assert [e["dedup_key"] for e in client.events()] == ["insert-0"]


def test_missing_api_key_names_the_field(client: Client) -> None:
    answer = client.post("/2/httpapi", {"events": [_event()]})

    assert answer.status == 400
    assert answer.json() == {
        "code": 400,
        "error": "Request missing required field",
        "missing_field": "api_key",
    }
    assert client.events() == []


def test_too_many_events_is_413(client: Client) -> None:
    events = [{"event_type": "e", "user_id": "user-1"}] * (MAX_EVENTS_PER_REQUEST + 1)

    answer = client.post("/2/httpapi", _upload(events))

    assert answer.status == 413
    assert answer.json() == {"code": 413, "error": "Payload too large"}
    assert client.events() == []


def test_body_over_1mb_is_413_on_httpapi_but_fine_on_batch(client: Client) -> None:
    events = [_event(i, event_properties={"blob": "x" * 1000}) for i in range(1100)]

    httpapi = client.post("/2/httpapi", _upload(events))
    batch = client.post("/batch", _upload(events))

    assert httpapi.status == 413
    assert httpapi.json()["code"] == 413
    assert batch.status == 200
    assert len(client.events(limit=1000)) == 1000


def test_identify_event_operations_change_user_properties(client: Client) -> None:
    events = [
        _event(1, event_type="$identify", user_properties={"$set": {"plan": "free", "n": 1}}),
        _event(
            2,
            user_id="user-001",
            event_type="$identify",
            user_properties={"$set": {"plan": "pro"}, "$add": {"n": 2}, "$append": {"tags": "a"}},
        ),
    ]

    assert client.post("/2/httpapi", _upload(events)).status == 200

    user = client.collector.store.user("amplitude", fingerprint("amp-key"), user_id="user-001")
    assert user is not None
    assert user.properties == {"plan": "pro", "n": 3, "tags": ["a"]}
    assert {e["type"] for e in client.events()} == {"identify"}


def test_plain_user_properties_on_events_update_the_user_unless_skipped(client: Client) -> None:
    events = [
        _event(1, user_properties={"city": "Paris"}),
        _event(2, user_id="user-001", user_properties={"city": "Rome"},
               **{"$skip_user_properties_sync": True}),
    ]  # fmt: skip

    assert client.post("/2/httpapi", _upload(events)).status == 200

    user = client.collector.store.user("amplitude", fingerprint("amp-key"), user_id="user-001")
    assert user is not None
    assert user.properties == {"city": "Paris"}


def test_group_identify_event_sets_group_properties(client: Client) -> None:
    event = _event(
        1,
        event_type="$groupidentify",
        groups={"org": "acme"},
        group_properties={"$set": {"tier": "gold"}},
    )

    assert client.post("/2/httpapi", _upload([event])).status == 200

    assert client.collector.store.group("amplitude", fingerprint("amp-key"), "org", "acme") == {
        "tier": "gold"
    }
    assert client.events()[0]["type"] == "groupidentify"


def test_identify_form_answers_success_and_applies_operations(client: Client) -> None:
    identification = '[{"user_id": "user-9", "user_properties": {"$set": {"plan": "pro"}}}]'

    answer = client.post(
        "/identify", _form(api_key="amp-key", identification=identification), content_type=FORM
    )

    assert answer.status == 200
    assert answer.body == b"success"
    assert answer.headers["content-type"].startswith("text/plain")
    user = client.collector.store.user("amplitude", fingerprint("amp-key"), user_id="user-9")
    assert user is not None
    assert user.properties == {"plan": "pro"}
    (event,) = client.events()
    assert (event["type"], event["event_name"]) == ("identify", "$identify")


def test_group_identify_form(client: Client) -> None:
    identification = (
        '{"group_type": "org", "group_value": "acme", "group_properties": {"$set": {"seats": 5}}}'
    )

    answer = client.post(
        "/groupidentify",
        _form(api_key="amp-key", identification=identification),
        content_type=FORM,
    )

    assert answer.status == 200
    assert answer.body == b"success"
    assert client.collector.store.group("amplitude", fingerprint("amp-key"), "org", "acme") == {
        "seats": 5
    }


@pytest.mark.parametrize(
    ("fields", "content_type", "expected"),
    [
        ({"api_key": "amp-key"}, FORM, "missing_event"),
        ({"api_key": "amp-key", "identification": "{not json"}, FORM, "missing_event"),
        ({"identification": '{"user_id": "user-9"}'}, FORM, "missing api_key"),
        ({"api_key": "amp-key", "identification": '{"user_id": "user-9"}'}, "application/json",
         "application/x-www-form-urlencoded"),
    ],
    ids=["no-identification", "bad-json", "no-api-key", "wrong-content-type"],
)  # fmt: skip
def test_identify_form_errors(
    client: Client, fields: dict[str, str], content_type: str, expected: str
) -> None:
    answer = client.post("/identify", _form(**fields), content_type=content_type)

    assert answer.status == 400
    assert expected in answer.body.decode()
    assert client.events() == []


def test_keys_file_unknown_api_key_is_invalid_api_key(keyed_client: Client) -> None:
    answer = keyed_client.post("/2/httpapi", _upload([_event()], api_key="nope"))
    form = keyed_client.post(
        "/identify",
        _form(api_key="nope", identification='{"user_id": "user-9"}'),
        content_type=FORM,
    )

    assert answer.status == 400
    assert answer.json() == {"code": 400, "error": "Invalid API key: nope"}
    assert form.status == 400
    assert keyed_client.events() == []


def test_keys_file_known_api_key_stores_under_the_source_name(keyed_client: Client) -> None:
    answer = keyed_client.post("/2/httpapi", _upload([_event()], api_key="amp-key"))

    assert answer.status == 200
    assert keyed_client.events()[0]["source"] == "web"


def test_revenue_from_the_python_sdk_revenue_event(client: Client) -> None:
    event = _event(
        1,
        event_type="revenue_amount",
        event_properties={"$price": 9.5, "$quantity": 2, "$productId": "sku-1"},
    )

    assert client.post("/2/httpapi", _upload([event])).status == 200

    (stored,) = client.events()
    assert stored["event_name"] == "revenue_amount"
    assert stored["payload"]["event_properties"]["$productId"] == "sku-1"


def test_an_over_long_string_field_is_stored_cut_as_amplitude_keeps_it(client: Client) -> None:
    """The one rule (amplitude/wire.py): over 1,024 characters is truncated, not refused."""
    long_platform = "p" * 2000
    event = {**_event(7), "platform": long_platform}

    answer = client.post("/2/httpapi", _upload([event]), content_type="application/json")

    assert answer.status == 200
    (stored,) = client.events(vendor="amplitude")
    assert stored["payload"]["platform"] == "p" * 1024
