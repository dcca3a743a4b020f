"""Amplitude's wire rules: request checks, response bodies, property operations, outcomes."""

from __future__ import annotations

import email.utils
import json
from typing import Any, Final

import orjson
import pytest

from trackwire._engine.retry import Delivered, Rejected, Retry, Split, Throttled
from trackwire._engine.transport import HTTPResult
from trackwire.amplitude import answers, properties, responses, wire
from trackwire.amplitude.identify import (
    IDENTIFY_SUCCESS_BODY,
    check_group_identify_form,
    check_identify_form,
)
from trackwire.amplitude.properties import (
    GROUP_PROPERTY_OPERATIONS,
    OPERATION_ORDER,
    USER_PROPERTY_OPERATIONS,
    parse_group_properties,
    parse_user_properties,
)
from trackwire.errors import ValidationError

NOW = 1_767_225_600.0


def _event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"event_type": "Song Played", "user_id": "datamonster@gmail.com"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def _body(*events: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"api_key": "API_KEY", "events": list(events), **extra}


# --- constants ---------------------------------------------------------------------------------


def test_server_urls_per_zone() -> None:
    assert wire.SERVER_URLS["US"]["httpapi"] == "https://api2.amplitude.com/2/httpapi"
    assert wire.SERVER_URLS["US"]["batch"] == "https://api2.amplitude.com/batch"
    assert wire.SERVER_URLS["EU"]["identify"] == "https://api.eu.amplitude.com/identify"
    assert wire.SERVER_URLS["EU"]["groupidentify"] == "https://api.eu.amplitude.com/groupidentify"
    assert wire.DASHBOARD_URLS == {
        "US": "https://amplitude.com",
        "EU": "https://analytics.eu.amplitude.com",
    }


def test_limits() -> None:
    assert wire.MAX_EVENTS_PER_REQUEST == 2000
    assert wire.MAX_REQUEST_BYTES["httpapi"] == 1_000_000
    assert wire.MAX_REQUEST_BYTES["batch"] == 20_000_000
    assert wire.DEFAULT_MIN_ID_LENGTH == 5
    assert set(OPERATION_ORDER) == set(USER_PROPERTY_OPERATIONS)
    assert set(GROUP_PROPERTY_OPERATIONS) < set(USER_PROPERTY_OPERATIONS)


# --- check_upload: request level ---------------------------------------------------------------

REQUEST_ERRORS: list[tuple[str, object, int, str, str | None]] = [
    ("not an object", [1, 2], 400, "Invalid JSON request body", None),
    ("no api_key", {"events": [_event()]}, 400, "Request missing required field", "api_key"),
    ("empty api_key", _body(_event()) | {"api_key": ""}, 400,
     "Request missing required field", "api_key"),
    ("api_key not a string", _body(_event()) | {"api_key": 7}, 400, "Invalid API key: 7", None),
    ("no events", {"api_key": "k"}, 400, "Request missing required field", "events"),
    ("empty events", _body(), 400, "Request missing required field", "events"),
    ("events not a list", {"api_key": "k", "events": {}}, 400, "Invalid event JSON", None),
    ("event not an object", _body(_event(), "x"), 400, "Invalid event JSON", None),
    ("too many events", _body(*[_event()] * 2001), 413, "Payload too large", None),
    ("options not object", _body(_event(), options=[]), 400, "Invalid JSON request body", None),
    ("min_id_length zero", _body(_event(), options={"min_id_length": 0}), 400,
     "Invalid JSON request body", None),
    ("min_id_length bool", _body(_event(), options={"min_id_length": True}), 400,
     "Invalid JSON request body", None),
    ("min_id_length text", _body(_event(), options={"min_id_length": "3"}), 400,
     "Invalid JSON request body", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code", "error", "missing"),
    [case[1:] for case in REQUEST_ERRORS],
    ids=[case[0] for case in REQUEST_ERRORS],
)
def test_request_level_errors(body: object, code: int, error: str, missing: str | None) -> None:
    check = wire.check_upload(body)
    assert check.error is not None
    assert (check.error.code, check.error.error, check.error.missing_field) == (
        code,
        error,
        missing,
    )
    assert check.error.message
    assert not check.ok
    assert check.valid_indices == [] and check.invalid_indices == []


def test_exactly_max_events_is_accepted() -> None:
    check = wire.check_upload(_body(*[_event()] * wire.MAX_EVENTS_PER_REQUEST))
    assert check.ok
    assert len(check.valid_indices) == 2000


@pytest.mark.parametrize(
    ("endpoint", "size", "too_large"),
    [
        ("httpapi", 1_000_000, False),
        ("httpapi", 1_000_001, True),
        ("batch", 1_000_001, False),
        ("batch", 20_000_001, True),
    ],
)
def test_payload_size_per_endpoint(endpoint: str, size: int, too_large: bool) -> None:
    check = wire.check_upload(_body(_event()), endpoint=endpoint, payload_size_bytes=size)
    assert (check.error is not None and check.error.code == 413) is too_large


def test_unknown_endpoint_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="endpoint"):
        wire.check_upload(_body(_event()), endpoint="identify")


