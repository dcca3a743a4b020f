"""The PostgreSQL store's own query machinery: the per-query time limit (``statement_timeout``
for the query's transaction alone) and the export read in short keyset pages.

SQLite's equivalents (progress handler, WAL checkpoints) are tested in test_query_hostile.py
and test_query_answers.py; every answer is held to SQLite's by the parametrised query tests
and the store contract.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.collector.query_support import Api, event, ms
from trackwire.collector.postgres import amplitude_segmentation
from trackwire.collector.postgres.store import PostgresStore
from trackwire.collector.query.limits import QueryTimeoutError
from trackwire.collector.server import start_collector

pytestmark = pytest.mark.postgres

SEG = "/api/2/events/segmentation"
DAYS = {"start": "20260105", "end": "20260105"}


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[PostgresStore]:
    with PostgresStore(pg_url, pool_size=2) as store:
        yield store


def _slow_rows(conn: Any, *args: Any, **kwargs: Any) -> Any:
    # A statement that outlasts any limit the test sets: the server, not the test, sleeps.
    conn.execute("SELECT pg_sleep(5)")
    raise AssertionError("the statement was not cancelled")


def test_a_statement_past_the_limit_is_cancelled_and_the_connection_reused(
    pg_store: PostgresStore,
) -> None:
    pg_store.query_time_limit_s = 0.05
    with pytest.raises(QueryTimeoutError, match="time limit"), pg_store._querying() as conn:
        conn.execute("SELECT pg_sleep(5)")
    # The limit was the transaction's own: the pooled connections keep the server's default.
    for _ in range(2):
        with pg_store._reading() as conn:
            row = conn.execute("SHOW statement_timeout").fetchone()
            assert row is not None and row[0] == "0"
    with pg_store._querying() as conn:
        row = conn.execute("SHOW statement_timeout").fetchone()
        assert row is not None and row[0] == "50ms"


def test_a_query_past_its_time_limit_is_a_503_then_the_next_one_answers(
    pg_store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with start_collector(db=pg_store) as running:
        api = Api(running)
        api.send([event("Play", "user-1", ms(5), 1), event("Play", "user-2", ms(5), 2)])
        pg_store.query_time_limit_s = 0.05
        with monkeypatch.context() as patched:
            patched.setattr(amplitude_segmentation, "segmentation_rows", _slow_rows)
            status, error = api.error(SEG, e={"event_type": "Play"}, **DAYS)
        assert status == 503
        assert "time limit" in error
        assert api.data(SEG, e={"event_type": "Play"}, **DAYS)["series"] == [[2]]


def _open_transactions(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%%'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_an_export_holds_no_transaction_between_pages(pg_store: PostgresStore, pg_url: str) -> None:
    pg_store.export_page_size = 2
    with start_collector(db=pg_store) as running:
        api = Api(running)
        api.send([event("Play", f"user-{n}", ms(5), n) for n in range(5)])
        sources = pg_store.project_sources(pg_store.events(limit=1)[0].source)
        rows = pg_store.export_rows(sources, 0, 2**62)
        first = next(rows)
        # Paused inside the first page: nothing open on the server (once the export's worker
        # has read the page after it, a few ms), and what is stored meanwhile is read by the
        # later pages (no snapshot is kept for the whole export).
        deadline = time.monotonic() + 10
        while _open_transactions(pg_url) and time.monotonic() < deadline:
            continue
        assert _open_transactions(pg_url) == 0
        api.send([event("Play", "user-9", ms(5), 9)])
        rest = list(rows)
    ids = [r.id for r in [first, *rest]]
    assert ids == sorted(ids) and len(ids) == 6
    assert all(r.user_properties is not None for r in [first, *rest])
