"""The collector's SQLite schema, as an ordered list of migrations.

A collector file outlives the trackwire version that created it: a team keeps its own copy of
its events. Every schema change is therefore a numbered migration that is applied once, in
order, when a store opens the file; opening an up-to-date file runs nothing, and a file written
by a newer trackwire is refused rather than misread. Applied versions are recorded in a
``schema_migrations`` table (portable to the PostgreSQL backend) and mirrored in
``PRAGMA user_version`` so ``sqlite3 file 'PRAGMA user_version'`` answers without trackwire.

The indexes of migration 1 are chosen for the queries the collector answers (DESIGN.md,
amplitude.md §3) and for an ingest path that stays fast: newest-first listing by source and
type, user activity per amplitude id, event segmentation by event type and time, export by
receipt time, and user search by user id, id prefix or device id. Each extra index on
``events`` costs every insert, so there is none for the ``/events`` user filter, which scans
newest first (it is a debugging aid; the Amplitude user queries go through ``amplitude_id``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from trackwire.collector.sqlite import amplitude_rollups, dedup, event_index, user_index
from trackwire.errors import TrackwireError

__all__ = ["MIGRATIONS", "Migration", "SchemaTooNewError", "current_version", "migrate"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step.

    Attributes:
        version: its number; migrations run in increasing order, starting at 1, without gaps.
        name: a short description, stored in ``schema_migrations``.
        statements: SQL statements run in one transaction with the version bump.
    """

    version: int
    name: str
    statements: tuple[str, ...]


class SchemaTooNewError(TrackwireError, RuntimeError):
    """The file was written by a newer trackwire whose schema this version does not know."""


_V1: Final = (
    # Every (vendor, source key) pair gets a small integer. Source keys are 32-40 characters
    # (write keys, API keys), and every events index starts with the source: keying the
    # indexes by this integer instead roughly halves their size and the cost of an insert.
    """
    CREATE TABLE sources (
        source_id INTEGER PRIMARY KEY,
        vendor    TEXT NOT NULL,
        source    TEXT NOT NULL,
        UNIQUE (vendor, source)
    )
    """,
    """
    CREATE TABLE users (
        amplitude_id  INTEGER PRIMARY KEY,
        source_id     INTEGER NOT NULL REFERENCES sources (source_id),
        user_id       TEXT,
        device_id     TEXT,
        properties    TEXT NOT NULL DEFAULT '{}',
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms  INTEGER NOT NULL
    )
    """,
    # User search by exact user id and by user-id prefix (a range scan on this index).
    """
    CREATE UNIQUE INDEX users_by_user_id ON users (source_id, user_id)
        WHERE user_id IS NOT NULL
    """,
    # The user each device was last seen with: resolves anonymous events and device search.
    """
    CREATE TABLE devices (
        source_id    INTEGER NOT NULL REFERENCES sources (source_id),
        device_id    TEXT NOT NULL,
        amplitude_id INTEGER NOT NULL REFERENCES users (amplitude_id),
        PRIMARY KEY (source_id, device_id)
    ) WITHOUT ROWID
    """,
    # The devices that currently lead to a user (user search and user activity).
    """
    CREATE INDEX devices_by_user ON devices (amplitude_id)
    """,
    """
    CREATE TABLE groups (
        source_id     INTEGER NOT NULL REFERENCES sources (source_id),
        group_type    TEXT NOT NULL,
        group_value   TEXT NOT NULL,
        properties    TEXT NOT NULL DEFAULT '{}',
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms  INTEGER NOT NULL,
        PRIMARY KEY (source_id, group_type, group_value)
    ) WITHOUT ROWID
    """,
    # Whole-request de-duplication (mParticle source_request_id).
    """
    CREATE TABLE requests (
        source_id        INTEGER NOT NULL REFERENCES sources (source_id),
        request_key      TEXT NOT NULL,
        received_time_ms INTEGER NOT NULL,
        PRIMARY KEY (source_id, request_key)
    ) WITHOUT ROWID
    """,
    # One table for every vendor: the query side filters by source and the ingest path stays
    # one INSERT. ``payload`` is the message exactly as received, as JSON text.
    """
    CREATE TABLE events (
        id               INTEGER PRIMARY KEY,
        source_id        INTEGER NOT NULL REFERENCES sources (source_id),
        type             TEXT NOT NULL,
        event_name       TEXT,
        user_id          TEXT,
        device_id        TEXT,
        amplitude_id     INTEGER REFERENCES users (amplitude_id),
        session_id       INTEGER,
        client_time_ms   INTEGER,
        received_time_ms INTEGER NOT NULL,
        dedup_key        TEXT,
        revenue          REAL,
        groups           TEXT,
        payload          TEXT NOT NULL
    )
    """,
    # Message-id de-duplication; the partial index keeps key-less events out of it.
    """
    CREATE UNIQUE INDEX events_dedup ON events (source_id, dedup_key)
        WHERE dedup_key IS NOT NULL
    """,
    # Every index ends with the rowid, so equality on (source_id, type) yields rows in id
    # order: newest-first listing by source and type needs no sort, and stats() reads only
    # this index.
    """
    CREATE INDEX events_by_type ON events (source_id, type)
    """,
    # User activity: one user's events in time order. An amplitude_id belongs to one source,
    # so the source need not lead this index.
    """
    CREATE INDEX events_by_user_time ON events (amplitude_id, client_time_ms)
    """,
    # Event segmentation: one event type over a range of days; also the event-name filter.
    """
    CREATE INDEX events_by_name_time ON events (source_id, event_name, client_time_ms)
    """,
    # Export selects by server upload (receipt) time.
    """
    CREATE INDEX events_by_received ON events (source_id, received_time_ms)
    """,
    # For people reading the file with the sqlite3 shell: events with their vendor and source.
    """
    CREATE VIEW events_view AS
        SELECT e.id, s.vendor, s.source, e.type, e.event_name, e.user_id, e.device_id,
               e.amplitude_id, e.session_id, e.client_time_ms, e.received_time_ms,
               e.dedup_key, e.revenue, e.groups, e.payload
        FROM events e JOIN sources s USING (source_id)
    """,
)