# --- check_upload: per event -------------------------------------------------------------------


def _deep(levels: int) -> dict[str, Any]:
    """An object nested ``levels`` objects deep."""
    return {"a": _deep(levels - 1)} if levels > 1 else {"a": 1}


# (case, event, expected {group: {field}}) where group is invalid / missing / length.
EVENT_CASES: list[tuple[str, dict[str, Any], dict[str, set[str]]]] = [
    ("minimal", _event(), {}),
    ("device id only", _event(user_id=..., device_id="device-12345"), {}),
    ("no event_type", _event(event_type=...), {"missing": {"event_type"}}),
    ("empty event_type", _event(event_type=""), {"missing": {"event_type"}}),
    ("event_type number", _event(event_type=3), {"invalid": {"event_type"}}),
    ("no ids", _event(user_id=...), {"missing": {"user_id"}}),
    ("null ids", _event(user_id=None, device_id=None), {"missing": {"user_id"}}),
    ("user_id number", _event(user_id=123456), {"invalid": {"user_id"}}),
    ("blocked user_id", _event(user_id="Undefined"), {"invalid": {"user_id"}}),
    ("blocked zero uuid", _event(device_id="00000000-0000-0000-0000-000000000000"),
     {"invalid": {"device_id"}}),
    ("short user_id", _event(user_id="abc"), {"length": {"user_id"}}),
    ("short device_id", _event(device_id="d1"), {"length": {"device_id"}}),
    ("time string", _event(time="2026-01-01T00:00:00Z"), {"invalid": {"time"}}),
    ("time float", _event(time=1.5e12), {"invalid": {"time"}}),
    ("time bool", _event(time=True), {"invalid": {"time"}}),
    ("time int", _event(time=1767225600000), {}),
    ("event_properties list", _event(event_properties=[1]), {"invalid": {"event_properties"}}),
    ("user_properties string", _event(user_properties="x"), {"invalid": {"user_properties"}}),
    ("groups list", _event(groups=["a"]), {"invalid": {"groups"}}),
    ("groups number value", _event(groups={"org": 5}), {"invalid": {"groups"}}),
    ("groups values", _event(groups={"org": "acme", "team": ["a", "b"]}), {}),
    ("price string", _event(price="9.99"), {"invalid": {"price"}}),
    ("price int", _event(price=10, quantity=2, revenue=20.0), {}),
    ("quantity float", _event(quantity=1.5), {"invalid": {"quantity"}}),
    ("revenue bool", _event(revenue=False), {"invalid": {"revenue"}}),
    ("location text", _event(location_lat="52.5"), {"invalid": {"location_lat"}}),
    ("session_id float", _event(session_id=1.0), {"invalid": {"session_id"}}),
    ("session_id -1", _event(session_id=-1), {}),
    ("event_id string", _event(event_id="1"), {"invalid": {"event_id"}}),
    ("insert_id number", _event(insert_id=5), {"invalid": {"insert_id"}}),
    ("productId number", _event(productId=5), {"invalid": {"productId"}}),
    ("platform number", _event(platform=1), {"invalid": {"platform"}}),
    ("skip sync string", _event(**{"$skip_user_properties_sync": "yes"}),
     {"invalid": {"$skip_user_properties_sync"}}),
    ("plan versionId number", _event(plan={"versionId": 3}), {"invalid": {"plan"}}),
    ("metadata snake", _event(ingestion_metadata={"source_name": "a", "source_version": "1"}), {}),
    ("metadata camel", _event(ingestion_metadata={"sourceName": "a", "sourceVersion": "1"}), {}),
    ("metadata number", _event(ingestion_metadata={"sourceName": 1}),
     {"invalid": {"ingestion_metadata"}}),
    ("ops only", _event(user_properties={"$set": {"a": 1}, "$unset": {"b": "-"}}), {}),
    ("mixed ops", _event(user_properties={"$append": {"i": "Music"}, "plan": "paid"}),
     {"invalid": {"user_properties"}}),
    ("op not object", _event(user_properties={"$set": "a"}), {"invalid": {"user_properties"}}),
    ("add not number", _event(user_properties={"$add": {"n": "one"}}),
     {"invalid": {"user_properties"}}),
    ("clearAll dash", _event(user_properties={"$clearAll": "-"}), {}),
    ("group ops", _event(event_type="$groupidentify", group_properties={"$prepend": {"a": 1}}),
     {}),
    ("group op unsupported", _event(group_properties={"$remove": {"a": 1}}),
     {"invalid": {"group_properties"}}),
    ("too deep", _event(event_properties=_deep(41)), {"invalid": {"event_properties"}}),
    ("deep but fine", _event(event_properties=_deep(40)), {}),
    ("unknown field ignored", _event(some_new_field={"x": 1}), {}),
    ("long string truncated, not refused", _event(platform="p" * 1025), {}),
    ("several problems", _event(event_type=..., user_id="ab", time="x"),
     {"missing": {"event_type"}, "length": {"user_id"}, "invalid": {"time"}}),
]  # fmt: skip


