"""The SQLite side of one request's write: :class:`SQLiteIngestSQL` and the source rows.

The per-request work itself (duplicates, identity, operations) is dialect-free and lives in
:mod:`trackwire.collector.store_ingest`; :mod:`trackwire.collector.sqlite.store` owns the
connections and the transaction. This module holds the SQL that work needs in SQLite.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from trackwire.collector.sqlite import amplitude_rollups, bulk, event_index
from trackwire.collector.sqlite.dedup import DedupKeys, dedup_hash, dedup_hashes
from trackwire.collector.sqlite.user_index import UserEvents
from trackwire.collector.store import EventRecord
from trackwire.collector.store_ingest import (
    Encoded,
    GroupKey,
    Ingest,
    Scope,
    Writes,
    attempt,
    dedup_scope,
    encode_record,
    fresh_indexes,
    request_scope,
)
from trackwire.collector.userprops import UserRow, dumps

__all__ = [
    "EVENT_COLUMNS",
    "USER_COLUMNS",
    "Encoded",
    "Ingest",
    "SQLiteIngestSQL",
    "Scope",
    "attempt",
    "claim_sources",
    "dedup_scope",
    "encode_record",
    "fresh_indexes",
    "request_scope",
    "select_in",
]

USER_COLUMNS: Final = (
    "u.amplitude_id, u.source_id, u.user_id, u.device_id, u.properties, u.first_seen_ms, "
    "u.last_seen_ms"
)
EVENT_COLUMNS: Final = (
    "e.id, s.vendor, s.source, e.type, e.event_name, e.user_id, e.device_id, e.amplitude_id, "
    "e.client_time_ms, e.received_time_ms, e.dedup_key, e.payload, c.kind, c.body"
)
#: The events INSERT's columns, in the order of an event row of
#: :class:`~trackwire.collector.store_ingest.Writes`.
_EVENT_INSERT_COLUMNS: Final = (
    "source_id", "type", "event_name", "user_id", "device_id", "amplitude_id", "session_id",
    "client_time_ms", "received_time_ms", "dedup_key", "revenue", "groups", "payload",
    "context_id", "dedup_scope", "props",
)  # fmt: skip
#: Where :class:`~trackwire.collector.store_ingest.Ingest` puts the key and its scope in an
#: event row.
_KEY, _SCOPE = 9, 14


#: Values bound per ``IN (...)`` statement: far below SQLite's limit on host parameters.
_IN_CHUNK: Final = 500


def select_in(
    conn: sqlite3.Connection, sql: str, params: Sequence[Any], values: Sequence[Any]
) -> list[Any]:
    """Rows of ``sql + " IN (?, ...)"`` for every value, in chunks of :data:`_IN_CHUNK`.

    Each value is its own parameter. (A JSON list read with ``json_each`` looked cheaper, but
    SQLite's JSON functions cut text at U+0000, so an id holding one was never found again
    and its retried request failed on the unique index.)
    """
    rows: list[Any] = []
    for start in range(0, len(values), _IN_CHUNK):
        chunk = values[start : start + _IN_CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows += conn.execute(f"{sql} IN ({marks})", (*params, *chunk)).fetchall()
    return rows


class SQLiteIngestSQL:
    """The reads and the write of one request, on the writer inside its transaction.

    Args:
        conn: the writer, inside ``BEGIN IMMEDIATE``.
        dedup: the store's de-duplication keys.
        user_events: the store's keys of each user's events.
        active_days: the store's copy of the ``active_days`` it wrote.
    """

    #: Known users' widened spans are not written: each event's user key carries its time,
    #: which reads take in until the keys' merge folds it into users (sqlite/user_index.py).
    tracks_spans = False

    def __init__(
        self,
        conn: sqlite3.Connection,
        dedup: DedupKeys,
        user_events: UserEvents,
        active_days: amplitude_rollups.ActiveDays,
    ) -> None:
        self._conn = conn
        self._dedup = dedup
        self._user_events = user_events
        self._active_days = active_days
        self._next_id = 0
        #: (scope, key) -> dedup_hash, filled by fresh_indexes and reused by write.
        self._hashes: dict[tuple[str, str], int] = {}
        #: The records' de-duplication scopes (see ``dedup_scopes``), set by fresh_indexes
        #: for the event rows.
        self.scopes: list[str | None] | None = None

    def next_amplitude_id(self) -> int:
        """One more than the largest id stored or handed out in this transaction."""
        if not self._next_id:
            # Safe under BEGIN IMMEDIATE: no other writer can take an id until we commit.
            row = self._conn.execute("SELECT coalesce(max(amplitude_id), 0) FROM users").fetchone()
            self._next_id = int(row[0]) + 1
        self._next_id += 1
        return self._next_id - 1

    def stored_keys(self, scope: str, keys: Sequence[str]) -> list[str]:
        """See :meth:`IngestSQL.stored_keys`."""
        pairs = [(scope, key) for key in keys]
        found = self._dedup.stored(self._conn, dict(zip(pairs, dedup_hashes(pairs), strict=True)))
        return [key for key in keys if (scope, key) in found]

    def fresh_indexes(self, records: Sequence[EventRecord], source_ids: Sequence[int]) -> list[int]:
        """Indexes of the records whose key is neither repeated earlier in the request nor
        stored before, in every scope at once: one look-up of the stored hashes per key (see
        :func:`trackwire.collector.store_ingest.fresh_indexes`, which asks scope by scope).
        Keeps each record's scope in :attr:`scopes`."""
        scopes: list[str | None] = []
        self.scopes = scopes
        pairs: list[tuple[str, str]] = []
        #: A record's source as its scope (no dedup_scope: most records), made once per source.
        source_scopes: dict[int, str] = {}
        for record, source_id in zip(records, source_ids, strict=True):
            key = record.dedup_key
            if key is None:
                scopes.append(None)
                continue
            if record.dedup_scope is None:
                scope = source_scopes.get(source_id)
                if scope is None:
                    scope = source_scopes[source_id] = str(source_id)
            else:
                scope = dedup_scope(record, source_id)
            scopes.append(scope)
            pairs.append((scope, key))
        wanted = dict(zip(pairs, dedup_hashes(pairs), strict=True))
        self._hashes.update(wanted)  # for write
        stored = self._dedup.stored(self._conn, wanted)
        if not stored and len(wanted) == len(pairs):
            return list(range(len(records)))  # no key stored or repeated: the common case
        taken = set(stored)
        keep: list[int] = []
        next_pair = iter(pairs).__next__
        for index, scope in enumerate(scopes):
            if scope is not None:
                pair = next_pair()
                if pair in taken:
                    continue  # stored, or repeated in the request: the first one is the event
                taken.add(pair)
            keep.append(index)
        return keep

    def _hash(self, pair: tuple[str, str]) -> int:
        found = self._hashes.get(pair)
        if found is None:
            found = self._hashes[pair] = dedup_hash(*pair)
        return found

    def users_by_user_id(self, source_id: int, user_ids: Sequence[str]) -> list[UserRow]:
        """See :meth:`IngestSQL.users_by_user_id`."""
        return [
            UserRow(*row)
            for row in select_in(
                self._conn,
                f"SELECT {USER_COLUMNS} FROM users u WHERE u.source_id = ? AND u.user_id",
                (source_id,),
                user_ids,
            )
        ]

    def devices(self, source_id: int, device_ids: Sequence[str]) -> list[tuple[str, int]]:
        """See :meth:`IngestSQL.devices`."""
        return select_in(
            self._conn,
            "SELECT device_id, amplitude_id FROM devices WHERE source_id = ? AND device_id",
            (source_id,),
            device_ids,
        )

    def users_by_amplitude_id(self, amplitude_ids: Sequence[int]) -> list[UserRow]:
        """See :meth:`IngestSQL.users_by_amplitude_id`."""
        rows = self._conn.execute(
            f"SELECT {USER_COLUMNS} FROM users u "
            "WHERE u.amplitude_id IN (SELECT value FROM json_each(?))",
            (dumps(list(amplitude_ids)),),
        )
        return [UserRow(*row) for row in rows]

    def linked(self, source_id: int, previous_ids: Sequence[str]) -> list[tuple[str, int]]:
        """See :meth:`IngestSQL.linked`."""
        return select_in(
            self._conn,
            "SELECT previous_id, amplitude_id FROM identity_links "
            "WHERE source_id = ? AND previous_id",
            (source_id,),
            previous_ids,
        )

    def group(self, key: GroupKey) -> tuple[str, int, int] | None:
        """See :meth:`IngestSQL.group`."""
        row: tuple[str, int, int] | None = self._conn.execute(
            "SELECT properties, first_seen_ms, last_seen_ms FROM groups "
            "WHERE source_id = ? AND group_type = ? AND group_value = ?",
            key,
        ).fetchone()
        return row

    def insert_context(self, source_id: int, kind: str, body: str) -> int:
        """See :meth:`IngestSQL.insert_context`."""
        context_id = self._conn.execute(
            "INSERT INTO contexts (source_id, kind, body) VALUES (?, ?, ?)",
            (source_id, kind, body),
        ).lastrowid
        assert context_id is not None  # an INSERT into a rowid table always has one
        return context_id

    def write(self, writes: Writes) -> int:
        """See :meth:`IngestSQL.write`."""
        conn = self._conn
        bulk.insert_rows(
            conn,
            "INSERT INTO users (user_id, source_id, device_id, properties, first_seen_ms, "
            "last_seen_ms, amplitude_id)",
            7,
            [
                (u.user_id, u.source_id, u.device_id, u.properties_text(), u.first_seen_ms,
                 u.last_seen_ms, u.amplitude_id)
                for u in writes.new_users
            ],
        )  # fmt: skip
        # Leaving user_id out of the common UPDATE spares its unique index the rewrite.
        conn.executemany(
            "UPDATE users SET user_id = ? WHERE amplitude_id = ?", writes.claimed_users
        )
        conn.executemany(
            "UPDATE users SET device_id = ?, properties = ?, first_seen_ms = ?, "
            "last_seen_ms = ? WHERE amplitude_id = ?",
            writes.changed_users,
        )
        # No writes.spans (tracks_spans is False): each event's user key
        # (self._user_events.add, below) carries its time, which the reads take in until the
        # keys' merge folds it into users (see sqlite/user_index.py).
        assert not writes.spans, "SQLite does not track spans: none may reach its write"
        bulk.insert_rows(
            conn,
            "INSERT INTO devices (source_id, device_id, amplitude_id)",
            3,
            writes.devices,
            " ON CONFLICT (source_id, device_id) "
            "DO UPDATE SET amplitude_id = excluded.amplitude_id",
        )
        conn.executemany(
            "INSERT INTO groups (source_id, group_type, group_value, properties, first_seen_ms, "
            "last_seen_ms) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (source_id, group_type, group_value) DO UPDATE SET "
            "properties = excluded.properties, first_seen_ms = excluded.first_seen_ms, "
            "last_seen_ms = excluded.last_seen_ms",
            writes.groups,
        )
        before = amplitude_rollups.last_event_id(conn)
        inserted = _insert_events(conn, writes.events)
        if amplitude_rollups.last_event_id(conn) != before + inserted:
            # Ids are max(id) + 1 under the write lock (nothing is deleted meanwhile), which the
            # keys below rely on; refuse rather than record a key against the wrong event.
            raise sqlite3.IntegrityError("event ids were not assigned in order")
        hashes = self._hashes
        keys: list[tuple[int, int]] = []
        for event_id, row in enumerate(writes.events, start=before + 1):
            if row[_KEY] is not None:
                pair = (row[_SCOPE], row[_KEY])
                hash_ = hashes.get(pair)
                keys.append((self._hash(pair) if hash_ is None else hash_, event_id))
        self._dedup.add(conn, keys)
        # The query side's active users per day (before any move below, like the events).
        self._active_days.roll_up(conn, writes.events, before)
        event_index.count_events(conn, writes.events)  # stats(): see sqlite/event_index.py
        self._user_events.add(conn, before)
        # After the events: those of this request resolved before an alias move too.
        self._user_events.move(conn, writes.merges)
        if writes.merges:
            # The move's trigger deleted the merged-away users' days.
            self._active_days.forget()
        conn.executemany(
            "UPDATE devices SET amplitude_id = ? WHERE amplitude_id = ?", writes.merges
        )
        conn.executemany(
            "INSERT INTO identity_links (source_id, previous_id, user_id, amplitude_id, "
            "linked_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (source_id, previous_id) DO UPDATE "
            "SET user_id = excluded.user_id, amplitude_id = excluded.amplitude_id, "
            "linked_ms = excluded.linked_ms",
            writes.links,
        )
        return inserted


