"""The store contract's fixtures: every storage test runs over SQLite and PostgreSQL.

``store_url`` is parametrised over both stores; ``store`` opens it with
:func:`~trackwire.collector.store_factory.open_store`, as the collector does. PostgreSQL is a
real server (:mod:`tests.pg_server`), one per test session (per xdist worker), with a new
database per test. Where no server is installed, its tests skip with one line naming what is
missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg_server import PostgresServer, find_binaries
from trackwire.collector.store import Store
from trackwire.collector.store_factory import open_store

STORES = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres")]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session, or a skip naming what is missing."""
    binaries, missing = find_binaries()
    if binaries is None:
        pytest.skip(f"PostgreSQL tests skipped: {missing}")
    server = PostgresServer(binaries)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_reused_url(pg_server: PostgresServer) -> str:
    """One database for the contract's tests, migrated once."""
    url = pg_server.new_database()
    open_store(url).close()
    return url


@pytest.fixture
def pg_url(pg_server: PostgresServer, pg_reused_url: str) -> str:
    """The URL of an empty, migrated database on the session's server (emptied per test);
    tests that need a database of their own call ``pg_server.new_database()``."""
    return pg_server.emptied(pg_reused_url)


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ``--db`` value for a new, empty store: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "collector.db")
    request.applymarker(pytest.mark.postgres)
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open store of each kind (the contract suite's subject)."""
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