# Cases where the SDK knowingly differs from what Amplitude's server does with an event: it
# removes a short id before sending (the official SDKs' rule) and refuses an unknown key (a
# misspelling would otherwise be lost silently).
_SDK_DIFFERS: Final = {
    "short user_id",
    "short device_id",
    "unknown field ignored",
    "several problems",
}


@pytest.mark.parametrize(
    ("event", "expected"),
    [case[1:] for case in EVENT_CASES if case[0] not in _SDK_DIFFERS],
    ids=[case[0] for case in EVENT_CASES if case[0] not in _SDK_DIFFERS],
)
def test_the_sdk_applies_the_same_rules(
    event: dict[str, Any], expected: dict[str, set[str]]
) -> None:
    """One rule set: what the collector refuses the client refuses, naming the same field."""
    from trackwire.amplitude.events import prepare

    if not expected:
        prepare(event, min_id_length=wire.DEFAULT_MIN_ID_LENGTH)
        return
    with pytest.raises(ValidationError) as raised:
        prepare(event, min_id_length=wire.DEFAULT_MIN_ID_LENGTH)
    assert raised.value.field in set().union(*expected.values())


@pytest.mark.parametrize(
    ("event", "expected"),
    [case[1:] for case in EVENT_CASES],
    ids=[case[0] for case in EVENT_CASES],
)
def test_event_rules(event: dict[str, Any], expected: dict[str, set[str]]) -> None:
    check = wire.check_upload(_body(_event(), event))
    assert check.error is None
    found = {
        "invalid": set(check.events_with_invalid_fields),
        "missing": set(check.events_with_missing_fields),
        "length": set(check.events_with_invalid_id_lengths),
    }
    assert {k: v for k, v in found.items() if v} == expected
    for groups in (
        check.events_with_invalid_fields,
        check.events_with_missing_fields,
        check.events_with_invalid_id_lengths,
    ):
        assert all(indices == [1] for indices in groups.values())
    assert check.valid_indices == ([0, 1] if not expected else [0])
    assert check.invalid_indices == ([] if not expected else [1])
    assert check.ok is (not expected)


def test_depth_helper_builds_what_it_says() -> None:
    deep = EVENT_CASES[[c[0] for c in EVENT_CASES].index("too deep")][1]["event_properties"]
    depth = 0
    while isinstance(deep, dict):
        deep, depth = deep["a"], depth + 1
    assert depth == 41


def test_min_id_length_option_relaxes_and_tightens() -> None:
    relaxed = wire.check_upload(_body(_event(user_id="ab"), options={"min_id_length": 2}))
    assert relaxed.ok and relaxed.min_id_length == 2
    strict = wire.check_upload(_body(_event(user_id="abcdef"), options={"min_id_length": 10}))
    assert strict.events_with_invalid_id_lengths == {"user_id": [0]}
    default = wire.check_upload(_body(_event(user_id="abcde"), options={"min_id_length": None}))
    assert default.ok and default.min_id_length == 5


