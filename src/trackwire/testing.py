"""Public helpers for testing code that uses trackwire, without a network.

``RecordingTransport`` stands in for the HTTP transport of any client (Segment, Amplitude,
mParticle): it records every request and answers from a script, so a test can assert on
exactly what a client would send::

    from trackwire.testing import RecordingTransport

    transport = RecordingTransport()
    analytics = trackwire.Segment("KEY", transport=transport, send_first_immediately=False)
    analytics.track(user_id="u1", event="Signed Up")
    analytics.flush()
    assert transport.messages()[0]["event"] == "Signed Up"

To test against a real server instead (what arrived, after retries, de-duplication and the
vendor's own checks, or with an official SDK), use the ``trackwire_collector`` pytest fixture of
:mod:`trackwire.pytest_plugin`: a collector per test session, reset before each test, with
assertions such as ``trackwire_collector.expect(vendor="amplitude", event_type="Signed Up")``.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterable
from typing import Any

import orjson

from trackwire._engine.transport import HTTPRequest, HTTPResult

__all__ = ["HTTPRequest", "HTTPResult", "RecordingTransport"]


class RecordingTransport:
    """A transport that records requests and answers from a script.

    Args:
        responses: results to answer with, in order; once used up, every request gets
            ``default``.
        default: the answer after the script: 200 with ``{"success": true, "code": 200}``,
            a success body for every vendor (Amplitude reads ``code``).
    """

    def __init__(
        self,
        responses: Iterable[HTTPResult] = (),
        default: HTTPResult | None = None,
    ) -> None:
        self.requests: list[HTTPRequest] = []
        self._script = list(responses)
        self._default = default or HTTPResult(status=200, body=b'{"success":true,"code":200}')
        self._lock = threading.Lock()

    def send(self, request: HTTPRequest) -> HTTPResult:
        """Record ``request`` and return the next scripted result."""
        with self._lock:
            self.requests.append(request)
            return self._script.pop(0) if self._script else self._default

    def close(self) -> None:
        """Nothing to release."""

    def reset_after_fork(self) -> None:
        """Nothing is shared with the parent process: the recording stays as it was."""

    def bodies(self) -> list[Any]:
        """Every request body, gunzipped when needed and decoded from JSON (or form fields)."""
        with self._lock:
            requests = list(self.requests)
        decoded = []
        for request in requests:
            body = request.body
            if request.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if request.headers.get("Content-Type", "").startswith("application/x-www-form"):
                from urllib.parse import parse_qs

                fields = parse_qs(body.decode())
                decoded.append({key: values[-1] for key, values in fields.items()})
            else:
                decoded.append(orjson.loads(body))
        return decoded

    def messages(self) -> list[dict[str, Any]]:
        """Every message of every request, in order, whatever the vendor.

        A Segment body's ``batch``, an Amplitude body's ``events``, each batch of an
        mParticle bulk body (a JSON array), or the body itself when it is one object.
        """
        found: list[dict[str, Any]] = []
        for body in self.bodies():
            if isinstance(body, list):
                found.extend(body)
            elif isinstance(body, dict) and isinstance(body.get("batch"), list):
                found.extend(body["batch"])
            elif isinstance(body, dict) and isinstance(body.get("events"), list):
                found.extend(body["events"])
            elif isinstance(body, dict):
                found.append(body)
        return found
