"""EventsApi: the request it sends, and what each response becomes (scripted transport)."""

# Tables of cases read best one case per line.
# ruff: noqa: E501

from __future__ import annotations

import base64
import logging
import time
from typing import Any

import orjson
import pytest

from trackwire.config import RetryConfig
from trackwire.errors import ConfigError, ValidationError
from trackwire.mparticle import (
    ApiException,
    AppEvent,
    AuthenticationError,
    Batch,
    Configuration,
    EventsApi,
    UserIdentities,
)
from trackwire.testing import HTTPResult, RecordingTransport

NO_WAIT = RetryConfig(max_retries=2, initial_backoff=0.0, max_backoff=0.0, max_retry_after=0.0)
ACCEPTED = HTTPResult(status=202)


def api(*responses: HTTPResult, **options: Any) -> tuple[EventsApi, RecordingTransport]:
    transport = RecordingTransport(responses, default=ACCEPTED)
    config = Configuration("KEY", "SECRET", retry=NO_WAIT, **options)
    return EventsApi(config, transport=transport), transport


def batch(name: str = "Hello World", **kwargs: Any) -> Batch:
    return Batch(
        "development",
        UserIdentities(customerid="123456"),
        events=[AppEvent(name, "navigation", **kwargs)],
    )


def test_upload_events_posts_one_batch_with_basic_auth() -> None:
    events_api, transport = api()
    result = events_api.upload_events(batch())
    assert result is not None and result.status == 202
    (request,) = transport.requests
    assert request.method == "POST"
    assert request.url == "https://s2s.mparticle.com/v2/events"
    token = base64.b64encode(b"KEY:SECRET").decode()
    assert request.headers["Authorization"] == f"Basic {token}"
    assert request.headers["Content-Type"] == "application/json"
    body = orjson.loads(request.body)
    assert body["user_identities"] == {"customer_id": "123456"}
    assert body["events"][0]["event_type"] == "custom_event"
    assert body["source_request_id"] and body["events"][0]["data"]["source_message_id"]


def test_bulk_upload_posts_an_array() -> None:
    events_api, transport = api(pod="eu1")
    events_api.bulk_upload_events([batch("a"), batch("b")])
    (request,) = transport.requests
    assert request.url == "https://s2s.eu1.mparticle.com/v2/bulkevents"
    names = [b["events"][0]["data"]["event_name"] for b in orjson.loads(request.body)]
    assert names == ["a", "b"]


def test_old_events_go_to_the_historical_endpoint() -> None:
    events_api, transport = api(host="http://127.0.0.1:9/v2")
    old = int((time.time() - 40 * 86400) * 1000)
    events_api.upload_events(batch(timestamp_unixtime_ms=old))
    (request,) = transport.requests
    assert request.url == "http://127.0.0.1:9/v2/bulkevents/historical"
    assert isinstance(orjson.loads(request.body), list)
    with pytest.raises(ValidationError, match=r"old .* and recent"):
        events_api.bulk_upload_events([batch(timestamp_unixtime_ms=old), batch()])


def test_retries_keep_the_source_request_id() -> None:
    events_api, transport = api(HTTPResult(status=None, error="timeout"), HTTPResult(status=503))
    events_api.upload_events(batch())
    assert len(transport.requests) == 3
    ids = {orjson.loads(r.body)["source_request_id"] for r in transport.requests}
    assert len(ids) == 1
    assert [r.headers.get("X-Retry-Count") for r in transport.requests] == [None, "1", "2"]


RESPONSES: list[tuple[str, list[HTTPResult], type[Exception] | None, str, int]] = [
    ("202", [ACCEPTED], None, "", 1),
    ("400 with reason", [HTTPResult(status=400, body=b'{"errors":[{"code":"BAD_REQUEST","message":"Required event field \\"event_type\\" is missing or empty."}]}')],
     ApiException, 'rejected: HTTP 400: Required event field "event_type" is missing', 1),
    ("401", [HTTPResult(status=401)], AuthenticationError, "check the API key and secret", 1),
    ("403", [HTTPResult(status=403)], AuthenticationError, "check the API key and secret", 1),
    ("429 then ok", [HTTPResult(status=429, headers={"retry-after": "0"}), ACCEPTED], None, "", 2),
    ("500s exhausted", [HTTPResult(status=500)] * 3, ApiException, "retry_exhausted: HTTP 500", 3),
    ("network exhausted", [HTTPResult(status=None, error="connection: refused")] * 3,
     ApiException, "retry_exhausted: connection: refused", 3),
]  # fmt: skip