def test_indices_are_grouped_per_field_across_events() -> None:
    check = wire.check_upload(
        _body(_event(time="x"), _event(), _event(time="y", event_type=...), _event(user_id="a"))
    )
    assert check.events_with_invalid_fields == {"time": [0, 2]}
    assert check.events_with_missing_fields == {"event_type": [2]}
    assert check.events_with_invalid_id_lengths == {"user_id": [3]}
    assert check.valid_indices == [1]
    assert check.invalid_indices == [0, 2, 3]


def _python_sdk_body() -> dict[str, Any]:
    """An event as amplitude-analytics builds it, stamped the way its ContextPlugin stamps it."""
    amplitude = pytest.importorskip("amplitude")
    event = amplitude.BaseEvent(
        event_type="Song Played",
        user_id="datamonster@gmail.com",
        device_id="C8F9E604-F01A-4BD9-95C6-8E5357DF265D",
        event_properties={"title": "Blue", "plays": 3, "tags": ["a", "b"], "meta": {"x": 1}},
        user_properties={"plan": "pro"},
        ingestion_metadata=amplitude.IngestionMetadata(source_name="etl", source_version="2.0"),
        plan=amplitude.Plan(branch="main", source="web", version="1", version_id="v1"),
        price=9.99,
        quantity=1,
        product_id="p1",
        revenue_type="purchase",
        session_id=1767225600000,
        currency="EUR",
        user_agent="Mozilla/5.0",
    )
    body = event.get_event_body()
    body |= {
        "time": 1767225600123,
        "insert_id": "0f6c6c3e-5d0b-4b4e-9f43-9a1c5d2e8f10",
        "library": "amplitude-python/1.3.0",
    }
    identify = {
        "event_type": "$identify",
        "user_id": "datamonster@gmail.com",
        "user_properties": {"$set": {"plan": "pro"}, "$add": {"logins": 1}},
        "time": 1767225600124,
        "insert_id": "1f6c6c3e-5d0b-4b4e-9f43-9a1c5d2e8f10",
        "library": "amplitude-python/1.3.0",
    }
    # The Python SDK sends json.dumps(sort_keys=True) with its default separators.
    text = json.dumps({"api_key": "API_KEY", "events": [body, identify]}, sort_keys=True)
    decoded: dict[str, Any] = json.loads(text)
    return decoded


def test_official_python_sdk_body_is_accepted() -> None:
    check = wire.check_upload(_python_sdk_body())
    assert check.ok, check


def test_official_node_sdk_bodies_are_accepted() -> None:
    node_event = {
        "event_type": "Song Played",
        "user_id": "datamonster@gmail.com",
        "library": "amplitude-node/1.10.2",
        "ingestion_metadata": {"sourceName": "etl", "sourceVersion": "2.0"},
        "plan": {"branch": "main", "source": "web", "version": "1", "versionId": "v1"},
    }
    group_identify = {
        "event_type": "$groupidentify",
        "device_id": "k2j3h4g5f6d7s8a9q0w1e2r3t",
        "groups": {"org": "acme"},
        "group_properties": {"$set": {"tier": "gold"}},
        "library": "amplitude-node/1.10.2",
    }
    body = _body(node_event, group_identify, options={"min_id_length": 1})
    assert wire.check_upload(body).ok


# --- response bodies ---------------------------------------------------------------------------


def test_success_body() -> None:
    assert answers.success_body(50, 50, 1396381378123) == {
        "code": 200,
        "events_ingested": 50,
        "payload_size_bytes": 50,
        "server_upload_time": 1396381378123,
    }


def test_invalid_request_body_for_missing_field() -> None:
    body = answers.invalid_request_body(wire.check_upload({"events": [_event()]}))
    assert body == {
        "code": 400,
        "error": "Request missing required field",
        "missing_field": "api_key",
    }


def test_invalid_request_body_without_missing_field() -> None:
    body = answers.invalid_request_body(wire.check_upload({"api_key": "k", "events": 3}))
    assert body == {"code": 400, "error": "Invalid event JSON"}


def test_invalid_request_body_for_events() -> None:
    check = wire.check_upload(_body(_event(), _event(time="x"), _event(user_id="ab")))
    assert answers.invalid_request_body(check) == {
        "code": 400,
        "error": "Invalid field values on some events",
        "events_with_invalid_fields": {"time": [1]},
        "events_with_missing_fields": {},
        "events_with_invalid_id_lengths": {"user_id": [2]},
    }


