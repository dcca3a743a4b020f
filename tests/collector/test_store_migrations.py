"""PostgreSQL's migrations: numbered per store, applied once, refused when too new, atomic.

(SQLite's own migration tests are in test_store.py; two PostgreSQL stores migrating one new
database at once are in test_store_postgres_collectors.py.)
"""

from __future__ import annotations

import hashlib
import json

import psycopg
import pytest

from tests.pg_server import PostgresServer
from trackwire.collector.postgres import PostgresStore, builtins, schema, schema_indexes
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


def test_migration_5_turns_stored_properties_into_jsonb_with_the_same_answers(
    pg_server: PostgresServer,
) -> None:
    # Events stored by a collector before migration 5 keep their answers after it: short
    # properties become jsonb (U+0000 read as U+FFFD, as the queries read it before), those
    # too large for the segmentation indexes are read from the payload.
    from trackwire.amplitude.query.params import segmentation_params
    from trackwire.collector.query.segmentation import plan

    url = pg_server.new_database()
    wide = {"genre": "Jazz", "n": [1] * 240}
    rows = [
        ({"genre": "rock"}, 1), ({"genre": "ROCK\u0000x"}, 2), ({"genre": 3.0}, 1), (wide, 2),
        ({}, 1),
    ]  # fmt: skip
    start = 1_767_225_600_000  # 2026-01-01
    with psycopg.connect(url, autocommit=True) as conn:
        schema.migrate(conn, schema.MIGRATIONS[:4])
        conn.execute("INSERT INTO sources (vendor, source) VALUES ('amplitude', 'proj')")
        for number, (props, times) in enumerate(rows):
            text = json.dumps(props, separators=(",", ":"))
            country = "F\u0000R" if number == 1 else "NL"
            payload = json.dumps(
                {"event_type": "Song Played", "event_properties": props, "country": country}
            )
            for _ in range(times):
                conn.execute(
                    "INSERT INTO events (source_id, type, event_name, amplitude_id, "
                    "client_time_ms, received_time_ms, payload, props) "
                    "VALUES (1, 'event', 'Song Played', %s, %s, %s, %s, %s)",
                    (number, start + number, start, payload, text),
                )
    with PostgresStore(url) as store:
        with psycopg.connect(url) as conn:
            kinds = conn.execute(
                "SELECT jsonb_typeof(props), count(*) FROM events GROUP BY 1 ORDER BY 1"
            ).fetchall()
        assert kinds == [("object", 5), (None, 2)]
        params = segmentation_params(
            {"event_type": "Song Played", "group_by": [{"type": "event", "value": "genre"}]},
            "20260101", "20260101", metric="totals",
        )  # fmt: skip
        aggregates, _ = store.segmentation(store.project_sources("proj"), plan(params))
        by_country = segmentation_params(
            "Song Played", "20260101", "20260101", metric="totals", group_by="country"
        )
        countries, _ = store.segmentation(store.project_sources("proj"), plan(by_country))
    totals = {row.group: row.events for row in aggregates if row.bucket is None}
    assert totals == {"rock": 1, "ROCK\ufffdx": 2, "3": 1, "Jazz": 2, None: 1}
    # A built-in property is read from the payload, U+0000 as U+FFFD there too.
    assert {row.group: row.events for row in countries if row.bucket is None} == {
        "F\ufffdR": 2,
        "NL": 5,
    }


def test_migration_6_fills_built_ins_as_the_ingest_keeps_them(pg_server: PostgresServer) -> None:
    # Migration 6 computes the built-in properties of the events stored before it in SQL; the
    # ingest computes them in Python. Row for row the same jsonb, over three vendors' events
    # with values of every JSON type in each place (the store contract's history), U+0000.
    from tests.collector.test_store_query_contract import LONG_CITY, _history
    from trackwire.collector.store import EventRecord

    url = pg_server.new_database()
    odd = EventRecord(
        vendor="amplitude", source="proj", type="event", event_name="x", user_id="u",
        device_id=None, client_time_ms=None, dedup_key=None, user_ops=[],
        payload={"event_type": "x", "country": "F\u0000R", "platform": None, "city": 1e300},
    )  # fmt: skip
    with PostgresStore(url) as store:
        for records, key, received in [*_history(7), ([odd], None, 1_767_225_600_000)]:
            store.ingest(records, request_key=key, received_time_ms=received)
    with psycopg.connect(url, autocommit=True) as conn:
        ingested = conn.execute("SELECT id, builtins FROM events ORDER BY id").fetchall()
        conn.execute("UPDATE events SET builtins = NULL")
        conn.execute(schema_indexes._backfill())
        migrated = conn.execute("SELECT id, builtins FROM events ORDER BY id").fetchall()
        (long_city,) = conn.execute(
            "SELECT builtins FROM events WHERE strpos(payload, %s) > 0", (LONG_CITY,)
        ).fetchone()
    assert migrated == ingested
    values = [builtins for _, builtins in ingested]
    # (psycopg reads a jsonb number without a fraction as an int.)
    assert long_city is None and values[-1] == {"country": "F\ufffdR", "city": 10**300}
    assert sum(1 for v in values if v) > 50 and any("version" in v for v in values if v)


def test_the_built_ins_kept_are_those_migration_6_filled() -> None:
    # events.builtins holds these names from these places; migration 6 filled it for the
    # events stored before it. A change here needs a new migration filling it again (or the
    # new names read from the payload): then update this digest.
    kept = repr([(v, builtins.places(v), builtins.paths_of(v)) for v in sorted(builtins.VENDORS)])
    assert hashlib.sha256(kept.encode()).hexdigest()[:16] == "6dc6d9edfae6d33e"
