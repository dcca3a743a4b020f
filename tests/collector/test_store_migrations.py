"""PostgreSQL's migrations: numbered per store, applied once, refused when too new, atomic.

(SQLite's own migration tests are in test_store.py; two PostgreSQL stores migrating one new
database at once are in test_store_postgres_collectors.py.)
"""

from __future__ import annotations

import psycopg
import pytest

from tests.pg_server import PostgresServer
from trackwire.collector.postgres import PostgresStore, schema
from trackwire.collector.sqlite.schema import Migration, SchemaTooNewError

pytestmark = pytest.mark.postgres


def _versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def test_new_database_has_every_migration_and_reopening_runs_none(
    pg_server: PostgresServer,
) -> None:
    url = pg_server.new_database()
    with PostgresStore(url) as store:
        assert store.schema_version == len(schema.MIGRATIONS)
    with psycopg.connect(url) as conn:
        applied = conn.execute("SELECT max(applied_ms) FROM schema_migrations").fetchone()
    with PostgresStore(url) as again:
        assert again.schema_version == len(schema.MIGRATIONS)
    assert _versions(url) == list(range(1, len(schema.MIGRATIONS) + 1))
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT max(applied_ms) FROM schema_migrations").fetchone() == applied


def test_newer_database_is_refused(pg_server: PostgresServer) -> None:
    url = pg_server.new_database()
    future = Migration(len(schema.MIGRATIONS) + 1, "future", ("SELECT 1",))
    with psycopg.connect(url, autocommit=True) as conn:
        schema.migrate(conn, (*schema.MIGRATIONS, future))
    with pytest.raises(SchemaTooNewError, match="upgrade trackwire"):
        PostgresStore(url)


def test_failed_migration_leaves_the_previous_version(pg_server: PostgresServer) -> None:
    url = pg_server.new_database()
    broken = Migration(
        len(schema.MIGRATIONS) + 1, "broken", ("CREATE TABLE half_done (x int)", "NOT SQL")
    )
    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.SyntaxError):
            schema.migrate(conn, (*schema.MIGRATIONS, broken))
        assert schema.current_version(conn) == len(schema.MIGRATIONS)
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)


def test_migrations_must_be_numbered_in_order(pg_server: PostgresServer) -> None:
    url = pg_server.new_database()
    with (
        psycopg.connect(url, autocommit=True) as conn,
        pytest.raises(ValueError, match="numbered 2, not 1"),
    ):
        schema.migrate(conn, (Migration(2, "gap", ()),))
