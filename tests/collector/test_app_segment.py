"""The collector's Segment Tracking API: every envelope the SDKs send, limits, dedup, keys."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import orjson
import pytest

from tests.collector.conftest import Client, basic, skew_corrected_ms
from trackwire.collector.keys import fingerprint
from trackwire.segment.wire import MAX_BATCH_COUNT, MAX_MESSAGE_BYTES


def _python_sdk_batch(messages: list[dict[str, Any]], key: str = "wk") -> dict[str, Any]:
    """The envelope segment-analytics-python sends: batch, sentAt (µs, +00:00), writeKey."""
    return {"batch": messages, "sentAt": "2026-11-22T20:48:22.002763+00:00", "writeKey": key}


def _message(kind: str, n: int = 0, **fields: Any) -> dict[str, Any]:
    message = {
        "type": kind,
        "userId": f"user-{n}",
        "anonymousId": None,
        "timestamp": "2026-11-22T20:48:20.002+00:00",
        "messageId": f"{kind}-{n}",
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
        "integrations": {},
    }
    message.update(fields)
    return message


ALL_CALLS = [
    _message("identify", traits={"plan": "pro", "email": "a@example.com"}),
    _message("track", event="Item Purchased", properties={"revenue": 39.95, "sku": "A1"}),
    _message("page", name="Pricing", category="Docs", properties={"path": "/pricing"}),
    _message("screen", name="Home", properties={"tab": 1}),
    _message("group", groupId="acme", traits={"employees": 40}),
    _message("alias", previousId="anon-1"),
]


def test_batch_with_every_call_type_is_stored_with_its_fields(client: Client) -> None:
    answer = client.segment("/v1/batch", _python_sdk_batch(ALL_CALLS))

    assert answer.status == 200
    assert answer.json() == {"success": True}
    events = {e["type"]: e for e in client.events(vendor="segment")}
    assert set(events) == {"identify", "track", "page", "screen", "group", "alias"}
    track = events["track"]
    assert track["event_name"] == "Item Purchased"
    assert track["user_id"] == "user-0"
    assert track["device_id"] is None
    assert track["source"] == fingerprint("wk")
    assert track["dedup_key"] == "track-0"
    # 2026-11-22T20:48:20.002+00:00 in epoch milliseconds, exactly.
    # Segment keeps the client's time as originalTimestamp and corrects timestamp for the
    # client's clock skew (the test's sentAt is days before receipt).
    assert track["payload"]["originalTimestamp"] == "2026-11-22T20:48:20.002+00:00"
    assert track["payload"]["sentAt"] == "2026-11-22T20:48:22.002763+00:00"
    assert track["client_time_ms"] == skew_corrected_ms(track["payload"])
    assert track["payload"]["properties"] == {"revenue": 39.95, "sku": "A1"}
    assert events["page"]["event_name"] == "Pricing"
    assert events["screen"]["event_name"] == "Home"
    assert events["identify"]["event_name"] is None
    assert events["alias"]["payload"]["previousId"] == "anon-1"


def test_identify_traits_and_group_traits_reach_user_and_group_state(client: Client) -> None:
    client.segment("/v1/batch", _python_sdk_batch(ALL_CALLS))
    store = client.collector.store

    user = store.user("segment", fingerprint("wk"), user_id="user-0")
    assert user is not None
    assert user.properties == {"plan": "pro", "email": "a@example.com"}
    assert store.group("segment", fingerprint("wk"), "group", "acme") == {"employees": 40}


def test_legacy_node_envelope_with_header_key_and_z_timestamps(client: Client) -> None:
    body = {
        "batch": [
            {
                "type": "track",
                "event": "Signed Up",
                "anonymousId": "anon-7",
                "timestamp": "2026-11-22T20:48:06.393Z",
                "messageId": "node-abc-1",
                "context": {"library": {"name": "analytics-node", "version": "6.2.0"}},
                "_metadata": {"nodeVersion": "20.20.2"},
            }
        ],
        "timestamp": "2026-11-22T20:48:06.400Z",
        "sentAt": "2026-11-22T20:48:06.400Z",
    }

    answer = client.segment("/v1/batch", body, key="node-key")

    assert answer.status == 200
    (event,) = client.events()
    assert event["source"] == fingerprint("node-key")
    assert event["device_id"] == "anon-7"
    assert event["user_id"] is None
    assert event["payload"]["originalTimestamp"].startswith("2026-11-22T20:48:06.393")
    assert event["client_time_ms"] == skew_corrected_ms(event["payload"])


def test_body_write_key_without_header_is_accepted(client: Client) -> None:
    body = {"batch": [_message("track", event="E")], "writeKey": "body-key", "sentAt": "x"}

    answer = client.post("/v1/batch", body)

    assert answer.status == 200
    assert client.events()[0]["source"] == fingerprint("body-key")


@pytest.mark.parametrize(
    "authorization",
    [basic("colonless", None), "Bearer some-oauth-token"],
    ids=["basic-without-colon", "bearer-plus-body-key"],
)
def test_other_auth_spellings(client: Client, authorization: str) -> None:
    body = {"batch": [_message("track", event="E")], "writeKey": "colonless"}

    answer = client.post("/v1/batch", body, headers={"Authorization": authorization})

    assert answer.status == 200
    assert client.events()[0]["source"] == fingerprint("colonless")


def test_import_is_an_alias_of_batch(client: Client) -> None:
    answer = client.segment("/v1/import", _python_sdk_batch([_message("track", event="Old")]))

    assert answer.status == 200
    assert client.events()[0]["event_name"] == "Old"


@pytest.mark.parametrize("message", ALL_CALLS, ids=[m["type"] for m in ALL_CALLS])
def test_single_message_routes_take_the_type_from_the_path(
    client: Client, message: dict[str, Any]
) -> None:
    kind = message["type"]
    body = {k: v for k, v in message.items() if k != "type"} | {"writeKey": "single"}

    answer = client.post(f"/v1/{kind}", body)

    assert answer.status == 200, answer
    (event,) = client.events()
    assert event["type"] == kind
    assert event["source"] == fingerprint("single")
    assert "writeKey" not in event["payload"]


def test_single_route_refuses_an_invalid_message_with_its_code(client: Client) -> None:
    answer = client.segment("/v1/track", {"userId": "u", "messageId": "m"})

    assert answer.status == 400
    assert answer.json() == {
        "success": False,
        "code": "missing_event",
        "message": "track needs an event name",
    }
    assert client.events() == []


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies(client: Client, encoding: str) -> None:
    raw = orjson.dumps(_python_sdk_batch([_message("track", event="Zipped")]))
    body = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)

    answer = client.segment("/v1/batch", body, headers={"Content-Encoding": encoding})

    assert answer.status == 200
    assert client.events()[0]["event_name"] == "Zipped"


def test_a_retried_batch_stores_nothing_twice(client: Client) -> None:
    body = _python_sdk_batch([_message("track", 1, event="E"), _message("track", 2, event="E")])

    first = client.segment("/v1/batch", body)
    retry = client.segment("/v1/batch", body, headers={"X-Retry-Count": "1"})

    assert first.status == retry.status == 200
    assert len(client.events()) == 2
    stats = client.stats()
    assert stats["stored"]["segment"]["events"] == 2
    assert stats["duplicates"]["segment"]["events"] == 2


def test_invalid_messages_are_dropped_and_counted_the_rest_stored(client: Client) -> None:
    messages = [
        _message("track", 1, event="Good"),
        _message("track", 2, event=None),
        _message("identify", 3, userId=None),
        "not an object",
        _message("track", 4, event="Also good"),
    ]

    answer = client.segment("/v1/batch", _python_sdk_batch(messages))

    assert answer.status == 200
    body = answer.json()
    assert body["success"] is True
    assert body["stored"] == 2
    assert body["rejected"] == 3
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (1, "missing_event"),
        (2, "no_user_anon_id"),
        (3, "invalid_message"),
    ]
    assert {e["event_name"] for e in client.events()} == {"Good", "Also good"}
    rejected = client.stats()["rejected"]["segment"]
    assert rejected == {"invalid_message": 1, "missing_event": 1, "no_user_anon_id": 1}


def test_more_than_2500_messages_answers_200_and_stores_nothing(client: Client) -> None:
    messages = [
        {"type": "track", "userId": "u", "event": "E", "messageId": str(i)}
        for i in range(MAX_BATCH_COUNT + 1)
    ]

    answer = client.segment("/v1/batch", {"batch": messages})

    assert answer.status == 200
    body = answer.json()
    assert body["success"] is True
    assert body["dropped"] == MAX_BATCH_COUNT + 1
    assert "nothing was stored" in body["message"]
    assert client.events() == []
    assert client.stats()["rejected"]["segment"]["too_many_messages"] == MAX_BATCH_COUNT + 1


def test_a_message_over_32kb_is_refused_inside_a_batch_and_alone(client: Client) -> None:
    big = _message("track", 1, event="Big", properties={"blob": "x" * MAX_MESSAGE_BYTES})
    small = _message("track", 2, event="Small")

    batch = client.segment("/v1/batch", _python_sdk_batch([big, small]))
    single = client.segment("/v1/track", {k: v for k, v in big.items() if k != "type"})

    assert batch.status == 200
    assert batch.json()["errors"][0]["code"] == "message_too_large"
    assert single.status == 400
    assert single.json()["code"] == "message_too_large"
    assert [e["event_name"] for e in client.events()] == ["Small"]


def test_a_message_just_under_32kb_as_compact_json_is_accepted(client: Client) -> None:
    message = _message("track", 1, event="Edge", properties={"blob": ""})
    room = MAX_MESSAGE_BYTES - len(orjson.dumps(message))
    message["properties"]["blob"] = "x" * room
    assert len(orjson.dumps(message)) == MAX_MESSAGE_BYTES
    # Python's json.dumps adds spaces: the same message is larger as the SDK sends it.

    answer = client.segment("/v1/batch", _python_sdk_batch([message]))

    assert answer.status == 200
    assert answer.json() == {"success": True}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_request_over_500kb_is_refused_without_storing(client: Client, chunked: bool) -> None:
    messages = [
        _message("track", i, event="E", properties={"blob": "x" * 20_000}) for i in range(30)
    ]
    body = orjson.dumps(_python_sdk_batch(messages))
    assert len(body) > 500_000

    answer = client.segment("/v1/batch", body, chunked=chunked)

    assert answer.status == 400
    assert answer.json()["code"] == "payload_too_large"
    assert client.events() == []


def test_a_gzip_bomb_is_refused(client: Client) -> None:
    bomb = gzip.compress(b" " * 20_000_000)
    assert len(bomb) < 100_000

    answer = client.segment("/v1/batch", bomb, headers={"Content-Encoding": "gzip"})

    assert answer.status == 400
    assert answer.json()["code"] == "payload_too_large"
    assert "decompressed" in answer.json()["message"]
    assert client.events() == []


def test_keys_file_stores_under_the_source_name(keyed_client: Client) -> None:
    answer = keyed_client.segment(
        "/v1/batch", {"batch": [_message("track", event="E")]}, key="seg-key"
    )

    assert answer.status == 200
    assert keyed_client.events()[0]["source"] == "backend"


def test_keys_file_refuses_an_unknown_write_key(keyed_client: Client) -> None:
    answer = keyed_client.segment(
        "/v1/batch", {"batch": [_message("track", event="E")]}, key="nope"
    )

    assert answer.status == 401
    assert answer.json() == {
        "success": False,
        "code": "invalid_write_key",
        "message": "unknown write key",
    }
    assert keyed_client.events() == []
