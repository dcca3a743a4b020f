"""Each route module beside the vendors' is built from its own narrow view alone, no Collector:
the view is all it can reach, and it answers through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.collector.conftest import ADMIN_TOKEN
from trackwire.collector.counters import RequestCounters
from trackwire.collector.faults import FaultInjector
from trackwire.collector.inspection import Inspection
from trackwire.collector.keys import Keys, fingerprint, parse_keys
from trackwire.collector.routes import admin, amplitude_query, testing, viewer
from trackwire.collector.routes.admin import AdminView
from trackwire.collector.routes.amplitude_query import QueryView
from trackwire.collector.routes.testing import DoubleView
from trackwire.collector.routes.viewer import PageView
from trackwire.collector.sqlite import SQLiteStore
from trackwire.collector.store import EventRecord
from trackwire.collector.viewer.auth import Access, Sessions

KEYS = parse_keys(
    {
        "admin_tokens": [ADMIN_TOKEN],
        "sources": [
            {"name": "web", "vendor": "amplitude", "api_key": "amp-key", "secret_key": "amp-s"},
        ],
    }
)
#: The development-mode project name of Amplitude key ``dev-key``.
DEV_PROJECT = fingerprint("dev-key")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """A store holding one Amplitude event of user ``u1`` under source ``web`` and one under
    the development-mode name of ``dev-key``."""
    with SQLiteStore(str(tmp_path / "views.db")) as opened:
        for source in ("web", DEV_PROJECT):
            record = EventRecord(
                "amplitude", source, "event", "Signed Up", "u1", "d1", 1_700_000_000_000, None, {}
            )
            opened.ingest([record])
        yield opened


def _access(keys: Keys | None) -> Access:
    return Access(keys, Sessions())


def _inspection(counters: RequestCounters) -> Inspection:
    return Inspection(plan=None, plan_mode="record", keep_bodies=True, counters=counters)


def _client(found: list[Route]) -> TestClient:
    return TestClient(Starlette(routes=found))


def test_admin_routes_from_their_view(store: SQLiteStore) -> None:
    counters = RequestCounters()
    counters.add("requests", "segment", "200")
    faults = FaultInjector()
    view = AdminView(store, _access(None), counters, faults, _inspection(counters), "where.db")
    with _client(admin.routes(view)) as http:
        health = http.get("/health").json()
        assert (health["mode"], health["db"], health["sources"]) == ("development", "where.db", 0)
        stats = http.get("/stats").json()
        assert stats["total"] == 2
        assert stats["requests"] == counters.snapshot()["requests"]
        assert stats["faults"] == faults.counts()
        assert {e["source"] for e in http.get("/events").json()["events"]} == {"web", DEV_PROJECT}
        assert http.get("/_faults").json() == faults.state()

    keyed = AdminView(store, _access(KEYS), counters, faults, _inspection(counters))
    with _client(admin.routes(keyed)) as http:
        assert http.get("/stats").status_code == 401
        admin_auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert http.get("/health", headers=admin_auth).json()["sources"] == 1
        # Fault injection is a development-mode route only.
        assert http.get("/_faults", headers=admin_auth).status_code == 404


def test_test_double_routes_from_their_view(store: SQLiteStore) -> None:
    view = DoubleView(store, _access(None), _inspection(RequestCounters()))
    with _client(testing.routes(view)) as http:
        assert http.get("/_test/counts").json()["total"] == 2
        found = http.get("/_test/events", params={"source": "web"}).json()["events"]
        assert [event["event_name"] for event in found] == ["Signed Up"]
        assert http.post("/_test/reset").json() == {"ok": True}
        assert http.get("/_test/counts").json()["total"] == 0
    # A keyed collector holds real data: no test double routes at all.
    assert testing.routes(DoubleView(store, _access(KEYS), _inspection(RequestCounters()))) == []


def test_page_routes_from_their_view(store: SQLiteStore) -> None:
    faults = FaultInjector()
    view = PageView(store, _access(None), faults, _inspection(RequestCounters()))
    with _client(viewer.routes(view)) as http:
        session = http.get("/_viewer/session").json()
        assert (session["mode"], session["signed_in"], session["who"]) == (
            "development",
            True,
            "admin",
        )
        assert session["faults"] == faults.state()
        newest = store.events(limit=1)[0]
        event = http.get(f"/_viewer/events/{newest.id}").json()
        assert (event["id"], event["source"]) == (newest.id, newest.source)

    keyed = PageView(store, _access(KEYS), faults, _inspection(RequestCounters()))
    with _client(viewer.routes(keyed)) as http:
        assert http.get(f"/_viewer/events/{newest.id}").status_code == 401
        signed = http.post("/_viewer/session", json={"token": ADMIN_TOKEN}).json()
        assert (signed["signed_in"], signed["who"]) == (True, "admin")
        # The session lives in the view's Sessions: the cookie now reads.
        assert http.get(f"/_viewer/events/{newest.id}").status_code == 200


def test_query_routes_from_their_view(store: SQLiteStore) -> None:
    counters = RequestCounters()
    keyed = QueryView(store, _access(KEYS), counters, lambda _key: None)
    with _client(amplitude_query.routes(keyed)) as http:
        search = {"user": "u1"}
        assert http.get("/api/2/usersearch", params=search).status_code == 401
        answer = http.get("/api/2/usersearch", params=search, auth=("amp-key", "amp-s")).json()
        assert [match["user_id"] for match in answer["matches"]] == ["u1"]
        wrong = http.get("/api/2/usersearch", params=search, auth=("amp-key", "wrong"))
        assert wrong.status_code == 401
    assert counters.snapshot()["requests"]["amplitude_query"] == {"401": 2, "200": 1}

    # Development mode: the view's source function names the project a key queries.
    asked: list[str] = []

    def source(key: str) -> str:
        asked.append(key)
        return fingerprint(key)

    development = QueryView(store, _access(None), RequestCounters(), source)
    with _client(amplitude_query.routes(development)) as http:
        answer = http.get("/api/2/usersearch", params=search, auth=("dev-key", "")).json()
        assert [match["user_id"] for match in answer["matches"]] == ["u1"]
    assert asked == ["dev-key"]