def test_invalid_request_body_for_too_many_events_is_413() -> None:
    check = wire.check_upload(_body(*[_event()] * 2001))
    assert answers.invalid_request_body(check) == {"code": 413, "error": "Payload too large"}


def test_invalid_request_body_needs_a_problem() -> None:
    with pytest.raises(ValueError, match="no problem"):
        answers.invalid_request_body(wire.check_upload(_body(_event())))


def test_small_bodies() -> None:
    assert answers.too_large_body() == {"code": 413, "error": "Payload too large"}
    assert answers.invalid_api_key_body("TEST_API_KEY") == {
        "code": 400,
        "error": "Invalid API key: TEST_API_KEY",
    }
    assert answers.error_body(403, "Forbidden") == {"code": 403, "error": "Forbidden"}
    assert IDENTIFY_SUCCESS_BODY == b"success"


def test_throttled_body() -> None:
    assert answers.throttled_body(
        throttled_events=[0, 2], throttled_users={"u-12345": 31}, eps_threshold=30
    ) == {
        "code": 429,
        "error": "Too many requests for some devices and users",
        "eps_threshold": 30,
        "throttled_devices": {},
        "throttled_users": {"u-12345": 31},
        "throttled_events": [0, 2],
    }
    quota = answers.throttled_body(
        throttled_events=[1],
        throttled_devices={"d-12345": 1200},
        eps_threshold=1000,
        exceeded_daily_quota_users={"u-12345": 500200},
        exceeded_daily_quota_devices={"d-12345": 500200},
    )
    assert quota["exceeded_daily_quota_users"] == {"u-12345": 500200}
    assert quota["exceeded_daily_quota_devices"] == {"d-12345": 500200}
    assert quota["throttled_devices"] == {"d-12345": 1200}


def test_bodies_round_trip_through_the_official_python_sdk() -> None:
    http_client = pytest.importorskip("amplitude.http_client")
    check = wire.check_upload(_body(_event(), _event(time="x"), _event(user_id="ab")))
    response = http_client.Response(body=answers.invalid_request_body(check))
    assert response.invalid_or_silenced_index() == {1, 2}
    assert response.missing_field is None


# --- property operations -----------------------------------------------------------------------

