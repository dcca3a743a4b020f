"""RecordingTransport works for every vendor's body shape."""

from __future__ import annotations

import gzip

import orjson

from trackwire.testing import HTTPRequest, HTTPResult, RecordingTransport


def post(transport: RecordingTransport, body: bytes, **headers: str) -> HTTPResult:
    return transport.send(HTTPRequest("POST", "http://x/", headers, body))


def test_messages_reads_segment_amplitude_mparticle_and_form_bodies() -> None:
    transport = RecordingTransport([HTTPResult(503)])
    assert post(transport, orjson.dumps({"batch": [{"a": 1}]})).status == 503
    assert post(transport, orjson.dumps({"api_key": "k", "events": [{"b": 2}, {"c": 3}]})).status
    gz = gzip.compress(orjson.dumps([{"events": []}, {"events": [1]}]))
    post(transport, gz, **{"Content-Encoding": "gzip"})
    post(transport, orjson.dumps({"environment": "development"}))
    post(
        transport,
        b"api_key=k&identification=%5B%5D",
        **{"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert transport.messages() == [
        {"a": 1},
        {"b": 2},
        {"c": 3},
        {"events": []},
        {"events": [1]},
        {"environment": "development"},
        {"api_key": "k", "identification": "[]"},
    ]
    transport.reset_after_fork()
    transport.close()
    assert len(transport.requests) == 5