def _insert_events(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert event rows in order (see :func:`trackwire.collector.sqlite.bulk.insert_rows`);
    how many were inserted.

    A column that is NULL in every row is left out of the statement (NULL is its default):
    Python's sqlite3 binds ``None`` through its adapter lookup, several times the cost of an
    int or a string, and most rows carry five or six (no device, session, revenue, groups or
    context). A column NULL in some rows only is bound as usual. A column of
    :data:`_SHARED_COLUMNS` with one value in every row (the request's source, its receipt
    time, its type, ...) is bound once per statement.
    """
    count = len(rows)
    if not count:
        return 0
    columns = list(zip(*rows, strict=True))
    # A column whose first value is not None is present: no count of its NULLs (comparing
    # every value with None costs ~18 ns a value; None with None is an identity test).
    present = [
        i
        for i, column in enumerate(columns)
        if column[0] is not None or column.count(None) != count
    ]
    shared = tuple(
        i
        for i in present
        if i in _SHARED_COLUMNS
        and (i in _STORE_INTS or type(columns[i][0]) is str)
        # The last value first: a column that varies (the event names) mostly shows it there.
        and columns[i][-1] == columns[i][0]
        and columns[i].count(columns[i][0]) == count
    )
    own = tuple(i for i in present if i not in shared)
    return bulk.insert_columns(
        conn,
        _insert_event_head(shared + own),
        [columns[i] for i in own],
        shared=tuple(columns[i][0] for i in shared),
    )


#: Columns bound once when every row holds the same value (see :func:`_insert_events`).
_SHARED_COLUMNS: Final = frozenset(
    _EVENT_INSERT_COLUMNS.index(name)
    for name in ("source_id", "type", "event_name", "received_time_ms", "context_id", "dedup_scope")
)
#: Those that hold only the store's own ints (ids it assigned, the request's receipt time).
#: The others count as shared only with text in every row: 1 and 1.0 (or True) compare
#: equal but are stored apart, equal texts never are.
_STORE_INTS: Final = frozenset(
    _EVENT_INSERT_COLUMNS.index(name) for name in ("source_id", "received_time_ms", "context_id")
)


@functools.cache
def _insert_event_head(present: tuple[int, ...]) -> str:
    """The events INSERT of the columns at these indexes of :data:`_EVENT_INSERT_COLUMNS`."""
    return f"INSERT INTO events ({', '.join(_EVENT_INSERT_COLUMNS[i] for i in present)})"


def claim_sources(conn: sqlite3.Connection, scopes: set[Scope]) -> dict[Scope, int]:
    """Source ids for the scopes, creating the missing rows in the caller's transaction."""
    conn.executemany(
        "INSERT INTO sources (vendor, source) VALUES (?, ?) ON CONFLICT DO NOTHING", sorted(scopes)
    )
    select = "SELECT source_id FROM sources WHERE vendor = ? AND source = ?"
    return {scope: conn.execute(select, scope).fetchone()[0] for scope in scopes}