PARSE_CASES: list[tuple[str, dict[str, Any], list[tuple[str, Any]]]] = [
    ("empty", {}, []),
    ("plain is one $set", {"plan": "pro", "age": 3}, [("$set", {"plan": "pro", "age": 3})]),
    ("dollar key not an op is plain", {"$custom": 1}, [("$set", {"$custom": 1})]),
    ("one op", {"$add": {"n": 1}}, [("$add", {"n": 1})]),
    ("clearAll first, value dropped", {"$set": {"a": 1}, "$clearAll": "-"},
     [("$clearAll", {}), ("$set", {"a": 1})]),
    ("fixed order whatever the wire order",
     {"$remove": {"r": 1}, "$postInsert": {"p": 1}, "$preInsert": {"q": 1}, "$prepend": {"x": 1},
      "$append": {"y": 1}, "$add": {"n": 1}, "$set": {"s": 1}, "$setOnce": {"o": 1},
      "$unset": {"u": "-"}},
     [("$unset", {"u": "-"}), ("$setOnce", {"o": 1}), ("$set", {"s": 1}), ("$add", {"n": 1}),
      ("$append", {"y": 1}), ("$prepend", {"x": 1}), ("$preInsert", {"q": 1}),
      ("$postInsert", {"p": 1}), ("$remove", {"r": 1})]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("props", "expected"), [c[1:] for c in PARSE_CASES], ids=[c[0] for c in PARSE_CASES]
)
def test_parse_user_properties(props: dict[str, Any], expected: list[tuple[str, Any]]) -> None:
    assert parse_user_properties(props) == expected


@pytest.mark.parametrize(
    "props",
    [{"$set": {"a": 1}, "plain": 2}, {"$set": "a"}, {"$add": {"n": "x"}}],
    ids=["mixed", "op value not object", "add not number"],
)
def test_parse_user_properties_refuses(props: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="properties object"):
        parse_user_properties(props)


def test_parse_group_properties() -> None:
    assert parse_group_properties({"tier": "gold"}) == [("$set", {"tier": "gold"})]
    assert parse_group_properties({"$prepend": {"a": 1}}) == [("$prepend", {"a": 1})]
    with pytest.raises(ValueError, match=r"\$remove is not allowed"):
        parse_group_properties({"$remove": {"a": 1}})


# --- identify form APIs ------------------------------------------------------------------------


def _form(identification: object, api_key: str = "API_KEY") -> dict[str, str]:
    text = identification if isinstance(identification, str) else json.dumps(identification)
    return {"api_key": api_key, "identification": text}


IDENTIFY_CASES: list[tuple[str, dict[str, str], str | None]] = [
    ("object", _form({"user_id": "u-12345", "user_properties": {"plan": "pro"}}), None),
    ("array", _form([{"user_id": "u-12345"}, {"device_id": "d-12345", "country": "DE"}]), None),
    ("ops", _form({"user_id": "u-12345", "user_properties": {"$setOnce": {"a": 1}}}), None),
    ("no api_key", _form({"user_id": "u-12345"}, api_key=""), "missing api_key"),
    ("no identification", {"api_key": "k"}, "missing_event"),
    ("bad json", _form("{nope"), "missing_event"),
    ("empty array", _form([]), "missing_event"),
    ("array of strings", _form(["u-12345"]), "missing_event"),
    ("no ids", _form({"user_properties": {"a": 1}}), "identification[0]: needs user_id"),
    ("short id", _form([{"user_id": "u-12345"}, {"user_id": "u1"}]),
     "identification[1]: user_id is shorter"),
    ("blocked id", _form({"device_id": "null"}), "device_id is not a valid id"),
    ("mixed props", _form({"user_id": "u-12345", "user_properties": {"$set": {}, "a": 1}}),
     "user_properties mixes operations"),
    ("props not object", _form({"user_id": "u-12345", "user_properties": [1]}),
     "user_properties must be an object"),
    ("paying bool", _form({"user_id": "u-12345", "paying": True}), "paying must be a string"),
    ("groups bad", _form({"user_id": "u-12345", "groups": {"org": 1}}), "groups must map"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "error"), [c[1:] for c in IDENTIFY_CASES], ids=[c[0] for c in IDENTIFY_CASES]
)
def test_check_identify_form(fields: dict[str, str], error: str | None) -> None:
    check = check_identify_form(fields)
    if error is None:
        assert check.ok and check.error is None
        expected = json.loads(fields["identification"])
        assert check.identifications == (expected if isinstance(expected, list) else [expected])
    else:
        assert not check.ok and check.identifications == []
        assert check.error is not None and error in check.error


GROUP_CASES: list[tuple[str, dict[str, str], str | None]] = [
    ("ok", _form({"group_type": "org", "group_value": "acme",
                  "group_properties": {"$set": {"tier": "gold"}}}), None),
    ("plain props", _form([{"group_type": "org", "group_value": "acme",
                            "group_properties": {"tier": "gold"}}]), None),
    ("no group_type", _form({"group_value": "acme"}), "group_type must be"),
    ("group_value number", _form({"group_type": "org", "group_value": 5}), "group_value must be"),
    ("unsupported op", _form({"group_type": "org", "group_value": "acme",
                              "group_properties": {"$clearAll": "-"}}), "$clearAll is not allowed"),
    ("too many", _form([{"group_type": "o", "group_value": "v"}] * 1025), "at most 1024"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "error"), [c[1:] for c in GROUP_CASES], ids=[c[0] for c in GROUP_CASES]
)
def test_check_group_identify_form(fields: dict[str, str], error: str | None) -> None:
    check = check_group_identify_form(fields)
    if error is None:
        assert check.ok and len(check.identifications) == 1
    else:
        assert check.error is not None and error in check.error


# --- outcome -----------------------------------------------------------------------------------


def _result(status: int | None, body: object = b"", **headers: str) -> HTTPResult:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    error = "timeout" if status is None else None
    return HTTPResult(status=status, headers=headers, body=raw, error=error)


HTTP_DATE = email.utils.formatdate(NOW + 120, usegmt=True)


def _batch(n: int) -> list[bytes]:
    """``n`` encoded events, each of its own user and device."""
    return [
        orjson.dumps({"event_type": "e", "user_id": f"user-{i:04d}", "device_id": f"dev-{i:04d}"})
        for i in range(n)
    ]


def _of(*ids: tuple[str | None, str | None]) -> list[bytes]:
    """Encoded events with the given (user_id, device_id) pairs."""
    return [orjson.dumps({"event_type": "e", "user_id": u, "device_id": d}) for u, d in ids]


THROTTLE_ERROR = "HTTP 429: Too many requests for some devices and users"
MIXED = _of(("user-0000", None), ("user-0001", None), ("user-0000", None), (None, "dev-0009"),
            ("user-0002", "dev-0009"))  # fmt: skip

OUTCOMES: list[tuple[str, HTTPResult, list[bytes], object]] = [
    ("200", _result(200, answers.success_body(3, 10, 1)), _batch(3), Delivered()),
    ("no response", _result(None), _batch(3), Retry(reason="timeout")),
    ("2xx without code", _result(202, b""), _batch(2),
     Retry(reason="HTTP 202 without Amplitude's code 200 body", status=202)),
    ("200 html", _result(200, b"<html>ok</html>"), _batch(2),
     Retry(reason="HTTP 200 without Amplitude's code 200 body", status=200)),
    ("200 with code 400 in body", _result(200, {"code": 400, "error": "Invalid API key: K"}),
     _batch(2), Rejected(reason="HTTP 400: Invalid API key: K", status=400)),
    ("200 with code 503 in body", _result(200, {"code": 503, "error": "busy"}), _batch(2),
     Retry(reason="HTTP 503: busy", status=503)),
    ("400 missing field", _result(400, answers.invalid_request_body(
        wire.check_upload({"events": [1]}))), _batch(3),
     Rejected(reason="HTTP 400: Request missing required field (api_key)", status=400)),
    ("400 invalid api key", _result(400, answers.invalid_api_key_body("K")), _batch(3),
     Rejected(reason="HTTP 400: Invalid API key: K", status=400)),
    ("400 per event", _result(400, {"code": 400, "error": "Invalid field values on some events",
                                    "events_with_invalid_fields": {"time": [2, 0]},
                                    "events_with_missing_fields": {"event_type": [0]},
                                    "events_with_invalid_id_lengths": {"user_id": [4]},
                                    "silenced_events": [5]}), _batch(8),
     Rejected(reason="HTTP 400: Invalid field values on some events", indices=[0, 2, 4, 5],
              resend_rest=True, status=400)),
    ("400 collector body", _result(400, answers.invalid_request_body(wire.check_upload(
        {"api_key": "k", "events": [{"event_type": "a", "user_id": "user-1"},
                                    {"event_type": "b", "user_id": "u"}]}))), _batch(2),
     Rejected(reason="HTTP 400: Invalid field values on some events", indices=[1],
              resend_rest=True, status=400)),
    ("400 every event listed", _result(400, {"code": 400, "error": "e",
                                             "events_with_invalid_fields": {"time": [0, 1]}}),
     _batch(2), Rejected(reason="HTTP 400: e", status=400)),
    ("400 out of range index", _result(400, {"code": 400, "error": "e",
                                             "events_with_invalid_fields": {"time": [9]}}),
     _batch(2), Rejected(reason="HTTP 400: e", status=400)),
    ("400 no lists", _result(400, {"code": 400, "error": "Invalid JSON request body"}), _batch(2),
     Rejected(reason="HTTP 400: Invalid JSON request body", status=400)),
    ("400 not json", _result(400, b"<html>bad</html>"), _batch(2),
     Rejected(reason="HTTP 400", status=400)),
    ("413 split", _result(413, answers.too_large_body()), _batch(4),
     Split(reason="HTTP 413: Payload too large", status=413)),
    ("413 lone event", _result(413, answers.too_large_body()), _batch(1),
     Rejected(reason="HTTP 413: Payload too large", status=413)),
    ("429 one user of several", _result(429, answers.throttled_body(
        throttled_events=[0], throttled_users={"user-0000": 40})), MIXED,
     Throttled(reason=f"{THROTTLE_ERROR}; throttled_users=1", after=30.0, deferred=[0, 2],
               rejected=[])),
    ("429 one device", _result(429, answers.throttled_body(
        throttled_events=[3], throttled_devices={"dev-0009": 40})), MIXED,
     Throttled(reason=f"{THROTTLE_ERROR}; throttled_devices=1", after=30.0, deferred=[3, 4],
               rejected=[])),
    ("429 retry-after seconds", _result(429, answers.throttled_body(
        throttled_events=[1], throttled_users={"user-0001": 40}), **{"retry-after": "12"}),
     MIXED, Throttled(reason=f"{THROTTLE_ERROR}; throttled_users=1", after=12.0, deferred=[1],
                      rejected=[])),
    ("429 names nobody", _result(429, {"code": 429}, **{"retry-after": HTTP_DATE}), _batch(2),
     Throttled(reason="HTTP 429: throttled", after=120.0, deferred=[0, 1], rejected=[])),
    ("429 not json", _result(429, b"slow down"), _batch(3),
     Throttled(reason="HTTP 429: throttled", after=30.0, deferred=[0, 1, 2], rejected=[])),
    ("429 daily quota device", _result(429, answers.throttled_body(
        throttled_events=[3, 4], exceeded_daily_quota_devices={"dev-0009": 500200})), MIXED,
     Throttled(reason=f"{THROTTLE_ERROR}; exceeded_daily_quota_devices=1", after=30.0,
               deferred=[], rejected=[3, 4])),
    ("429 quota and throttle", _result(429, answers.throttled_body(
        throttled_events=[0, 1, 2], throttled_users={"user-0000": 40, "user-0001": 35},
        exceeded_daily_quota_users={"user-0001": 500200})), MIXED,
     Throttled(reason=f"{THROTTLE_ERROR}; throttled_users=2; exceeded_daily_quota_users=1",
               after=30.0, deferred=[0, 2], rejected=[1])),
    ("403 firewall", _result(403, {"code": 403, "error": "Forbidden"}), _batch(2),
     Rejected(reason="HTTP 403: Forbidden", status=403)),
    ("408", _result(408, {"code": 408, "error": "timeout"}), _batch(2),
     Retry(reason="HTTP 408: timeout", status=408)),
    ("500", _result(500, {"code": 500, "error": "Internal"}), _batch(2),
     Retry(reason="HTTP 500: Internal", status=500)),
    ("503 retry-after", _result(503, b"", **{"retry-after": "5"}), _batch(2),
     Retry(reason="HTTP 503", after=5.0, status=503)),
    ("501", _result(501, {"code": 501, "error": "nope"}), _batch(2),
     Rejected(reason="HTTP 501: nope", status=501)),
    ("400 in and out of range", _result(400, {"code": 400, "error": "e",
                                              "events_with_invalid_fields": {"time": [0, 7]},
                                              "silenced_events": [-1, 2]}),
     _batch(2), Rejected(reason="HTTP 400: e", indices=[0], resend_rest=True, status=400)),
    ("429 throttled events all out of range", _result(429, answers.throttled_body(
        throttled_events=[2, 5, -1])), _batch(2),
     Throttled(reason=THROTTLE_ERROR, after=30.0, deferred=[0, 1], rejected=[])),
]  # fmt: skip


@pytest.mark.parametrize(
    ("result", "messages", "expected"), [c[1:] for c in OUTCOMES], ids=[c[0] for c in OUTCOMES]
)
def test_outcome(result: HTTPResult, messages: list[bytes], expected: object) -> None:
    assert responses.outcome(result, messages, NOW) == expected


def test_check_event_names_each_problem_with_its_kind_and_fix() -> None:
    event = {
        "event_type": "e" * 1025,
        "user_id": "abc",
        "device_id": "null-device",
        "time": "now",
        "usr_id": "x",
        "user_properties": {"$add": {"n": 1}, "plan": "pro"},
    }
    problems = {(p.kind, p.field): p.detail for p in wire.check_event(event, min_id_length=5)}
    assert problems == {
        ("long", "event_type"): "is longer than 1024 characters (truncated)",
        ("length", "user_id"): "is shorter than min_id_length=5",
        ("invalid", "time"): "must be an int, got str",
        ("unknown", "usr_id"): "is not an Amplitude HTTP V2 event field",
        ("invalid", "user_properties"): (
            "mixes operations with plain properties; " + properties.SET_RULE
        ),
    }
    blocked = wire.check_event({"event_type": "e", "device_id": "Undefined"})
    assert [(p.kind, p.field) for p in blocked] == [("invalid", "device_id")]
    assert wire.check_event({"event_type": "e", "user_id": "user-1"}) == []


def test_truncate_long_strings_cuts_only_what_check_event_reported() -> None:
    event = {"event_type": "e" * 2000, "user_id": "user-1", "platform": "p" * 1024}
    cut = wire.truncate_long_strings(event, wire.check_event(event))
    assert cut == ["event_type"]
    assert len(event["event_type"]) == 1024 and len(event["platform"]) == 1024
