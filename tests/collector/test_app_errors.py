"""Every vendor's error paths answer the documented status and body, and store nothing."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from tests.collector.conftest import Client, basic

SEGMENT = ("/v1/batch", {"Authorization": basic("wk")})
AMPLITUDE = ("/2/httpapi", {})
MPARTICLE = ("/v2/events", {"Authorization": basic("mp-key", "mp-secret")})

VALID = {
    "/v1/batch": {"batch": [{"type": "track", "userId": "u", "event": "E"}]},
    "/2/httpapi": {"api_key": "k", "events": [{"event_type": "E", "user_id": "user-1"}]},
    "/v2/events": {"environment": "development", "events": []},
}


def _error_text(path: str, answer: Any) -> str:
    """The human message of a vendor-styled error body."""
    body = answer.json()
    if path.startswith("/v1/"):
        assert body["success"] is False
        assert isinstance(body["code"], str)
        return str(body["message"])
    if path.startswith("/v2/"):
        return str(body["errors"][0]["message"])
    assert body["code"] == answer.status
    return str(body["error"])


@pytest.mark.parametrize(("path", "headers"), [SEGMENT, AMPLITUDE, MPARTICLE])
def test_malformed_json_is_400(client: Client, path: str, headers: dict[str, str]) -> None:
    answer = client.post(path, b'{"batch": [', headers=headers)

    assert answer.status == 400
    assert "JSON" in _error_text(path, answer)
    assert client.events() == []


@pytest.mark.parametrize(("path", "headers"), [SEGMENT, AMPLITUDE, MPARTICLE])
@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_wrong_or_missing_content_type_is_400(
    client: Client, path: str, headers: dict[str, str], content_type: str | None
) -> None:
    answer = client.post(path, VALID[path], headers=headers, content_type=content_type)

    assert answer.status == 400
    assert "Content-Type must be application/json" in _error_text(path, answer)
    assert client.events() == []


def test_missing_segment_write_key_is_401(client: Client) -> None:
    answer = client.post("/v1/batch", VALID["/v1/batch"])

    assert answer.status == 401
    assert answer.json()["code"] == "missing_write_key"
    assert client.events() == []


def test_missing_amplitude_api_key_is_400_missing_field(client: Client) -> None:
    answer = client.post("/2/httpapi", {"events": VALID["/2/httpapi"]["events"]})

    assert answer.status == 400
    assert answer.json()["missing_field"] == "api_key"


def test_missing_mparticle_credentials_are_401(client: Client) -> None:
    answer = client.post("/v2/events", VALID["/v2/events"])

    assert answer.status == 401
    assert client.events() == []


@pytest.mark.parametrize(("path", "headers"), [SEGMENT, AMPLITUDE, MPARTICLE])
def test_unknown_content_encoding_is_400(
    client: Client, path: str, headers: dict[str, str]
) -> None:
    answer = client.post(path, VALID[path], headers={**headers, "Content-Encoding": "br"})

    assert answer.status == 400
    assert "Content-Encoding 'br' is not supported" in _error_text(path, answer)
    assert client.events() == []


@pytest.mark.parametrize(("path", "headers"), [SEGMENT, AMPLITUDE, MPARTICLE])
def test_corrupt_or_truncated_gzip_is_400(
    client: Client, path: str, headers: dict[str, str]
) -> None:
    truncated = gzip.compress(b'{"batch": []}' * 100)[:-12]

    corrupt = client.post(path, b"not gzip at all", headers={**headers, "Content-Encoding": "gzip"})
    cut = client.post(path, truncated, headers={**headers, "Content-Encoding": "gzip"})

    assert corrupt.status == cut.status == 400
    assert "cannot be decompressed" in _error_text(path, corrupt)
    assert "truncated" in _error_text(path, cut)
    assert client.events() == []


@pytest.mark.parametrize(
    ("path", "headers", "status"), [(*SEGMENT, 400), (*AMPLITUDE, 413), (*MPARTICLE, 413)]
)
def test_gzip_bombs_are_refused_on_every_vendor(
    client: Client, path: str, headers: dict[str, str], status: int
) -> None:
    bomb = gzip.compress(b"[" * 30_000_000)

    answer = client.post(path, bomb, headers={**headers, "Content-Encoding": "gzip"})

    assert answer.status == status
    if path == "/2/httpapi":
        # Amplitude's documented 413 body, exactly.
        assert answer.json() == {"code": 413, "error": "Payload too large"}
    else:
        assert "decompressed body is larger" in _error_text(path, answer)
    assert client.events() == []


def test_a_declared_length_far_over_the_cap_is_refused_and_closed(client: Client) -> None:
    import socket

    host, port = client.collector.host, client.collector.port
    request = (
        b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 900000000\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk

    assert reply.startswith(b"HTTP/1.1 400")
    assert b"connection: close" in reply.lower()
    assert b"payload_too_large" in reply


def test_wrong_method_and_unknown_path(client: Client) -> None:
    assert client.get("/v1/batch").status == 405
    assert client.post("/v3/nothing", {}).status == 404


@pytest.mark.parametrize(
    "query", [{"limit": "0"}, {"limit": "many"}, {"limit": "5000"}, {"before": "-1"}]
)
def test_events_rejects_bad_query_parameters(client: Client, query: dict[str, str]) -> None:
    answer = client.get("/events", **query)

    assert answer.status == 400
    assert answer.json()["error"]


def test_health_and_stats(client: Client) -> None:
    health = client.get("/health").json()
    client.post("/v1/batch", b"{", headers={"Authorization": basic("wk")})

    assert health["ok"] is True
    assert health["mode"] == "development"
    assert health["db"].endswith("collector.db")
    assert health["version"]
    stats = client.stats()
    assert stats["requests"]["segment"] == {"400": 1}
    assert stats["faults"] == {}


def test_faults_admin_endpoint_is_absent_with_a_keys_file(keyed_client: Client) -> None:
    assert keyed_client.get("/_faults").status == 404
    assert keyed_client.get("/health").json()["mode"] == "keys"
