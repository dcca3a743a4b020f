"""Fuzzed requests to every endpoint: the collector never answers 5xx for anything a client
sent, and sending the same request again never does either (issue 7)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.collector.conftest import Client, basic
from trackwire.collector.server import start_collector

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=not os.environ.get("FUZZ_EXAMPLES"),
)

_text = st.text(max_size=12) | st.sampled_from(["", "\u0000", "a\u0000b", "\u202e", "\ud7ff"])
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


_values = _json | st.integers(min_value=1, max_value=400).map(_deep)


def _fields(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects whose known fields get any value, plus a few unknown ones."""
    return st.fixed_dictionaries({}, optional={name: _values for name in names}).flatmap(
        lambda known: st.dictionaries(_text, _json, max_size=2).map(
            lambda extra: {**extra, **known}
        )
    )


_segment_message = _fields(
    ["type", "userId", "anonymousId", "event", "name", "messageId", "timestamp", "properties",
     "traits", "context", "integrations", "groupId", "previousId", "sentAt"]
)  # fmt: skip
_amplitude_event = _fields(
    ["event_type", "user_id", "device_id", "insert_id", "time", "session_id", "event_properties",
     "user_properties", "groups", "group_properties", "revenue", "price", "quantity", "plan",
     "$skip_user_properties_sync"]
)  # fmt: skip
_mparticle_event = st.fixed_dictionaries(
    {"event_type": st.sampled_from(["custom_event", "screen_view", "commerce_event"]) | _values},
    optional={"data": _fields(["event_name", "custom_event_type", "timestamp_unixtime_ms",
                               "source_message_id", "session_id", "product_action"])},
)  # fmt: skip
_mparticle_batch = _fields(
    ["environment", "user_identities", "user_attributes", "deleted_user_attributes", "mpid",
     "device_info", "source_request_id", "mp_deviceid", "consent_state"]
).flatmap(
    lambda batch: st.lists(_mparticle_event, max_size=3).map(lambda ev: {**batch, "events": ev})
)  # fmt: skip


def _raw(value: Any) -> bytes:
    # The standard library encodes any depth and big integers (orjson refuses both).
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    db = Path(tmp_path_factory.mktemp("fuzz")) / "fuzz.db"
    with start_collector(db) as running:
        yield Client(running)


def _twice(client: Client, path: str, body: bytes, **kw: Any) -> None:
    first = client.post(path, body, **kw)
    again = client.post(path, body, **kw)
    assert first.status < 500, (path, first, body[:300])
    assert again.status < 500, (path, again, body[:300])


@FUZZ
@given(
    messages=st.lists(_segment_message | _values, max_size=5),
    envelope=_fields(["context", "integrations", "sentAt", "writeKey"]),
)
def test_segment_batch(fuzzed: Client, messages: list[Any], envelope: dict[str, Any]) -> None:
    body = {**envelope, "batch": messages}
    _twice(fuzzed, "/v1/batch", _raw(body), headers={"Authorization": basic("wk")})


@FUZZ
@given(
    kind=st.sampled_from(["track", "identify", "page", "screen", "group", "alias"]),
    message=_segment_message,
)
def test_segment_single(fuzzed: Client, kind: str, message: dict[str, Any]) -> None:
    _twice(fuzzed, f"/v1/{kind}", _raw(message), headers={"Authorization": basic("wk")})


@FUZZ
@given(
    path=st.sampled_from(["/2/httpapi", "/batch"]),
    events=st.lists(_amplitude_event | _values, max_size=4),
    options=_values,
)
def test_amplitude_upload(fuzzed: Client, path: str, events: list[Any], options: Any) -> None:
    body = {"api_key": "amp-key", "events": events, "options": options}
    _twice(fuzzed, path, _raw(body))


@FUZZ
@given(path=st.sampled_from(["/identify", "/groupidentify"]), identification=_values | _fields(
    ["user_id", "device_id", "user_properties", "group_type", "group_value", "group_properties",
     "groups"]))  # fmt: skip
def test_amplitude_forms(fuzzed: Client, path: str, identification: Any) -> None:
    import urllib.parse

    form = urllib.parse.urlencode({"api_key": "amp-key", "identification": _raw(identification)})
    _twice(fuzzed, path, form.encode(), content_type="application/x-www-form-urlencoded")


@FUZZ
@given(
    path=st.sampled_from(["/v2/events", "/v2/bulkevents", "/v2/bulkevents/historical"]),
    batch=_mparticle_batch | _values,
)
def test_mparticle(fuzzed: Client, path: str, batch: Any) -> None:
    body = [batch] if path != "/v2/events" else batch
    _twice(fuzzed, path, _raw(body), headers={"Authorization": basic("mp-key", "mp-secret")})


@FUZZ
@given(params=st.dictionaries(
    st.sampled_from(["vendor", "source", "type", "user", "event", "since", "until", "before",
                     "limit"]),
    _text | st.integers(min_value=-(2**70), max_value=2**70).map(str),
))  # fmt: skip
def test_events_query(fuzzed: Client, params: dict[str, str]) -> None:
    answer = fuzzed.get("/events", **params)
    assert answer.status < 500, (params, answer)


_PATHS = ["/v1/batch", "/v1/track", "/2/httpapi", "/identify", "/v2/events", "/v2/bulkevents"]


@FUZZ
@given(body=st.binary(max_size=200), path=st.sampled_from(_PATHS))
def test_raw_bytes(fuzzed: Client, body: bytes, path: str) -> None:
    _twice(fuzzed, path, body, headers={"Authorization": basic("k", "s")})
