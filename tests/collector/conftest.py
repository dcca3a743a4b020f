"""Collector fixtures: a real collector on 127.0.0.1 and a small HTTP client for it.

Tests talk to the collector over real sockets, as every SDK does, so the body caps, the
streaming reads and the status lines they check are the ones a client sees.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

from trackwire.collector.server import RunningCollector, start_collector


class Answer:
    """An HTTP answer: status, headers, raw body, and the body decoded as JSON."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.body = response.data

    def json(self) -> Any:
        return orjson.loads(self.body)

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.body[:300]!r})"


def basic(user: str, password: str | None = "") -> str:
    """An HTTP Basic header value; ``password=None`` leaves the colon out."""
    raw = user if password is None else f"{user}:{password}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


#: The admin token of the ``keys_file`` fixture.
ADMIN_TOKEN = "admin-token-0123456789abcdef"


class Client:
    """Posts to and reads from one collector; reads send ``read_auth`` as Authorization."""

    def __init__(self, collector: RunningCollector, read_auth: str | None = None) -> None:
        self.collector = collector
        self.url = collector.url
        self.read_auth = read_auth
        self.pool = urllib3.PoolManager(retries=False, timeout=10.0)

    def post(
        self,
        path: str,
        body: bytes | Any,
        *,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = "application/json",
        compress: bool = False,
        chunked: bool = False,
    ) -> Answer:
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        sent = dict(headers or {})
        if content_type is not None:
            sent.setdefault("Content-Type", content_type)
        if compress:
            raw = gzip.compress(raw)
            sent["Content-Encoding"] = "gzip"
        payload: Any = raw
        if chunked:
            payload = (raw[i : i + 65536] for i in range(0, len(raw), 65536))
        response = self.pool.request(
            "POST", self.url + path, body=payload, headers=sent, chunked=chunked
        )
        return Answer(response)

    def segment(self, path: str, body: Any, *, key: str | None = "wk", **kw: Any) -> Answer:
        """Post to a Segment route with the write key as HTTP Basic (when ``key`` is set)."""
        headers = dict(kw.pop("headers", {}))
        if key is not None:
            headers["Authorization"] = basic(key)
        return self.post(path, body, headers=headers, **kw)

    def get(self, path: str, *, auth: str | None = None, **fields: Any) -> Answer:
        """GET with ``auth`` (default ``read_auth``; ``""`` sends none) as Authorization."""
        query = {k: str(v) for k, v in fields.items() if v is not None}
        auth = self.read_auth if auth is None else auth
        headers = {"Authorization": auth} if auth else {}
        return Answer(self.pool.request("GET", self.url + path, fields=query, headers=headers))

    def events(self, **filters: Any) -> list[dict[str, Any]]:
        """``/events`` items, newest first."""
        answer = self.get("/events", **filters)
        assert answer.status == 200, answer
        events: list[dict[str, Any]] = answer.json()["events"]
        return events

    def stats(self) -> dict[str, Any]:
        answer = self.get("/stats")
        assert answer.status == 200, answer
        stats: dict[str, Any] = answer.json()
        return stats


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    """A development-mode collector on 127.0.0.1 with its database under ``tmp_path``."""
    with start_collector(db=tmp_path / "collector.db") as running:
        yield running


@pytest.fixture
def client(collector: RunningCollector) -> Client:
    """An HTTP client for the ``collector`` fixture."""
    return Client(collector)


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    """A keys file with one source per vendor."""
    path = tmp_path / "keys.json"
    document = {
        "admin_tokens": [ADMIN_TOKEN],
        "sources": [
            {
                "name": "backend",
                "vendor": "segment",
                "write_key": "seg-key",
                "write_key_reads": True,
                "read_token": "backend-read-token-0123",
            },
            {"name": "web", "vendor": "amplitude", "api_key": "amp-key", "secret_key": "amp-s"},
            {"name": "feed", "vendor": "mparticle", "key": "mp-key", "secret": "mp-secret"},
        ],
    }
    path.write_bytes(orjson.dumps(document))
    return path


@pytest.fixture
def keyed_client(tmp_path: Path, keys_file: Path) -> Iterator[Client]:
    """A client for a collector that accepts only the sources of ``keys_file``."""
    with start_collector(db=tmp_path / "keyed.db", keys=keys_file) as running:
        yield Client(running, read_auth=f"Bearer {ADMIN_TOKEN}")


def skew_corrected_ms(payload: Mapping[str, Any]) -> int:
    """Segment's event time for a stored message: receivedAt - (sentAt - originalTimestamp)."""
    from datetime import datetime, timedelta, timezone

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    corrected = at(payload["receivedAt"]) - (
        at(payload["sentAt"]) - at(payload["originalTimestamp"])
    )
    return (corrected - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1)


# The store contract's fixtures (store, store_url): see store_fixtures.py. Its PostgreSQL
# server fixtures (pg_server, pg_url) are the root conftest's: the query tests of other
# packages share the one server.
from tests.collector.store_fixtures import store, store_url  # noqa: E402, F401
