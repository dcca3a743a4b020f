"""Shared pieces of the query tests: a store fixture, a collector on it, and small helpers.

Every query test takes its store from :func:`query_store` or :func:`shared_store`, both
parametrised over SQLite and PostgreSQL, so the same tests hold both stores to the same answers.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

from trackwire.collector.server import RunningCollector, start_collector
from trackwire.collector.sqlite import SQLiteStore
from trackwire.collector.store import Store
from trackwire.collector.store_factory import open_store

KEY = "query-key"
AUTH = "Basic " + base64.b64encode(f"{KEY}:secret".encode()).decode()


def ms(day: int, hour: int = 12, minute: int = 0, month: int = 1) -> int:
    """Epoch ms of 2026-<month>-<day> <hour>:<minute> UTC."""
    when = datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


#: The stores every query test runs over (PostgreSQL tests skip where no server is installed).
STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=STORES)
def query_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The store a query test runs over: a new SQLite file, then an empty PostgreSQL
    database. Knobs one store alone has are tested under :func:`sqlite_only`."""
    if request.param == "sqlite":
        with SQLiteStore(tmp_path / "query.db") as store:
            yield store
        return
    opened = open_store(request.getfixturevalue("pg_url"))
    try:
        yield opened
    finally:
        opened.close()


def sqlite_only(fixture: str = "query_store") -> pytest.MarkDecorator:
    """Run a test of SQLite's own machinery (rollups, WAL, progress handler) on SQLite alone:
    ``fixture`` (``query_store`` or ``shared_store``) takes only its SQLite parameter. The
    PostgreSQL store has its own tests of its equivalents."""
    return pytest.mark.parametrize(fixture, ["sqlite"], indirect=True)


@pytest.fixture
def query_collector(query_store: Store) -> Iterator[RunningCollector]:
    """A development-mode collector on 127.0.0.1 over ``query_store``."""
    with start_collector(db=query_store) as running:
        yield running


class Api:
    """Sends Amplitude events to a collector and reads its query API, as project ``key``."""

    def __init__(self, collector: RunningCollector, key: str = KEY) -> None:
        self.url = collector.url
        self.key = key
        self.auth = "Basic " + base64.b64encode(f"{key}:secret".encode()).decode()
        self.pool = urllib3.PoolManager(retries=False, timeout=30.0)

    def send(self, events: Sequence[Mapping[str, Any]], key: str | None = None) -> None:
        """Post events through HTTP V2 (in one request) and check they were all stored."""
        body = orjson.dumps({"api_key": key or self.key, "events": list(events)})
        response = self.pool.request(
            "POST", self.url + "/2/httpapi", body=body,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert response.status == 200, response.data

    def get(self, path: str, **fields: Any) -> urllib3.BaseHTTPResponse:
        """GET a query route with the project's credentials; dict/list values as JSON."""
        query = {
            k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in fields.items()
        }
        return self.pool.request(
            "GET", self.url + path, fields=query, headers={"Authorization": self.auth}
        )

    def data(self, path: str, **fields: Any) -> Any:
        """The ``data`` of a 200 answer."""
        response = self.get(path, **fields)
        assert response.status == 200, (response.status, response.data[:500])
        return orjson.loads(response.data)["data"]

    def error(self, path: str, **fields: Any) -> tuple[int, str]:
        """The status and error text of an answer that is not a 200."""
        response = self.get(path, **fields)
        assert response.status != 200, response.data[:300]
        return response.status, str(orjson.loads(response.data).get("error", ""))


@pytest.fixture
def api(query_collector: RunningCollector) -> Api:
    """An :class:`Api` for ``query_collector``."""
    return Api(query_collector)


@pytest.fixture(scope="module", params=STORES)
def shared_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """One store per kind for a test module's read-only datasets (each under its own project
    key): a SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        with SQLiteStore(tmp_path_factory.mktemp("shared") / "query.db") as store:
            yield store
        return
    opened = open_store(request.getfixturevalue("pg_server").new_database())
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="module")
def shared_collector(shared_store: Store) -> Iterator[RunningCollector]:
    """A development-mode collector over ``shared_store``."""
    with start_collector(db=shared_store) as running:
        yield running


def event(
    event_type: str,
    user: str,
    time_ms: int,
    n: int,
    *,
    props: Mapping[str, Any] | None = None,
    user_props: Mapping[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An Amplitude HTTP V2 event."""
    body: dict[str, Any] = {
        "event_type": event_type, "user_id": user, "time": time_ms, "insert_id": f"i-{n}",
        **fields,
    }  # fmt: skip
    if props is not None:
        body["event_properties"] = dict(props)
    if user_props is not None:
        body["user_properties"] = dict(user_props)
    return body


def export_range() -> dict[str, str]:
    """An export range around now (the export selects by receipt time)."""
    from datetime import timedelta

    now = datetime.now(timezone.utc)
    start, end = now - timedelta(hours=2), now + timedelta(hours=2)
    return {"start": start.strftime("%Y%m%dT%H"), "end": end.strftime("%Y%m%dT%H")}


def exported(api: Api) -> list[dict[str, Any]]:
    """Every event of an export around now, in archive order."""
    import io

    from trackwire.amplitude.query import iter_export_events

    response = api.get("/api/2/export", **export_range())
    assert response.status == 200, response.data[:300]
    return list(iter_export_events(io.BytesIO(response.data)))
