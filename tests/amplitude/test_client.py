"""The Amplitude client's calls, options and delivery, through a recording transport."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import trackwire
from trackwire._engine.transport import HTTPResult
from trackwire.amplitude import BaseEvent, EventOptions, Identify, Revenue, answers, wire
from trackwire.testing import RecordingTransport

KEY = "unit-key"
OK = HTTPResult(status=200, body=orjson.dumps(answers.success_body(1, 1, 1)))


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport(default=OK)


@pytest.fixture
def amp(transport: RecordingTransport) -> Iterator[trackwire.Amplitude]:
    client = trackwire.Amplitude(
        KEY, transport=transport, upload_interval=60, send_first_immediately=False
    )
    yield client
    client.shutdown()


def sent(transport: RecordingTransport) -> list[dict[str, Any]]:
    """Every event of every request, in order."""
    return [e for r in transport.requests for e in orjson.loads(r.body)["events"]]


def test_events_are_filled_like_the_official_sdk(
    amp: trackwire.Amplitude, transport: RecordingTransport
) -> None:
    receipts = amp.track(
        [{"event_type": "a", "user_id": "user-1"}, BaseEvent("b", device_id="dev-1")]
    )
    assert amp.flush(timeout=10)
    events = sent(transport)
    assert [e["event_type"] for e in events] == ["a", "b"]
    assert [e["insert_id"] for e in events] == [r.message_id for r in receipts]
    assert len({e["insert_id"] for e in events}) == 2
    assert all(isinstance(e["time"], int) and e["time"] > 1_700_000_000_000 for e in events)
    assert {e["library"] for e in events} == {f"trackwire/{trackwire.__version__}"}
    assert transport.requests[0].headers["Content-Type"] == "application/json"


def test_given_time_and_insert_id_are_kept(
    amp: trackwire.Amplitude, transport: RecordingTransport
) -> None:
    amp.track(BaseEvent("a", user_id="user-1", time=1_600_000_000_000, insert_id="my-id-1"))
    assert amp.flush(timeout=10)
    event = sent(transport)[0]
    assert (event["time"], event["insert_id"]) == (1_600_000_000_000, "my-id-1")


IDENTIFIES: list[tuple[str, Any, dict[str, Any]]] = [
    (
        "builder and EventOptions",
        lambda a: a.identify(Identify().set("plan", "pro"), EventOptions(user_id="user-1")),
        {"user_id": "user-1", "user_properties": {"$set": {"plan": "pro"}}},
    ),
    (
        "builder and keywords",
        lambda a: a.identify(Identify().add("n", 1), user_id="user-1", device_id="dev-12"),
        {"user_id": "user-1", "device_id": "dev-12", "user_properties": {"$add": {"n": 1}}},
    ),
    (
        "community keywords",
        lambda a: a.identify(user_id="user-1", user_properties={"plan": "pro"}),
        {"user_id": "user-1", "user_properties": {"plan": "pro"}},
    ),
    (
        "community dict in camelCase",
        lambda a: a.identify({"userId": "user-1", "userProperties": {"$set": {"a": 1}}}),
        {"user_id": "user-1", "user_properties": {"$set": {"a": 1}}},
    ),
    (
        "set_group",
        lambda a: a.set_group("org", ["acme", "beta"], user_id="user-1"),
        {
            "user_id": "user-1",
            "groups": {"org": ["acme", "beta"]},
            "user_properties": {"$set": {"org": ["acme", "beta"]}},
        },
    ),
]


@pytest.mark.parametrize(
    ("call", "expected"), [c[1:] for c in IDENTIFIES], ids=[c[0] for c in IDENTIFIES]
)
def test_identify_shapes(
    amp: trackwire.Amplitude, transport: RecordingTransport, call: Any, expected: dict[str, Any]
) -> None:
    call(amp)
    assert amp.flush(timeout=10)
    event = sent(transport)[0]
    assert event["event_type"] == "$identify"
    assert {key: event[key] for key in expected} == expected


def test_identify_list_gives_a_receipt_each(
    amp: trackwire.Amplitude, transport: RecordingTransport
) -> None:
    receipts = amp.identify(
        [
            {"user_id": "user-1", "user_properties": {"a": 1}},
            {"user_id": "user-2", "user_properties": {"b": 2}},
        ]
    )
    assert amp.flush(timeout=10) and all(r.ok for r in receipts)
    assert [e["user_id"] for e in sent(transport)] == ["user-1", "user-2"]


IDENTIFY_ERRORS: list[tuple[str, Any, str]] = [
    ("empty builder", lambda a: a.identify(Identify(), user_id="user-1"), "holds no operation"),
    ("no properties", lambda a: a.identify(user_id="user-1"), "needs properties"),
    (
        "mixed operations",
        lambda a: a.identify(user_id="user-1", user_properties={"$add": {"n": 1}, "plan": "pro"}),
        "move plain properties inside \\$set",
    ),
    ("no id", lambda a: a.identify(Identify().set("a", 1)), "user_id or a device_id"),
    ("bad type", lambda a: a.identify(42), "must be an Identify"),
    (
        "group op refused",
        lambda a: a.group_identify("org", "acme", Identify().remove("k", 1)),
        "group properties support only",
    ),
    ("empty group name", lambda a: a.set_group("org", "", user_id="user-1"), "group_name"),
    ("revenue type", lambda a: a.revenue({"price": 1}, user_id="user-1"), "must be a Revenue"),
]


@pytest.mark.parametrize(
    ("call", "text"), [c[1:] for c in IDENTIFY_ERRORS], ids=[c[0] for c in IDENTIFY_ERRORS]
)
def test_call_errors_are_raised_at_the_call_site(
    amp: trackwire.Amplitude, transport: RecordingTransport, call: Any, text: str
) -> None:
    with pytest.raises(trackwire.ValidationError, match=text):
        call(amp)
    assert amp.flush(timeout=10)
    assert transport.requests == []


def test_group_identify_and_revenue_events(
    amp: trackwire.Amplitude, transport: RecordingTransport
) -> None:
    amp.group_identify("org", "acme", Identify().set("seats", 5))
    amp.revenue(Revenue(price=3, quantity=2, revenue_type="sale"), EventOptions(user_id="user-1"))
    assert amp.flush(timeout=10)
    group, revenue = sent(transport)
    assert group["event_type"] == "$groupidentify"
    assert (group["groups"], group["group_properties"]) == ({"org": "acme"}, {"$set": {"seats": 5}})
    assert len(group["device_id"]) == 36  # a throw-away id, as the SDKs send
    assert revenue["event_type"] == "revenue_amount"
    assert revenue["event_properties"] == {"$price": 3, "$quantity": 2, "$revenueType": "sale"}


def test_default_ids_and_their_override(transport: RecordingTransport) -> None:
    with trackwire.Amplitude(
        KEY, transport=transport, user_id="default-user", device_id="default-dev", session_id=42
    ) as amp:
        amp.track({"event_type": "a"})
        amp.track({"event_type": "b", "user_id": "own-user"})
        assert amp.flush(timeout=10)
    first, second = sent(transport)
    assert (first["user_id"], first["device_id"], first["session_id"]) == (
        "default-user",
        "default-dev",
        42,
    )
    assert (second["user_id"], second["device_id"]) == ("own-user", "default-dev")


def test_batches_stay_under_2000_events(transport: RecordingTransport) -> None:
    with trackwire.Amplitude(
        KEY, transport=transport, upload_interval=60, send_first_immediately=False
    ) as amp:
        for i in range(2_500):
            amp.track({"event_type": "e", "user_id": f"user-{i}"})
        assert amp.flush(timeout=30)
    sizes = [len(orjson.loads(r.body)["events"]) for r in transport.requests]
    assert sum(sizes) == 2_500 and max(sizes) < wire.MAX_EVENTS_PER_REQUEST


def test_a_2xx_without_amplitudes_body_is_sent_again() -> None:
    transport = RecordingTransport([HTTPResult(status=200, body=b'{"success":true}')], default=OK)
    with trackwire.Amplitude(KEY, transport=transport, retry_timeouts=[1]) as amp:
        receipt = amp.track({"event_type": "a", "user_id": "user-1"})
        assert amp.flush(timeout=10)
    assert receipt.ok and len(transport.requests) == 2


def test_callback_gets_event_code_and_message() -> None:
    rejected = HTTPResult(status=400, body=orjson.dumps(answers.invalid_api_key_body(KEY)))
    transport = RecordingTransport(default=rejected)
    calls: list[tuple[Any, int, str | None]] = []
    event = BaseEvent("a", user_id="user-1", callback=lambda e, c, m: calls.append((e, c, m)))
    with trackwire.Amplitude(KEY, transport=transport) as amp:
        receipt = amp.track(event)
        amp.flush(timeout=10)
    assert receipt.error is not None and receipt.error.reason == "rejected"
    assert len(calls) == 1 and calls[0][0] is event and calls[0][1] == 400
    assert calls[0][2] is not None and "Invalid API key" in calls[0][2]


def test_plugin_setup_and_failure(amp: trackwire.Amplitude) -> None:
    class Broken:
        ready = False

        def setup(self, client: Any) -> None:
            self.ready = client is amp

        def execute(self, event: BaseEvent) -> BaseEvent | None:
            raise ValueError("bug")

    plugin = Broken()
    amp.add(plugin)
    assert plugin.ready
    receipt = amp.track({"event_type": "a", "user_id": "user-1"})
    assert receipt.error is not None and receipt.error.reason == "middleware_error"
    amp.remove(plugin)
    with pytest.raises(trackwire.ConfigError, match="execute"):
        amp.add(object())  # type: ignore[arg-type]


def test_log_level_sets_the_amplitude_logger(transport: RecordingTransport) -> None:
    logger = logging.getLogger("trackwire.amplitude")
    before = logger.level
    try:
        trackwire.Amplitude(KEY, transport=transport, log_level="error").shutdown()
        assert logger.level == logging.ERROR
    finally:
        logger.setLevel(before)


def test_empty_retry_timeouts_means_no_retry() -> None:
    transport = RecordingTransport(default=HTTPResult(status=503, body=b"{}"))
    with trackwire.Amplitude(KEY, transport=transport, retry_timeouts=[]) as amp:
        receipt = amp.track({"event_type": "a", "user_id": "user-1"})
        amp.flush(timeout=10)
    assert receipt.error is not None and len(transport.requests) == 1


# --- the one chain: plugins, event middleware, shared middleware ---------------------------------


def _collect(calls: list[tuple[Any, int, str | None]]) -> Any:
    def callback(event: Any, code: int, message: str | None) -> None:
        calls.append((event, code, message))

    return callback


def test_the_per_call_callback_fires_when_middleware_drops_or_fails_the_event(
    amp: trackwire.Amplitude, transport: RecordingTransport
) -> None:
    def drop_b(payload: Any, next: Any) -> None:
        if payload.event["event_type"] != "b":
            next(payload)

    def fail_c(event: dict[str, Any]) -> dict[str, Any]:
        if event["event_type"] == "c":
            raise RuntimeError("bug")
        return event

    amp.add_event_middleware(drop_b)
    amp.add_middleware(fail_c)
    calls: list[tuple[Any, int, str | None]] = []
    for name in ("b", "c"):
        receipt = amp.track({"event_type": name, "user_id": "user-1"}, callback=_collect(calls))
        assert receipt.done and not receipt.ok
    assert [(event["event_type"], code) for event, code, _ in calls] == [("b", 0), ("c", 0)]
    assert "filtered" in str(calls[0][2]) and "middleware_error" in str(calls[1][2])
    assert amp.stats()["dropped"] == {"filtered": 1, "middleware_error": 1}
    assert amp.flush(timeout=10) and transport.requests == []


def test_the_chain_runs_plugins_then_event_middleware_then_shared_middleware(
    amp: trackwire.Amplitude, transport: RecordingTransport
) -> None:
    order: list[str] = []

    class Tag:
        def execute(self, event: BaseEvent) -> BaseEvent:
            order.append("plugin")
            event.event_properties = {"by": ["plugin"]}
            return event

    def event_middleware(payload: Any, next: Any) -> None:
        order.append("event middleware")
        payload.event["event_properties"]["by"].append("event middleware")
        next(payload)

    def shared(event: dict[str, Any]) -> dict[str, Any]:
        order.append("middleware")
        event["event_properties"]["by"].append("middleware")
        return event

    amp.add_middleware(shared)
    amp.add_event_middleware(event_middleware)
    amp.add(Tag())
    source = {"event_type": "a", "user_id": "user-1"}
    amp.track(source)
    assert amp.flush(timeout=10)
    assert order == ["plugin", "event middleware", "middleware"]
    (event,) = sent(transport)
    assert event["event_properties"] == {"by": ["plugin", "event middleware", "middleware"]}
    assert source == {"event_type": "a", "user_id": "user-1"}  # the caller's dict untouched


def test_the_event_is_checked_after_the_last_middleware(
    amp: trackwire.Amplitude, transport: RecordingTransport
) -> None:
    amp.add_middleware(lambda event: {**event, "time": "now"})
    with pytest.raises(trackwire.ValidationError) as raised:
        amp.track({"event_type": "a", "user_id": "user-1"})
    assert raised.value.field == "time"


def test_a_plugin_is_given_an_event_object_only_when_installed(
    amp: trackwire.Amplitude, transport: RecordingTransport
) -> None:
    seen: list[Any] = []

    class Spy:
        def execute(self, event: BaseEvent) -> BaseEvent:
            seen.append(event)
            return event

    amp.track({"event_type": "a", "user_id": "user-1", "productId": "p-1"})
    amp.add(Spy())
    amp.track({"event_type": "b", "user_id": "user-1", "productId": "p-2"})
    assert amp.flush(timeout=10)
    assert [type(event) for event in seen] == [BaseEvent]
    assert seen[0].product_id == "p-2"
    assert [event.get("productId") for event in sent(transport)] == ["p-1", "p-2"]


# --- ids and keys, refused or removed on the client side --------------------------------------


def test_a_short_device_id_is_removed_and_a_blocked_one_refused(
    amp: trackwire.Amplitude, transport: RecordingTransport, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="trackwire"):
        amp.track({"event_type": "a", "user_id": "user-1", "device_id": "abc"})
    assert "device_id shorter than min_id_length=5 removed" in caplog.text
    with pytest.raises(trackwire.ValidationError) as raised:
        amp.track({"event_type": "a", "user_id": "user-1", "device_id": "Undefined"})
    assert raised.value.field == "device_id" and "refuses" in str(raised.value)
    assert amp.flush(timeout=10)
    (event,) = sent(transport)
    assert "device_id" not in event and event["user_id"] == "user-1"


def test_an_unknown_key_of_a_dict_event_is_named(amp: trackwire.Amplitude) -> None:
    with pytest.raises(trackwire.ValidationError) as raised:
        amp.track({"event_type": "a", "user_id": "user-1", "evnt_properties": {"k": 1}})
    assert raised.value.field == "evnt_properties"
    assert "did you mean 'event_properties'?" in str(raised.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"server_url": "http://127.0.0.1:9"}, "http://127.0.0.1:9/2/httpapi"),
        ({"server_url": "http://127.0.0.1:9/"}, "http://127.0.0.1:9/2/httpapi"),
        ({"server_url": "http://127.0.0.1:9", "use_batch": True}, "http://127.0.0.1:9/batch"),
        ({"server_url": "http://127.0.0.1:9/proxy"}, "http://127.0.0.1:9/proxy"),
    ],
)
def test_a_server_url_without_a_path_gets_the_endpoint_path(
    transport: RecordingTransport, given: dict[str, Any], expected: str
) -> None:
    with trackwire.Amplitude(KEY, transport=transport, **given) as amp:
        assert amp.server_url == expected
        amp.track({"event_type": "a", "user_id": "user-1"})
        assert amp.flush(timeout=10)
    assert [request.url for request in transport.requests] == [expected]


def test_identify_api_lane_shares_flush_stats_and_shutdown() -> None:
    transport = RecordingTransport(default=OK)
    amp = trackwire.Amplitude(KEY, transport=transport, use_identify_api=True)
    amp.track({"event_type": "a", "user_id": "user-1"})
    receipt = amp.identify(user_id="user-1", user_properties={"plan": "pro"})
    assert amp.flush(timeout=10) and receipt.ok
    assert sorted(request.url.rsplit("/", 1)[1] for request in transport.requests) == [
        "httpapi",
        "identify",
    ]
    assert amp.stats()["delivered"] == 1 and amp.stats()["identify"]["delivered"] == 1
    assert amp.shutdown(timeout=10)
    late = amp.identify(user_id="user-1", user_properties={"plan": "pro"})
    assert late.error is not None and late.error.reason == "after_close"
