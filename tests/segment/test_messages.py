"""Segment call validation and message shape, through a recording transport (no network)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import trackwire
from trackwire.errors import ConfigError, MessageTooLargeError, ValidationError
from trackwire.segment import wire
from trackwire.testing import RecordingTransport

_MADE: list[trackwire.Segment] = []


@pytest.fixture(autouse=True)
def _shut_down_clients() -> Any:
    """Every client a test made is shut down after it (not at interpreter exit, when the
    exit drain's summary line would meet pytest's closed streams)."""
    yield
    while _MADE:
        _MADE.pop().shutdown(timeout=1)


def client(**options: Any) -> tuple[trackwire.Segment, RecordingTransport]:
    transport = RecordingTransport()
    options.setdefault("send_first_immediately", False)
    options.setdefault("flush_at", 1000)
    made = trackwire.Segment("WRITE_KEY", transport=transport, **options)
    _MADE.append(made)
    return made, transport


@pytest.mark.parametrize(
    ("call", "kwargs", "field", "fragment"),
    [
        ("track", {"event": "E"}, "user_id", "no_user_anon_id"),
        ("track", {"user_id": "", "anonymous_id": None, "event": "E"}, "user_id", "required"),
        ("track", {"user_id": "u"}, "event", "required"),
        ("track", {"user_id": "u", "event": 5}, "event", "str"),
        ("track", {"user_id": "u", "event": "E", "properties": [1]}, "properties", "dict"),
        ("track", {"user_id": 1.5, "event": "E"}, "user_id", "str"),
        ("track", {"user_id": True, "event": "E"}, "user_id", "str"),
        ("track", {"user_id": "u", "event": "E", "context": "x"}, "context", "dict"),
        ("track", {"user_id": "u", "event": "E", "integrations": 1}, "integrations", "dict"),
        ("track", {"user_id": "u", "event": "E", "timestamp": "yesterday"}, "timestamp", "ISO"),
        ("track", {"user_id": "u", "event": "E", "timestamp": 1700000000}, "timestamp", "datetime"),
        ("track", {"user_id": "u", "event": "E", "message_id": "x" * 101}, "message_id", "100"),
        ("track", {"user_id": "u", "event": "E", "message_id": ""}, "message_id", "non-empty"),
        ("identify", {"traits": {"a": 1}}, "user_id", "required"),
        ("identify", {"user_id": "u", "traits": "plan"}, "traits", "dict"),
        ("group", {"user_id": "u"}, "group_id", "required"),
        ("alias", {"user_id": "u"}, "previous_id", "required"),
        ("alias", {"previous_id": "p"}, "user_id", "required"),
        ("page", {"user_id": "u", "name": 3}, "name", "str"),
        ("screen", {"user_id": "u", "category": ["x"]}, "category", "str"),
        (
            "track",
            {"user_id": "u", "event": "E", "properties": {"p": float("nan")}},
            "properties.p",
            "finite",
        ),
    ],
)
def test_invalid_calls_raise_naming_the_field(
    call: str, kwargs: dict[str, Any], field: str, fragment: str
) -> None:
    analytics, transport = client()
    with pytest.raises(ValidationError) as info:
        getattr(analytics, call)(**kwargs)
    assert info.value.field == field
    assert fragment in str(info.value)
    analytics.flush(1)
    assert transport.requests == []
    assert analytics.stats()["enqueued"] == 0


def test_a_message_over_32kb_is_refused_at_the_call_site() -> None:
    analytics, transport = client()
    with pytest.raises(MessageTooLargeError) as info:
        analytics.track(user_id="u", event="E", properties={"blob": "x" * wire.MAX_MESSAGE_BYTES})
    assert info.value.limit == 32_768
    assert info.value.size > 32_768
    analytics.flush(1)
    assert transport.requests == []


def test_message_size_boundary_is_exact() -> None:
    analytics, _transport = client(enable=False)
    receipt = analytics.track(
        user_id="u",
        event="E",
        properties={"b": ""},
        message_id="m",
        timestamp="2026-01-01T00:00:00.000Z",
    )
    assert receipt.error is not None and receipt.error.reason == "disabled"
    size = len(
        b'{"type":"track","event":"E","properties":{"b":""},"userId":"u","context":{"library":'
        + f'{{"name":"trackwire","version":"{trackwire.__version__}"}}}},'.encode()
        + b'"timestamp":"2026-01-01T00:00:00.000Z","messageId":"m"}'
    )
    pad = wire.MAX_MESSAGE_BYTES - size
    ok = analytics.track(
        user_id="u",
        event="E",
        properties={"b": "x" * pad},
        message_id="m",
        timestamp="2026-01-01T00:00:00.000Z",
    )
    assert ok.error is not None and ok.error.reason == "disabled"  # accepted, not sent
    with pytest.raises(MessageTooLargeError):
        analytics.track(
            user_id="u",
            event="E",
            properties={"b": "x" * (pad + 1)},
            message_id="m",
            timestamp="2026-01-01T00:00:00.000Z",
        )


def test_wire_shape_of_every_call() -> None:
    analytics, transport = client()
    context = {"ip": "203.0.113.9"}
    analytics.identify(user_id="u1", traits={"plan": "pro"}, context=context)
    analytics.track(
        user_id=42,
        event="Bought",
        properties={"price": 9.5},
        integrations={"All": False, "Vero": True},
    )
    analytics.page(anonymous_id="a1", category="Docs", name="Intro", properties={"path": "/"})
    analytics.screen(user_id="u1", name="Home")
    analytics.group(user_id="u1", group_id=56, traits={"name": "Initech"})
    analytics.alias(previous_id="a1", user_id="u1")
    assert analytics.flush(5)
    messages = transport.messages()
    assert [m["type"] for m in messages] == [
        "identify",
        "track",
        "page",
        "screen",
        "group",
        "alias",
    ]
    identify, track, page, screen, group, alias = messages
    assert identify["traits"] == {"plan": "pro"} and identify["userId"] == "u1"
    assert identify["context"] == {"ip": "203.0.113.9", "library": dict(wire_library())}
    assert context == {"ip": "203.0.113.9"}, "the caller's context must not be mutated"
    assert track["userId"] == "42" and track["event"] == "Bought"
    assert track["integrations"] == {"All": False, "Vero": True}
    assert page["anonymousId"] == "a1" and "userId" not in page
    assert (page["category"], page["name"], page["properties"]) == ("Docs", "Intro", {"path": "/"})
    assert screen["name"] == "Home" and "category" not in screen
    assert group["groupId"] == "56"
    assert alias == {**alias, "previousId": "a1", "userId": "u1"}
    for message in messages:
        assert uuid.UUID(message["messageId"]).version == 4
        assert message["timestamp"].endswith("Z") and len(message["timestamp"]) == 24
        assert wire.check_message(message) is None
    body = transport.bodies()[0]
    assert list(body) == ["batch", "sentAt", "writeKey"]
    assert body["writeKey"] == "WRITE_KEY"


def wire_library() -> dict[str, str]:
    return {"name": "trackwire", "version": trackwire.__version__}


def test_historical_timestamps_and_message_ids_pass_through() -> None:
    analytics, transport = client()
    naive = datetime(2019, 5, 6, 7, 8, 9, 123456)
    aware = datetime(2019, 5, 6, 9, 8, 9, 500000, tzinfo=timezone(timedelta(hours=2)))
    analytics.track(user_id="u", event="E", timestamp=naive, message_id="id-1")
    analytics.track(user_id="u", event="E", timestamp=aware)
    analytics.track(user_id="u", event="E", timestamp="2019-05-06T07:08:09+00:00")
    analytics.track(user_id="u", event="E", message_id=uuid.UUID(int=7))
    analytics.flush(5)
    first, second, third, fourth = transport.messages()
    assert first["timestamp"] == "2019-05-06T07:08:09.123Z"
    assert first["messageId"] == "id-1"
    assert second["timestamp"] == "2019-05-06T07:08:09.500Z"
    assert third["timestamp"] == "2019-05-06T07:08:09+00:00"
    assert fourth["messageId"] == str(uuid.UUID(int=7))


def test_message_ids_are_unique() -> None:
    analytics, _transport = client(enable=False)
    ids = {analytics.track(user_id="u", event="E").message_id for _ in range(10_000)}
    assert len(ids) == 10_000


def test_enable_false_validates_but_sends_nothing() -> None:
    analytics, transport = client(enable=False)
    receipt = analytics.track(user_id="u", event="E")
    assert receipt.done and not receipt.ok
    assert receipt.error is not None and receipt.error.reason == "disabled"
    with pytest.raises(ValidationError):
        analytics.track(user_id="u")
    assert analytics.flush(1)
    assert transport.requests == []
    assert analytics.stats()["dropped"] == {"disabled": 1}


def test_headers_and_auth() -> None:
    analytics, transport = client(gzip=False)
    analytics.track(user_id="u", event="E")
    analytics.flush(5)
    request = transport.requests[0]
    assert request.url == "https://api.segment.io/v1/batch"
    assert request.headers["Authorization"] == "Basic V1JJVEVfS0VZOg=="
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("trackwire/")
    assert "Content-Encoding" not in request.headers


@pytest.mark.parametrize(
    ("options", "url"),
    [
        ({}, "https://api.segment.io/v1/batch"),
        ({"region": "eu"}, "https://events.eu1.segmentapis.com/v1/batch"),
        ({"region": "US"}, "https://api.segment.io/v1/batch"),
        ({"host": "http://localhost:8787/"}, "http://localhost:8787/v1/batch"),
        (
            {"host": "https://events.eu1.segmentapis.com/v1"},
            "https://events.eu1.segmentapis.com/v1/batch",
        ),
    ],
)
def test_hosts_and_regions(options: dict[str, Any], url: str) -> None:
    analytics, transport = client(**options)
    analytics.track(user_id="u", event="E")
    analytics.flush(5)
    assert transport.requests[0].url == url


@pytest.mark.parametrize(
    "options",
    [
        {"region": "mars"},
        {"host": "api.segment.io"},
        {"host": "https://x", "region": "eu"},
        {"flush_at": 0},
        {"flush_interval": 0},
        {"max_queue_size": -1},
        {"on_full": "explode"},
        {"gzip_level": 10},
        {"workers": 0},
        {"proxies": "socks5://x"},
        {"on_error": "not callable"},
    ],
)
def test_bad_options_raise_config_error(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        trackwire.Segment("KEY", transport=RecordingTransport(), **options)


def test_empty_write_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="write_key"):
        trackwire.Segment("")


def test_middleware_can_change_replace_and_drop() -> None:
    analytics, transport = client(on_middleware_error="skip")
    analytics.add_middleware(lambda m: {**m, "properties": {**m.get("properties", {}), "env": "t"}})
    analytics.add_middleware(lambda m: None if m.get("event") == "Secret" else m)

    def broken(message: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    analytics.add_middleware(broken)
    kept = analytics.track(user_id="u", event="Public")
    dropped = analytics.track(user_id="u", event="Secret")
    analytics.flush(5)
    assert [m["event"] for m in transport.messages()] == ["Public"]
    assert transport.messages()[0]["properties"] == {"env": "t"}
    assert kept.ok
    assert dropped.done and not dropped.ok and dropped.error is not None
    assert dropped.error.reason == "filtered"
    stats = analytics.stats()
    assert stats["dropped"]["filtered"] == 1
    # The dropped message never reached the broken middleware.
    assert stats["middleware_errors"] == 1


def test_middleware_output_is_validated() -> None:
    analytics, _transport = client()
    analytics.add_middleware(lambda m: {k: v for k, v in m.items() if k != "userId"})
    with pytest.raises(ValidationError, match="no_user_anon_id"):
        analytics.track(user_id="u", event="E")


def test_no_log_line_contains_the_write_key(caplog: pytest.LogCaptureFixture) -> None:
    from trackwire._engine.transport import HTTPResult

    secret = "sk_live_SECRET_WRITE_KEY_123"
    transport = RecordingTransport(
        [HTTPResult(status=503), HTTPResult(status=400, body=b'{"message":"bad"}')]
    )
    caplog.set_level("DEBUG", logger="trackwire")
    analytics = trackwire.Segment(
        secret,
        transport=transport,
        debug=True,
        retry=trackwire.RetryConfig(initial_backoff=0.0),
    )
    analytics.track(user_id="u", event="E", properties={"email": "x@example.com"})
    analytics.flush(5)
    analytics.shutdown(1)
    analytics.track(user_id="u", event="late")
    assert caplog.records, "debug logging produced nothing"
    for record in caplog.records:
        text = record.getMessage()
        assert secret not in text
        assert "x@example.com" not in text


def test_a_failing_middleware_drops_its_message_by_default() -> None:
    analytics, transport = client()
    scrubbed: list[str] = []

    def scrub(message: dict[str, Any]) -> dict[str, Any]:
        if message["properties"].get("email"):
            raise KeyError("the scrubber broke")
        scrubbed.append(message["event"])
        return message

    def returns_a_list(message: dict[str, Any]) -> Any:
        return [message] if message["event"] == "List" else message

    analytics.add_middleware(scrub)
    analytics.add_middleware(returns_a_list)
    reports: list[trackwire.BatchReport] = []
    analytics.on("drop", reports.append)
    leaked = analytics.track(user_id="u", event="Signed Up", properties={"email": "a@b.c"})
    listed = analytics.track(user_id="u", event="List")
    fine = analytics.track(user_id="u", event="Fine")
    assert analytics.flush(5)
    assert [m["event"] for m in transport.messages()] == ["Fine"]
    for receipt in (leaked, listed):
        assert receipt.done and not receipt.ok
        assert receipt.error is not None and receipt.error.reason == "middleware_error"
    assert fine.ok
    assert analytics.stats()["dropped"] == {"middleware_error": 2}
    assert [r.reason for r in reports] == ["middleware_error", "middleware_error"]


@pytest.mark.parametrize("count", [0, 1, 2, 5])
def test_the_batch_envelope_holds_every_message_in_order(count: int) -> None:
    import orjson

    messages = [orjson.dumps({"n": n}) for n in range(count)]
    sent_at = "2026-11-22T20:48:06.393Z"
    body = wire.envelope(messages, b'"KEY"', sent_at)
    assert orjson.loads(body) == {
        "batch": [{"n": n} for n in range(count)],
        "sentAt": sent_at,
        "writeKey": "KEY",
    }
    assert len(body) == wire.envelope_overhead(b'"KEY"') + sum(map(len, messages)) + max(
        0, count - 1
    )
    assert messages == [orjson.dumps({"n": n}) for n in range(count)]  # not changed in place