_V2: Final = (
    # Data several events of one request share (an mParticle batch's context, a Segment batch
    # envelope), stored once: copied into every event it multiplied a request's size by its
    # event count. An event's full message is its payload expanded with its context (the
    # ``kind`` says how; see trackwire.collector.store.expand).
    """
    CREATE TABLE contexts (
        context_id INTEGER PRIMARY KEY,
        source_id  INTEGER NOT NULL REFERENCES sources (source_id),
        kind       TEXT NOT NULL,
        body       TEXT NOT NULL
    )
    """,
    """
    ALTER TABLE events ADD COLUMN context_id INTEGER REFERENCES contexts (context_id)
    """,
    "DROP VIEW events_view",
    """
    CREATE VIEW events_view AS
        SELECT e.id, s.vendor, s.source, e.type, e.event_name, e.user_id, e.device_id,
               e.amplitude_id, e.session_id, e.client_time_ms, e.received_time_ms,
               e.dedup_key, e.revenue, e.groups, e.payload, c.kind AS context_kind,
               c.body AS context
        FROM events e JOIN sources s USING (source_id)
        LEFT JOIN contexts c ON c.context_id = e.context_id
    """,
)

_V3: Final = (
    # De-duplication scopes differ by vendor: Segment's messageId is not scoped to a source,
    # Amplitude's HTTP V2 insert_id is scoped to the event's device. The unique key becomes
    # (dedup_scope, dedup_key); events stored before keep their source as their scope.
    "ALTER TABLE events ADD COLUMN dedup_scope TEXT",
    "UPDATE events SET dedup_scope = CAST(source_id AS TEXT) WHERE dedup_key IS NOT NULL",
    "DROP INDEX events_dedup",
    """
    CREATE UNIQUE INDEX events_dedup ON events (dedup_scope, dedup_key)
        WHERE dedup_key IS NOT NULL
    """,
    # Segment alias: the earlier id (anonymous or not) that a user id now stands for, so the
    # query side can find a user's anonymous history (the events themselves are moved too).
    """
    CREATE TABLE identity_links (
        source_id    INTEGER NOT NULL REFERENCES sources (source_id),
        previous_id  TEXT NOT NULL,
        user_id      TEXT,
        amplitude_id INTEGER NOT NULL REFERENCES users (amplitude_id),
        linked_ms    INTEGER NOT NULL,
        PRIMARY KEY (source_id, previous_id)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX identity_links_by_user ON identity_links (amplitude_id)
    """,
)


_QUERY_INDEXES: Final = (
    # Event segmentation reads, per event type and time range, only the user of each event:
    # with amplitude_id in the index the uniques/totals queries never touch the table (a
    # covering index), which made them several times faster; each insert writes the same
    # number of index entries as before, a few bytes longer.
    "DROP INDEX events_by_name_time",
    """
    CREATE INDEX events_by_name_time ON events (source_id, event_name, client_time_ms, amplitude_id)
    """,
)

_PROPERTIES: Final = (
    # Grouping or filtering by an event property read and parsed every matching event's whole
    # payload: ~2 us a row to fetch it from the table, ~1.5 us to parse it. The event's own
    # properties, when short, are kept in their own column at the end of the segmentation index,
    # so those queries read only that index and parse a few dozen bytes per event. NULL means
    # "read the payload" (long property sets, files written before this migration: the column
    # is not back-filled, the queries fall back per row).
    "ALTER TABLE events ADD COLUMN props TEXT",
    "DROP INDEX events_by_name_time",
    """
    CREATE INDEX events_by_name_time
        ON events (source_id, event_name, client_time_ms, amplitude_id, props)
    """,
)

