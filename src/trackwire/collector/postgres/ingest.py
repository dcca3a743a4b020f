"""The PostgreSQL side of one request's write: :class:`PostgresIngestSQL`.

The work itself is :mod:`trackwire.collector.store_ingest`; this module is the SQL it needs,
run on one connection inside the request's transaction. Unique keys over client text are
indexed by ``md5`` (see :mod:`.schema`), so every lookup by such a key compares the hash, for
the index, and the text, for the answer. Each event's built-in properties are found here, from
its payload and batch context, for the ``builtins`` column (:mod:`.builtins`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson
import psycopg

from trackwire.collector.postgres.builtins import builtins_text
from trackwire.collector.store_ingest import GroupKey, Writes
from trackwire.collector.userprops import UserRow

__all__ = ["EVENT_COLUMNS", "USER_COLUMNS", "PostgresIngestSQL"]

Conn = psycopg.Connection[tuple[Any, ...]]

USER_COLUMNS: Final = (
    "u.amplitude_id, u.source_id, u.user_id, u.device_id, u.properties, u.first_seen_ms, "
    "u.last_seen_ms"
)
EVENT_COLUMNS: Final = (
    "e.id, s.vendor, s.source, e.type, e.event_name, e.user_id, e.device_id, e.amplitude_id, "
    "e.client_time_ms, e.received_time_ms, e.dedup_key, e.payload, c.kind, c.body"
)
#: The wanted texts as a table driving one lookup each (LATERAL ... LIMIT 1): one probe of an
#: md5 expression index per text, however large the table grows. (A join let the planner
#: hash a whole source's rows instead, which grew with the table.)
_WANTED: Final = "unnest(%s::text[]) AS w(v), LATERAL"
_INSERT_EVENT: Final = (
    "INSERT INTO events (source_id, type, event_name, user_id, device_id, amplitude_id, "
    "session_id, client_time_ms, received_time_ms, dedup_key, revenue, groups, payload, "
    "context_id, dedup_scope, props, builtins) VALUES "
    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, tw_props(%s), tw_builtins(%s)) "
    "ON CONFLICT DO NOTHING"
)


class PostgresIngestSQL:
    """The reads and the write of one request, inside its transaction.

    The store holds the transaction-level advisory lock of every source the request writes,
    so the users, devices and groups read here cannot change before the commit.

    Args:
        conn: the request's connection, inside its transaction.
        vendors: the vendor of each source id the request writes.
    """

    #: Known users' widened spans are written as a min/max update per user (see write).
    tracks_spans = True

    def __init__(self, conn: Conn, vendors: Mapping[int, str]) -> None:
        self._conn = conn
        self._vendors = vendors
        #: The shared contexts this request stored, decoded (for the built-in properties).
        self._contexts: dict[int, Any] = {}

    def next_amplitude_id(self) -> int:
        """The next value of the ``amplitude_ids`` sequence (shared by every collector)."""
        row = self._conn.execute("SELECT nextval('amplitude_ids')").fetchone()
        assert row is not None
        return int(row[0])

    def stored_keys(self, scope: str, keys: Sequence[str]) -> list[str]:
        """See :meth:`IngestSQL.stored_keys`."""
        rows = self._conn.execute(
            f"SELECT x.dedup_key FROM {_WANTED} (SELECT e.dedup_key FROM events e "
            "WHERE md5(e.dedup_scope) = md5(%s) AND md5(e.dedup_key) = md5(w.v) "
            "AND e.dedup_key IS NOT NULL AND e.dedup_scope = %s AND e.dedup_key = w.v "
            "LIMIT 1) x",
            (list(keys), scope, scope),
        )
        return [key for (key,) in rows]

    def users_by_user_id(self, source_id: int, user_ids: Sequence[str]) -> list[UserRow]:
        """See :meth:`IngestSQL.users_by_user_id`."""
        rows = self._conn.execute(
            f"SELECT {USER_COLUMNS} FROM {_WANTED} (SELECT * FROM users x WHERE x.source_id = %s "
            "AND md5(x.user_id) = md5(w.v) AND x.user_id IS NOT NULL AND x.user_id = w.v "
            "LIMIT 1) u",
            (list(user_ids), source_id),
        )
        return [UserRow(*row) for row in rows]

    def devices(self, source_id: int, device_ids: Sequence[str]) -> list[tuple[str, int]]:
        """See :meth:`IngestSQL.devices`."""
        rows = self._conn.execute(
            f"SELECT d.device_id, d.amplitude_id FROM {_WANTED} (SELECT * FROM devices x "
            "WHERE x.source_id = %s AND md5(x.device_id) = md5(w.v) AND x.device_id = w.v "
            "LIMIT 1) d",
            (list(device_ids), source_id),
        )
        return [(device_id, amplitude_id) for device_id, amplitude_id in rows]

    def linked(self, source_id: int, previous_ids: Sequence[str]) -> list[tuple[str, int]]:
        """See :meth:`IngestSQL.linked`."""
        rows = self._conn.execute(
            f"SELECT l.previous_id, l.amplitude_id FROM {_WANTED} (SELECT * FROM identity_links x "
            "WHERE x.source_id = %s AND md5(x.previous_id) = md5(w.v) AND x.previous_id = w.v "
            "LIMIT 1) l",
            (list(previous_ids), source_id),
        )
        return [(previous_id, amplitude_id) for previous_id, amplitude_id in rows]

    def users_by_amplitude_id(self, amplitude_ids: Sequence[int]) -> list[UserRow]:
        """See :meth:`IngestSQL.users_by_amplitude_id`."""
        rows = self._conn.execute(
            f"SELECT {USER_COLUMNS} FROM users u WHERE u.amplitude_id = ANY(%s)",
            (list(amplitude_ids),),
        )
        return [UserRow(*row) for row in rows]

    def group(self, key: GroupKey) -> tuple[str, int, int] | None:
        """See :meth:`IngestSQL.group`."""
        source_id, group_type, group_value = key
        row = self._conn.execute(
            "SELECT properties, first_seen_ms, last_seen_ms FROM groups WHERE source_id = %s "
            "AND md5(group_type) = md5(%s) AND md5(group_value) = md5(%s) "
            "AND group_type = %s AND group_value = %s",
            (source_id, group_type, group_value, group_type, group_value),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def insert_context(self, source_id: int, kind: str, body: str) -> int:
        """See :meth:`IngestSQL.insert_context`."""
        row = self._conn.execute(
            "INSERT INTO contexts (source_id, kind, body) VALUES (%s, %s, %s) RETURNING context_id",
            (source_id, kind, body),
        ).fetchone()
        assert row is not None
        self._contexts[int(row[0])] = orjson.loads(body)
        return int(row[0])

    def _with_builtins(self, events: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The event rows with their built-in properties' JSON text appended (the rows are
        in the column order of :data:`_INSERT_EVENT`: source id first, payload and context
        id at 12 and 13)."""
        vendors, contexts = self._vendors, self._contexts
        return [
            (*row, builtins_text(vendors.get(row[0], ""), row[12], contexts.get(row[13])))
            for row in events
        ]

    def write(self, writes: Writes) -> int:
        """See :meth:`IngestSQL.write`."""
        with self._conn.cursor() as cur:
            if writes.new_users:
                cur.executemany(
                    "INSERT INTO users (user_id, source_id, device_id, properties, "
                    "first_seen_ms, last_seen_ms, amplitude_id) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (u.user_id, u.source_id, u.device_id, u.properties_text(),
                         u.first_seen_ms, u.last_seen_ms, u.amplitude_id)
                        for u in writes.new_users
                    ],
                )  # fmt: skip
            if writes.claimed_users:
                cur.executemany(
                    "UPDATE users SET user_id = %s WHERE amplitude_id = %s", writes.claimed_users
                )
            if writes.changed_users:
                cur.executemany(
                    "UPDATE users SET device_id = %s, properties = %s, first_seen_ms = %s, "
                    "last_seen_ms = %s WHERE amplitude_id = %s",
                    writes.changed_users,
                )
            if writes.spans:
                cur.executemany(
                    "UPDATE users SET first_seen_ms = least(first_seen_ms, %s), "
                    "last_seen_ms = greatest(last_seen_ms, %s) WHERE amplitude_id = %s",
                    writes.spans,
                )
            if writes.devices:
                cur.executemany(
                    "INSERT INTO devices (source_id, device_id, amplitude_id) "
                    "VALUES (%s, %s, %s) ON CONFLICT (source_id, md5(device_id)) "
                    "DO UPDATE SET amplitude_id = excluded.amplitude_id",
                    writes.devices,
                )
            if writes.groups:
                cur.executemany(
                    "INSERT INTO groups (source_id, group_type, group_value, properties, "
                    "first_seen_ms, last_seen_ms) VALUES (%s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (source_id, md5(group_type), md5(group_value)) DO UPDATE SET "
                    "properties = excluded.properties, first_seen_ms = excluded.first_seen_ms, "
                    "last_seen_ms = excluded.last_seen_ms",
                    writes.groups,
                )
            inserted = 0
            if writes.events:
                cur.executemany(_INSERT_EVENT, self._with_builtins(writes.events))
                inserted = cur.rowcount
            if writes.merges:
                # After the events: those of this request resolved before an alias move too.
                cur.executemany(
                    "UPDATE events SET amplitude_id = %s WHERE amplitude_id = %s", writes.merges
                )
                cur.executemany(
                    "UPDATE devices SET amplitude_id = %s WHERE amplitude_id = %s", writes.merges
                )
                # The merged-away user's span joins the surviving user's: the resolver took in
                # the span it read, but events of this request resolved to the merged-away
                # user after the alias (just moved) were widening that user's row, not this one.
                cur.executemany(
                    "UPDATE users s SET first_seen_ms = least(s.first_seen_ms, m.first_seen_ms), "
                    "last_seen_ms = greatest(s.last_seen_ms, m.last_seen_ms) FROM users m "
                    "WHERE s.amplitude_id = %s AND m.amplitude_id = %s",
                    writes.merges,
                )
            if writes.links:
                cur.executemany(
                    "INSERT INTO identity_links (source_id, previous_id, user_id, amplitude_id, "
                    "linked_ms) VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT (source_id, md5(previous_id)) DO UPDATE "
                    "SET user_id = excluded.user_id, amplitude_id = excluded.amplitude_id, "
                    "linked_ms = excluded.linked_ms",
                    writes.links,
                )
        return inserted
