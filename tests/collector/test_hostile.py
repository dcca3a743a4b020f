"""What a hostile or careless client sends: one bad message never fails its request, a retry
never turns a 200 into a 5xx, and odd query parameters are 400s that name them (issue 7)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.collector.conftest import Client, basic
from tests.collector.test_app_segment import _message, _python_sdk_batch


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"down": value}
    return value


def _raw(body: Any) -> bytes:
    # The standard library encodes any depth; orjson (which the client uses) stops at 254.
    return json.dumps(body).encode()


def _filler(n: int) -> list[dict[str, Any]]:
    return [_message("track", i, event="Fine", messageId=f"fine-{i}") for i in range(n)]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("messageId", "id-\u0000-nul"),
        ("userId", "user-\u0000"),
        ("anonymousId", "anon\u0001\u001f\u007f"),
    ],
)
def test_control_characters_in_ids_survive_a_retry(client: Client, field: str, value: str) -> None:
    odd = _message("track", 99, event="Odd", **{field: value})
    body = _python_sdk_batch([*_filler(50), odd])

    first = client.segment("/v1/batch", body)
    again = client.segment("/v1/batch", body)

    assert (first.status, again.status) == (200, 200), (first, again)
    assert len(client.events(limit=1000)) == 51
    assert client.stats()["duplicates"]["segment"]["events"] == 51


@pytest.mark.parametrize("bad_type", [["track"], {"t": 1}, 7, True, None])
def test_non_string_type_drops_only_that_message(client: Client, bad_type: Any) -> None:
    bad = _message("track", 99, event="Bad")
    bad["type"] = bad_type

    answer = client.segment("/v1/batch", _python_sdk_batch([*_filler(3), bad]))

    assert answer.status == 200, answer
    assert answer.json()["errors"] == [
        {"index": 3, "code": "invalid_type", "message": answer.json()["errors"][0]["message"]}
    ]
    assert len(client.events()) == 3


@pytest.mark.parametrize("fill", [0, 200], ids=["small-body", "body-over-32KB"])
def test_deeply_nested_message_drops_only_that_message(client: Client, fill: int) -> None:
    deep = _message("track", 99, event="Deep", properties=_deep(300))

    answer = client.segment("/v1/batch", _raw(_python_sdk_batch([*_filler(fill + 2), deep])))

    assert answer.status == 200, answer
    assert [e["index"] for e in answer.json()["errors"]] == [fill + 2]
    assert answer.json()["errors"][0]["code"] == "invalid_message"
    assert client.stats()["stored"]["segment"]["events"] == fill + 2


def test_deeply_nested_single_message_is_a_400(client: Client) -> None:
    body = _message("track", 1, event="Deep", properties=_deep(300))

    answer = client.segment("/v1/track", _raw(body))

    assert answer.status == 400
    assert answer.json()["code"] == "invalid_message"


def test_deeply_nested_amplitude_event_is_a_400_storing_nothing(client: Client) -> None:
    event = {"event_type": "E", "user_id": "user-1", "insert_id": "i-1", "extra": _deep(300)}
    body = {"api_key": "amp-key", "events": [event, {**event, "insert_id": "i-2", "extra": 1}]}

    answer = client.post("/2/httpapi", _raw(body))

    assert answer.status == 400, answer
    assert client.events() == []


def test_deeply_nested_mparticle_batch_is_a_400(client: Client) -> None:
    batch = {"environment": "development", "user_attributes": {"deep": _deep(300)}}

    answer = client.post(
        "/v2/events", _raw(batch), headers={"Authorization": basic("mp-key", "mp-secret")}
    )

    assert answer.status == 400, answer
    assert client.events() == []


@pytest.mark.parametrize("name", ["limit", "since", "until", "before"])
@pytest.mark.parametrize("value", [str(2**64), "9" * 5000, "-" + str(2**64)])
def test_events_integer_past_64_bits_is_a_400_naming_it(
    client: Client, name: str, value: str
) -> None:
    answer = client.get("/events", **{name: value})

    assert answer.status == 400, answer
    assert name in answer.json()["error"]