@pytest.mark.parametrize(
    ("script", "error", "text", "attempts"),
    [c[1:] for c in RESPONSES],
    ids=[c[0] for c in RESPONSES],
)
def test_response_table(
    script: list[HTTPResult], error: type[Exception] | None, text: str, attempts: int
) -> None:
    events_api, transport = api(*script)
    if error is None:
        assert events_api.upload_events(batch()) is not None
    else:
        with pytest.raises(error) as caught:
            events_api.upload_events(batch())
        assert text in str(caught.value)
    assert len(transport.requests) == attempts


def test_callback_gets_error_data_and_response() -> None:
    calls: list[tuple[Any, Any, Any]] = []
    events_api, _ = api(
        HTTPResult(status=400, body=b'{"errors":[{"code":"BAD_REQUEST","message":"no"}]}')
    )
    assert events_api.upload_events(batch(), lambda *args: calls.append(args)) is None
    error, data, response = calls[0]
    assert isinstance(error, ApiException) and error.status == 400 and error.reason == "rejected"
    assert data == {"errors": [{"code": "BAD_REQUEST", "message": "no"}]}
    assert response.status == 400
    events_api.bulk_upload_events([batch()], callback=lambda *args: calls.append(args))
    assert calls[1][0] is None and calls[1][1] is None and calls[1][2].status == 202


def test_a_413_splits_a_bulk_request() -> None:
    events_api, transport = api(HTTPResult(status=413))
    events_api.bulk_upload_events([batch("a"), batch("b"), batch("c")])
    sizes = [len(orjson.loads(r.body)) for r in transport.requests]
    assert sizes == [3, 1, 2]


def test_bad_uploads_are_refused_before_sending() -> None:
    events_api, transport = api()
    with pytest.raises(ValidationError) as caught:
        events_api.bulk_upload_events([batch(), Batch("development")])
    assert caught.value.field == "[1].user_identities"
    with pytest.raises(ValidationError, match="1 to 100"):
        events_api.bulk_upload_events([batch()] * 101)
    with pytest.raises(ValidationError, match="list of batches"):
        events_api.bulk_upload_events(batch())  # type: ignore[arg-type]
    big = [batch(custom_attributes={"a": "v" * 4000, "b": "w" * 4000}) for _ in range(40)]
    with pytest.raises(ValidationError, match="over mParticle's 256000"):
        events_api.bulk_upload_events(big)
    assert transport.requests == []


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"api_key": ""}, "api_key and api_secret"),
        ({"pod": "mars"}, "pod must be one of us1, us2, eu1, au1"),
        ({"host": "s2s.mparticle.com"}, "http:// or https://"),
        ({"host": "https://x", "pod": "eu1"}, "host or pod"),
    ],
)
def test_configuration_errors(options: dict[str, Any], text: str) -> None:
    config = Configuration("KEY", "SECRET")
    for name, value in options.items():
        setattr(config, name, value)
    with pytest.raises(ConfigError, match=text):
        EventsApi(config, transport=RecordingTransport())


def test_debug_never_logs_the_key_or_secret(caplog: pytest.LogCaptureFixture) -> None:
    events_api, _ = api(HTTPResult(status=503), debug=True)
    with caplog.at_level(logging.DEBUG, logger="trackwire"):
        events_api.upload_events(batch())
    text = caplog.text + repr(events_api.configuration)
    assert "mparticle POST /v2/events" in caplog.text
    token = base64.b64encode(b"KEY:SECRET").decode()
    for secret in ("KEY", "SECRET", token):
        assert secret not in text


def test_a_long_retry_after_is_handed_to_the_caller() -> None:
    transport = RecordingTransport([HTTPResult(status=429, headers={"retry-after": "120"})])
    events_api = EventsApi(Configuration("KEY", "SECRET"), transport=transport)
    with pytest.raises(ApiException) as caught:
        events_api.upload_events(batch())
    assert caught.value.retry_after == 120.0 and caught.value.status == 429
    assert "Retry-After 120 s is over 30 s" in str(caught.value)
    assert len(transport.requests) == 1