_DEDUP_KEYS: Final = (
    # Ingest at scale: the unique index on (dedup_scope, dedup_key) held random ~50-byte text
    # keys, and each insert dirtied several of its pages. Keys become 64-bit hashes in two
    # tables, recent ones appended and older ones merged in hash order (see
    # trackwire.collector.sqlite.dedup); a hash match is confirmed against the event's texts,
    # so a collision drops nothing. The texts stay in their columns: /events, the viewer and
    # export show dedup_key.
    """
    CREATE TABLE dedup_keys (
        hash     INTEGER NOT NULL,
        event_id INTEGER NOT NULL,
        PRIMARY KEY (hash, event_id)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE dedup_recent (
        hash     INTEGER NOT NULL,
        event_id INTEGER NOT NULL
    )
    """,
    f"""
    INSERT INTO dedup_keys (hash, event_id)
    SELECT {dedup.SQL_FUNCTION}(dedup_scope, dedup_key), id FROM events
    WHERE dedup_key IS NOT NULL ORDER BY 1, 2
    """,
    "DROP INDEX events_dedup",
)

#: Every migration, in order. Append only: never edit one that has shipped.
MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(1, "sources, events, users, devices, groups, requests", _V1),
    Migration(2, "shared request contexts, stored once", _V2),
    Migration(3, "de-duplication scopes, identity links", _V3),
    Migration(4, "query side: segmentation index covers the user", _QUERY_INDEXES),
    Migration(5, "query side: event properties in the segmentation index", _PROPERTIES),
    Migration(6, "query side: active users per day (rollup)", amplitude_rollups.ACTIVE_DAYS),
    Migration(7, "ingest: de-duplication keys as 64-bit hashes, merged in bulk", _DEDUP_KEYS),
    Migration(8, "ingest: each user's events in key tables, merged in bulk", user_index.MIGRATION),
    # Nothing to change in a version-8 file (its spans are whole); the number keeps an older
    # trackwire, which would read users' spans without their recent keys and merge those keys
    # away unfolded, from opening a file written since (see sqlite/user_index.py).
    Migration(9, "ingest: users' seen spans lag by their recent user keys, folded in bulk", ()),
    # The three query indexes of events leave its write path (see sqlite/event_index.py). An
    # older trackwire would find none of them and merge no keys; its number keeps it out.
    Migration(10, "ingest: the events' query keys in tables merged in bulk", event_index.MIGRATION),
    # Each request counts its events; an older trackwire would count the tail again at its
    # next merge, and its stats() would add the tail twice: the number keeps it out.
    Migration(11, "ingest: event counts kept per request", event_index.COUNT_TAIL),
    # An older trackwire would look for the middle table: its number keeps it out.
    Migration(12, "ingest: users' recent keys appended as sorted runs", user_index.RUNS),
)

_BOOTSTRAP: Final = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version       INTEGER PRIMARY KEY,
        name          TEXT NOT NULL,
        applied_ms    INTEGER NOT NULL
    )
"""


def current_version(conn: sqlite3.Connection) -> int:
    """The highest migration applied to the database, 0 for a new file.

    Args:
        conn: an open connection.
    """
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] | None = None) -> int:
    """Bring the database up to date by applying the missing migrations in order.

    Each migration runs in its own ``BEGIN IMMEDIATE`` transaction together with its entry in
    ``schema_migrations``, so a crash leaves the file at a whole version, and two processes
    opening the same new file do not apply a migration twice.

    Args:
        conn: a connection in autocommit mode (``isolation_level=None``).
        migrations: the list to apply; defaults to :data:`MIGRATIONS` (read at call time).

    Returns:
        The schema version after migrating.

    Raises:
        SchemaTooNewError: the file has a version newer than the last known migration.
        ValueError: the migrations are not numbered 1, 2, 3, ... in order.
    """
    steps = tuple(MIGRATIONS if migrations is None else migrations)
    for expected, step in enumerate(steps, start=1):
        if step.version != expected:
            raise ValueError(f"migration {step.name!r} is numbered {step.version}, not {expected}")
    conn.execute(_BOOTSTRAP)
    dedup.register(conn)  # migration 7 back-fills hashes with it
    latest = len(steps)
    for step in steps:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            if current_version(conn) >= step.version:
                conn.execute("ROLLBACK")
                continue
            for statement in step.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)",
                (step.version, step.name, int(time.time() * 1000)),
            )
            # PRAGMA takes no placeholders; the version is an int we control.
            conn.execute(f"PRAGMA user_version = {int(step.version)}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    version = current_version(conn)
    if version > latest:
        raise SchemaTooNewError(
            f"the collector file has schema version {version}, but this trackwire knows only "
            f"up to {latest}; upgrade trackwire to open it"
        )
    return version
