"""The collector keeps what the vendors would keep (issue 10): one table per rule, each run
against the running collector, each naming the document it comes from.

References are sections of the shared vendor notes (segment.md, amplitude.md, mparticle.md),
which quote the vendors' own pages.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.collector.conftest import Client, basic, skew_corrected_ms
from trackwire.collector.keys import fingerprint

SEG = fingerprint("wk")
AMP = fingerprint("amp-key")
MP = fingerprint("mp-key")


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _batch(*messages: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    return {"batch": list(messages), **envelope}


# --- Segment: the batch envelope (segment.md §1.3: "context ... merged into every message's
# context", "integrations ... merged into every message's integrations") ----------------------

ENVELOPE_CASES = [
    pytest.param(
        {"context": {"ip": "203.0.113.9", "library": {"name": "env"}}},
        {},
        {"ip": "203.0.113.9", "library": {"name": "env"}},
        None,
        id="envelope-context-only",
    ),
    pytest.param(
        {"context": {"ip": "203.0.113.9", "library": {"name": "env"}}},
        {"context": {"library": {"name": "own"}, "locale": "fr-FR"}},
        {"ip": "203.0.113.9", "library": {"name": "own"}, "locale": "fr-FR"},
        None,
        id="message-context-wins",
    ),
    pytest.param(
        {"integrations": {"All": False, "Mixpanel": True}},
        {"integrations": {"Mixpanel": False}},
        None,
        {"All": False, "Mixpanel": False},
        id="integrations-merged-message-wins",
    ),
    pytest.param({}, {"context": {"ip": "1.1.1.1"}}, {"ip": "1.1.1.1"}, None, id="no-envelope"),
]


@pytest.mark.parametrize(("envelope", "own", "context", "integrations"), ENVELOPE_CASES)
def test_segment_envelope_context_and_integrations_are_merged(
    client: Client,
    envelope: dict[str, Any],
    own: dict[str, Any],
    context: dict[str, Any] | None,
    integrations: dict[str, Any] | None,
) -> None:
    message = {"type": "track", "userId": "u-1", "event": "E", "messageId": "env-1", **own}

    assert client.segment("/v1/batch", _batch(message, **envelope)).status == 200

    (stored,) = client.events()
    assert stored["payload"].get("context") == context
    assert stored["payload"].get("integrations") == integrations


# --- Segment: server enrichment and clock skew (segment.md §1.4: "Segment copies the sent value
# to originalTimestamp and recomputes timestamp = receivedAt - (sentAt - originalTimestamp)";
# "when omitted the server uses its own time") --------------------------------------------------

# (client clock offset from the real time, event age on the client's clock when sent)
SKEW_CASES = [
    pytest.param(timedelta(hours=1), timedelta(seconds=10), id="client-clock-an-hour-fast"),
    pytest.param(-timedelta(days=1), timedelta(minutes=5), id="client-clock-a-day-slow"),
    pytest.param(timedelta(0), timedelta(0), id="no-skew"),
]


@pytest.mark.parametrize(("offset", "age"), SKEW_CASES)
def test_segment_timestamp_is_corrected_for_clock_skew(
    client: Client, offset: timedelta, age: timedelta
) -> None:
    client_now = datetime.now(timezone.utc) + offset
    message = {"type": "track", "userId": "u", "event": "E", "timestamp": _iso(client_now - age)}

    assert client.segment("/v1/batch", _batch(message, sentAt=_iso(client_now))).status == 200

    (stored,) = client.events()
    payload = stored["payload"]
    assert payload["originalTimestamp"] == _iso(client_now - age)
    assert payload["sentAt"] == _iso(client_now)
    # The event happened `age` before the request reached the server, whatever the clock said.
    assert _at(payload["receivedAt"]) - _at(payload["timestamp"]) == age
    assert stored["client_time_ms"] == skew_corrected_ms(payload)


def test_segment_without_timestamp_happens_at_receipt(client: Client) -> None:
    message = {"type": "track", "userId": "u", "event": "E"}

    assert client.segment("/v1/track", message).status == 200

    (stored,) = client.events()
    assert stored["payload"]["timestamp"] == stored["payload"]["receivedAt"]
    assert "originalTimestamp" not in stored["payload"]
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    received_ms = (_at(stored["payload"]["receivedAt"]) - epoch) // timedelta(milliseconds=1)
    assert stored["client_time_ms"] == received_ms


def test_segment_without_sent_at_keeps_the_client_time(client: Client) -> None:
    # Nothing to measure the skew with: the client's time is the best there is.
    message = {
        "type": "track",
        "userId": "u",
        "event": "E",
        "timestamp": "2026-01-02T03:04:05.678Z",
    }

    assert client.segment("/v1/batch", _batch(message)).status == 200

    (stored,) = client.events()
    assert stored["payload"]["timestamp"] == "2026-01-02T03:04:05.678Z"
    assert stored["payload"]["originalTimestamp"] == "2026-01-02T03:04:05.678Z"


# --- Segment: alias (segment.md §1.5 alias: previousId, userId; Segment's identity resolution
# merges the anonymous profile into the user's) --------------------------------------------------

ALIAS_CASES = [
    # (requests before the alias, as lists of messages; the user's expected traits)
    pytest.param([], {"plan": "pro", "seen": "anon"}, id="user-new-at-alias"),
    pytest.param(
        [[{"type": "identify", "userId": "u-1", "traits": {"plan": "team"}}]],
        {"plan": "team", "seen": "anon"},
        id="user-known-before-keeps-own-traits",
    ),
]


@pytest.mark.parametrize(("before", "traits"), ALIAS_CASES)
def test_segment_alias_gives_the_anonymous_history_to_the_user(
    client: Client, before: list[list[dict[str, Any]]], traits: dict[str, Any]
) -> None:
    for messages in before:
        assert client.segment("/v1/batch", _batch(*messages)).status == 200
    anonymous = [
        {"type": "identify", "anonymousId": "anon-7", "traits": {"plan": "pro", "seen": "anon"}},
        {"type": "track", "anonymousId": "anon-7", "event": "Browsed"},
    ]
    assert client.segment("/v1/batch", _batch(*anonymous)).status == 200

    alias = {"type": "alias", "previousId": "anon-7", "userId": "u-1"}
    assert client.segment("/v1/alias", alias).status == 200
    later = {"type": "track", "anonymousId": "anon-7", "event": "Came back"}
    assert client.segment("/v1/track", later).status == 200

    store = client.collector.store
    user = store.user("segment", SEG, user_id="u-1")
    assert user is not None and user.properties == traits
    events = {e.event_name or e.type: e.amplitude_id for e in store.events(vendor="segment")}
    assert events["Browsed"] == events["Came back"] == user.amplitude_id
    (link,) = store.links("segment", SEG, user_id="u-1")
    assert (link.previous_id, link.amplitude_id) == ("anon-7", user.amplitude_id)


# --- Segment: messageId de-duplication (segment.md §1.10: "It is not scoped to a source or
# workspace"; Segment keeps ids "at least 24 hours": the collector keeps them forever) ----------

DEDUP_CASES = [
    pytest.param(["wk", "wk"], 1, id="same-source"),
    pytest.param(["wk", "other-key"], 1, id="another-source"),
]


@pytest.mark.parametrize(("keys", "stored"), DEDUP_CASES)
def test_segment_message_id_is_unique_across_sources(
    client: Client, keys: list[str], stored: int
) -> None:
    message = {"type": "track", "userId": "u", "event": "E", "messageId": "same-id"}

    answers = [client.segment("/v1/batch", _batch(message), key=key).status for key in keys]

    assert answers == [200, 200]
    assert len(client.events()) == stored


# --- Amplitude: $groupidentify (amplitude.md §2.2, docs:group-identify: group_properties apply to
# the groups the event lists) --------------------------------------------------------------------

GROUP_CASES = [
    pytest.param({"org": "acme"}, [("org", "acme")], id="one-group"),
    pytest.param({"org": ["a", "b"]}, [("org", "a"), ("org", "b")], id="two-values-one-type"),
    pytest.param(
        {"org": "acme", "team": ["red", "blue"]},
        [("org", "acme"), ("team", "red"), ("team", "blue")],
        id="several-types",
    ),
]


@pytest.mark.parametrize(("groups", "updated"), GROUP_CASES)
def test_amplitude_group_identify_updates_every_listed_group(
    client: Client, groups: dict[str, Any], updated: list[tuple[str, str]]
) -> None:
    event = {
        "event_type": "$groupidentify",
        "device_id": "device-1",
        "groups": groups,
        "group_properties": {"$set": {"tier": "gold"}},
    }

    assert client.post("/2/httpapi", {"api_key": "amp-key", "events": [event]}).status == 200

    for group_type, group_value in updated:
        found = client.collector.store.group("amplitude", AMP, group_type, group_value)
        assert found == {"tier": "gold"}, (group_type, group_value)


# --- Amplitude: insert_id (amplitude.md §1.6: docs:http-v2 scopes it "per app and per device_id
# when the event has one"; docs:batch-event-upload: "any insert_id seen in 7 days") -------------

INSERT_ID_CASES = [
    pytest.param("/2/httpapi", ["device-A", "device-B"], 2, id="httpapi-two-devices"),
    pytest.param("/2/httpapi", ["device-A", "device-A"], 1, id="httpapi-same-device"),
    pytest.param("/2/httpapi", [None, None], 1, id="httpapi-no-device"),
    pytest.param("/batch", ["device-A", "device-B"], 1, id="batch-two-devices"),
    pytest.param("/batch", ["device-A", "device-A"], 1, id="batch-same-device"),
]


@pytest.mark.parametrize(("path", "devices", "stored"), INSERT_ID_CASES)
def test_amplitude_insert_id_scope_by_endpoint(
    client: Client, path: str, devices: list[str | None], stored: int
) -> None:
    for device in devices:
        event = {"event_type": "E", "user_id": "user-1", "insert_id": "same-insert"}
        if device is not None:
            event["device_id"] = device
        assert client.post(path, {"api_key": "amp-key", "events": [event]}).status == 200

    assert len(client.events()) == stored


# --- Amplitude: $add with numbers written as strings (amplitude.md §2.3; the browser SDK's
# identify docs show `identify.add('karma', '5')` as allowed) ------------------------------------

ADD_CASES = [
    pytest.param(["5"], 5, id="integer-string"),
    pytest.param(["5", 2, "-1.5"], 5.5, id="mixed"),
    pytest.param([" 10 "], 10, id="padded"),
]


@pytest.mark.parametrize(("amounts", "total"), ADD_CASES)
def test_amplitude_add_accepts_numeric_strings(
    client: Client, amounts: list[Any], total: float
) -> None:
    events = [
        {"event_type": "$identify", "user_id": "user-1", "insert_id": f"i-{n}",
         "user_properties": {"$add": {"logins": amount}}}
        for n, amount in enumerate(amounts)
    ]  # fmt: skip

    assert client.post("/2/httpapi", {"api_key": "amp-key", "events": events}).status == 200

    user = client.collector.store.user("amplitude", AMP, user_id="user-1")
    assert user is not None and user.properties == {"logins": total}


def test_amplitude_add_refuses_text_that_is_not_a_number(client: Client) -> None:
    event = {"event_type": "$identify", "user_id": "user-1",
             "user_properties": {"$add": {"logins": "five"}}}  # fmt: skip

    answer = client.post("/2/httpapi", {"api_key": "amp-key", "events": [event]})

    assert answer.status == 400
    assert answer.json()["events_with_invalid_fields"] == {"user_properties": [0]}


# --- mParticle: a batch's user changes (mparticle.md §3: source_request_id identifies a request;
# user_attributes describe the user as of that batch) ---------------------------------------------

MP_AUTH = {"Authorization": basic("mp-key", "mp-secret")}


def _event(message_id: str) -> dict[str, Any]:
    data = {"event_name": "Tap", "custom_event_type": "other", "source_message_id": message_id}
    return {"event_type": "custom_event", "data": data}


def _mp_batch(request: str, attributes: dict[str, Any], *ids: str) -> dict[str, Any]:
    return {
        "environment": "development",
        "source_request_id": request,
        "user_identities": {"customer_id": "cust-1"},
        "user_attributes": attributes,
        "events": [_event(message_id) for message_id in ids],
    }


MP_CASES = [
    pytest.param(["m1", "m2"], {"plan": "pro", "seats": "3"}, 2, id="first-event-duplicate"),
    pytest.param(["m1"], {"plan": "pro", "seats": "3"}, 1, id="every-event-duplicate"),
    pytest.param(["m2", "m1"], {"plan": "pro", "seats": "3"}, 2, id="later-event-duplicate"),
]


@pytest.mark.parametrize(("second_ids", "attributes", "stored"), MP_CASES)
def test_mparticle_batch_user_changes_apply_once_per_batch(
    client: Client, second_ids: list[str], attributes: dict[str, Any], stored: int
) -> None:
    first = _mp_batch("req-1", {"plan": "free"}, "m1")
    second = _mp_batch("req-2", {"plan": "pro", "seats": "3"}, *second_ids)

    assert client.post("/v2/events", first, headers=MP_AUTH).status == 202
    assert client.post("/v2/events", second, headers=MP_AUTH).status == 202

    assert len(client.events()) == stored
    user = client.collector.store.user("mparticle", MP, user_id="cust-1")
    assert user is not None and user.properties == attributes


def test_mparticle_retried_request_changes_nothing_twice(client: Client) -> None:
    batch = _mp_batch("req-1", {"plan": "pro"}, "m1")
    batch["deleted_user_attributes"] = ["old"]

    statuses = [client.post("/v2/events", batch, headers=MP_AUTH).status for _ in range(2)]

    assert statuses == [202, 202]
    assert len(client.events()) == 1


def test_segment_alias_in_the_same_batch_as_the_anonymous_events(client: Client) -> None:
    messages = [
        {"type": "identify", "anonymousId": "anon-9", "traits": {"plan": "pro"}},
        {"type": "track", "anonymousId": "anon-9", "event": "Browsed"},
        {"type": "identify", "userId": "u-9", "traits": {"name": "Ada"}},
        {"type": "alias", "previousId": "anon-9", "userId": "u-9"},
        {"type": "track", "anonymousId": "anon-9", "event": "After"},
    ]
    batch = _batch(*({**m, "messageId": f"same-batch-{n}"} for n, m in enumerate(messages)))

    assert client.segment("/v1/batch", batch).status == 200

    store = client.collector.store
    user = store.user("segment", SEG, user_id="u-9")
    assert user is not None and user.properties == {"plan": "pro", "name": "Ada"}
    assert {e.amplitude_id for e in store.events(vendor="segment")} == {user.amplitude_id}
    # A retry of the whole batch changes nothing.
    assert client.segment("/v1/batch", batch).status == 200
    assert len(store.events(vendor="segment")) == 5
