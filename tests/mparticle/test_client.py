"""trackwire.MParticle: options, the call site's checks, and what it queues (scripted transport)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

import trackwire
from trackwire._engine.retry import Delivered, Rejected, Retry
from trackwire.errors import ConfigError, MessageTooLargeError, ValidationError
from trackwire.mparticle import AppEvent, Batch, UserIdentities
from trackwire.mparticle.client import bulk_envelope, bulk_outcome
from trackwire.testing import HTTPResult, RecordingTransport


def make(**options: Any) -> tuple[trackwire.MParticle, RecordingTransport]:
    transport = RecordingTransport(default=HTTPResult(status=202))
    options.setdefault("environment", "development")
    client = trackwire.MParticle("KEY", "SECRET", transport=transport, **options)
    return client, transport


def batch(user: str = "u-1", **kwargs: Any) -> Batch:
    return Batch(
        user_identities=UserIdentities(customer_id=user), events=[AppEvent("Hi", **kwargs)]
    )


def test_defaults_suit_mparticle() -> None:
    client, _ = make()
    assert client.config.gzip is False
    assert client.config.flush_at == 100
    assert client.host == "https://s2s.mparticle.com"
    assert trackwire.MParticle("k", "s", pod="AU1").host == "https://s2s.au1.mparticle.com"
    assert "SECRET" not in repr(client)


@pytest.mark.parametrize(
    ("args", "options", "text"),
    [
        (("", "s"), {}, "api_key must be a non-empty str"),
        (("k", ""), {}, "api_secret must be a non-empty str"),
        (("k", "s"), {"environment": "prod"}, "environment must be production or development"),
        (("k", "s"), {"pod": "eu2"}, "pod must be one of"),
        (("k", "s"), {"flush_att": 5}, "did you mean 'flush_at'"),
        (("k", "s"), {"host": "ftp://x"}, "http:// or https://"),
    ],
)
def test_option_errors(args: tuple[str, str], options: dict[str, Any], text: str) -> None:
    with pytest.raises(ConfigError, match=text):
        trackwire.MParticle(*args, **options)


def test_upload_queues_the_built_batch_with_fixed_ids() -> None:
    client, transport = make()
    receipt = client.upload(batch())
    assert client.flush(timeout=5) and receipt.ok
    (request,) = transport.requests
    assert request.url == "https://s2s.mparticle.com/v2/bulkevents"
    assert "Content-Encoding" not in request.headers
    (sent,) = orjson.loads(request.body)
    assert sent["environment"] == "development"
    assert sent["source_request_id"] == receipt.message_id
    assert sent["events"][0]["data"]["source_message_id"]
    client.shutdown()


def test_the_call_site_gets_validation_errors() -> None:
    client, transport = make(environment=None)
    with pytest.raises(ValidationError) as caught:
        client.upload(batch())
    assert caught.value.field == "environment"
    with pytest.raises(ValidationError, match="custom_event_type"):
        client.upload(
            Batch("production", UserIdentities(email="a@x.io"), events=[AppEvent("x", "bogus")])
        )
    with pytest.raises(MessageTooLargeError):
        big = Batch("production", UserIdentities(email="a@x.io"))
        for _ in range(40):
            big.add_event(AppEvent("x", custom_attributes={"a": "v" * 4000}))
        client.upload(big)
    client.shutdown()
    assert transport.requests == []


def test_middleware_sees_the_batch_and_is_rechecked() -> None:
    seen: list[dict[str, Any]] = []

    def tag(message: dict[str, Any]) -> dict[str, Any]:
        seen.append(message)
        return {**message, "user_attributes": {"tagged": "yes"}}

    client, transport = make(middleware=[tag])
    client.upload(batch())
    client.add_middleware(lambda message: {**message, "environment": "staging"})
    with pytest.raises(ValidationError, match="environment"):
        client.upload(batch())
    client.flush(timeout=5)
    assert seen[0]["user_identities"] == {"customer_id": "u-1"}
    (sent,) = orjson.loads(transport.requests[0].body)
    assert sent["user_attributes"] == {"tagged": "yes"}
    client.shutdown()


def test_disabled_client_checks_but_sends_nothing() -> None:
    client, transport = make(enable=False)
    receipt = client.upload(batch())
    assert receipt.done and not receipt.ok
    with pytest.raises(ValidationError):
        client.upload(Batch("development"))
    client.shutdown()
    assert transport.requests == []


def test_bulk_envelope_and_outcome() -> None:
    assert bulk_envelope([b'{"a":1}', b'{"b":2}']) == b'[{"a":1},{"b":2}]'
    assert orjson.loads(bulk_envelope([b"{}"])) == [{}]
    two = [b"{}", b"{}"]
    assert bulk_outcome(HTTPResult(status=202), two) == Delivered()
    assert bulk_outcome(HTTPResult(status=403), two) == Rejected(
        reason="HTTP 403: check the API key and secret", status=403
    )
    assert bulk_outcome(HTTPResult(status=429, headers={"retry-after": "3"}), two) == Retry(
        reason="HTTP 429", after=3.0, status=429
    )


def test_old_batches_take_the_historical_route_until_shutdown() -> None:
    client, transport = make()
    old = int((time.time() - 40 * 86400) * 1000)
    receipt = client.upload(batch(timestamp_unixtime_ms=old))
    hooks: list[str] = []
    client.on("flush", lambda report: hooks.append("flush"))
    assert client.flush(timeout=5) and receipt.ok
    assert [r.url for r in transport.requests] == [
        "https://s2s.mparticle.com/v2/bulkevents/historical"
    ]
    assert client.stats()["historical"]["delivered"] == 1
    client.upload(batch(timestamp_unixtime_ms=old))
    assert client.flush(timeout=5) and hooks == ["flush"]
    client.shutdown()
    late = client.upload(batch(timestamp_unixtime_ms=old))
    assert late.done and late.error is not None and late.error.reason == "after_close"


def test_a_batch_is_checked_once_after_the_last_middleware() -> None:
    def name_the_user(built: dict[str, Any]) -> dict[str, Any]:
        built["user_identities"] = {"customer_id": "from-middleware"}
        return built

    client, transport = make(middleware=[name_the_user])
    anonymous = Batch(events=[AppEvent("Hi")])  # no user: refused without the middleware
    receipt = client.upload(anonymous)
    assert client.flush(timeout=5) and receipt.ok
    (sent,) = orjson.loads(transport.requests[0].body)
    assert sent["user_identities"] == {"customer_id": "from-middleware"}

    def break_it(built: dict[str, Any]) -> dict[str, Any]:
        built["environment"] = "staging"
        return built

    client.add_middleware(break_it)
    with pytest.raises(ValidationError, match="environment"):
        client.upload(batch())
    plain, _ = make()
    with pytest.raises(ValidationError):
        plain.upload(anonymous)
    client.shutdown()
    plain.shutdown()
