"""The SQLite store's read side: the SQL behind :class:`~trackwire.collector.store.EventReader`.

Each function takes an open connection (a pooled reader, or the writer for ``:memory:``) and
returns the protocol's values. Only fixed clauses enter SQL text; every value is a placeholder.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from trackwire.collector.sqlite import event_index, user_index
from trackwire.collector.sqlite.ingest import EVENT_COLUMNS, USER_COLUMNS
from trackwire.collector.store import IdentityLink, StoredEvent, UserState, expand

__all__ = ["events", "group", "links", "source_ids", "stats", "user"]


def source_ids(conn: sqlite3.Connection, vendor: str | None, source: str | None) -> list[int]:
    """The ids of the sources matching ``vendor`` and ``source`` (None matches any)."""
    # A filter left out matches every source: coalesce(x = NULL, true).
    return [
        source_id
        for (source_id,) in conn.execute(
            "SELECT source_id FROM sources "
            "WHERE coalesce(vendor = ?, true) AND coalesce(source = ?, true)",
            (vendor, source),
        )
    ]


def events(
    conn: sqlite3.Connection,
    *,
    vendor: str | None,
    source: str | None,
    type: str | None,
    user_id: str | None,
    event_name: str | None,
    since_ms: int | None,
    until_ms: int | None,
    limit: int,
    before_id: int | None,
) -> list[StoredEvent]:
    """Stored events, newest first.

    The events after the watermark are read first (their ids are above every merged one),
    then, up to ``limit`` in all, the merged ones (see sqlite/event_index.py). With a source
    and an event-name filter the merged keys of that name find the rows; else (a type, a
    user: a debugging aid, no key kept for them) rows are checked newest first until
    ``limit`` match.
    """
    filters: list[tuple[str, Any]] = [
        ("e.type = ?", type),
        ("e.event_name = ?", event_name),
        ("e.received_time_ms >= ?", since_ms),
        ("e.received_time_ms < ?", until_ms),
        ("e.id < ?", before_id),
    ]
    clauses = [clause for clause, value in filters if value is not None]
    params = [value for _, value in filters if value is not None]
    if user_id is not None:
        clauses.append("(e.user_id = ? OR e.device_id = ?)")
        params += [user_id, user_id]
    named = False
    if vendor is not None or source is not None:
        ids = source_ids(conn, vendor, source)
        if not ids:
            return []
        clauses.append(f"e.source_id IN ({', '.join('?' * len(ids))})")
        params += ids
        named = event_name is not None
    where = " AND ".join(clauses) if clauses else "1"
    tail = f"SELECT e.id FROM events e WHERE {event_index.TAIL} AND {where} ORDER BY e.id DESC"
    if named:
        # The merged keys of one event name of these sources, the events table read only
        # for the other filters.
        merged = (
            f"SELECT id FROM ({event_index.merged_branch('e.id AS id', where)}) ORDER BY id DESC"
        )
    else:
        merged = (
            f"SELECT e.id FROM events e WHERE e.id <= {event_index.WATERMARK} AND {where} "
            "ORDER BY e.id DESC"
        )
    # The inner queries pick ids (the tail's first, all above the merged ones); only `limit`
    # rows are read whole.
    sql = (
        f"SELECT {EVENT_COLUMNS} FROM events e JOIN sources s USING (source_id) "
        "LEFT JOIN contexts c ON c.context_id = e.context_id "
        f"WHERE e.id IN (SELECT id FROM (SELECT * FROM ({tail} LIMIT ?) UNION ALL "
        f"SELECT * FROM ({merged} LIMIT ?)) ORDER BY id DESC LIMIT ?) ORDER BY e.id DESC"
    )
    rows = conn.execute(sql, (*params, limit, *params, limit, limit)).fetchall()
    return [
        StoredEvent(
            id=row[0],
            vendor=row[1],
            source=row[2],
            type=row[3],
            event_name=row[4],
            user_id=row[5],
            device_id=row[6],
            amplitude_id=row[7],
            client_time_ms=row[8],
            received_time_ms=row[9],
            dedup_key=row[10],
            payload=_payload(row[11], row[12], row[13]),
        )
        for row in rows
    ]


def _payload(payload: str, kind: str | None, context: str | None) -> dict[str, Any]:
    """A stored event's full message: its own part, expanded with its shared context."""
    own: dict[str, Any] = orjson.loads(payload)
    if kind is None or context is None:
        return own
    return expand(kind, orjson.loads(context), own)


def stats(conn: sqlite3.Connection) -> dict[str, Any]:
    """Event counts in total and per vendor, source and type."""
    # Every stored event is counted there, by its request (see sqlite/event_index.py).
    counts = conn.execute(
        "SELECT s.vendor, s.source, c.type, c.n FROM event_counts c "
        "JOIN sources s USING (source_id) ORDER BY s.vendor, s.source, c.type"
    ).fetchall()
    return {
        "total": sum(count for *_, count in counts),
        "by_source": [
            {"vendor": vendor, "source": source, "type": kind, "count": count}
            for vendor, source, kind, count in counts
        ],
    }


def user(
    conn: sqlite3.Connection,
    vendor: str,
    source: str,
    *,
    user_id: str | None,
    device_id: str | None,
    amplitude_id: int | None,
) -> UserState | None:
    """One user, by ``amplitude_id``, else ``user_id``, else the device's last user."""
    select = f"SELECT {USER_COLUMNS} FROM users u JOIN sources s ON s.source_id = u.source_id"
    if amplitude_id is not None:
        sql = f"{select} WHERE s.vendor = ? AND s.source = ? AND u.amplitude_id = ?"
        key: Any = amplitude_id
    elif user_id is not None:
        sql = f"{select} WHERE s.vendor = ? AND s.source = ? AND u.user_id = ?"
        key = user_id
    else:
        sql = (
            f"{select} JOIN devices d ON d.amplitude_id = u.amplitude_id "
            "WHERE s.vendor = ? AND s.source = ? AND d.device_id = ?"
        )
        key = device_id
    with user_index.snapshot(conn):
        row = conn.execute(sql, (vendor, source, key)).fetchone()
        if row is None:
            return None
        found, _, uid, device, props, first, last = row
        # The row's span lags by the user's recent keys (see sqlite/user_index.py).
        pending = user_index.pending_spans(conn, [found]).get(found)
    if pending is not None:
        first, last = min(first, pending[0]), max(last, pending[1])
    return UserState(found, vendor, source, uid, device, orjson.loads(props), first, last)


def group(
    conn: sqlite3.Connection, vendor: str, source: str, group_type: str, group_value: str
) -> dict[str, Any] | None:
    """A group's properties, or None for a group never identified."""
    row = conn.execute(
        "SELECT g.properties FROM groups g JOIN sources s USING (source_id) "
        "WHERE s.vendor = ? AND s.source = ? AND g.group_type = ? AND g.group_value = ?",
        (vendor, source, group_type, group_value),
    ).fetchone()
    if row is None:
        return None
    properties: dict[str, Any] = orjson.loads(row[0])
    return properties


def links(
    conn: sqlite3.Connection, vendor: str, source: str, *, user_id: str | None
) -> list[IdentityLink]:
    """The aliases of one source (only ``user_id``'s when given), oldest first."""
    sql = (
        "SELECT l.previous_id, l.user_id, l.amplitude_id, l.linked_ms FROM identity_links l "
        "JOIN sources s USING (source_id) WHERE s.vendor = ? AND s.source = ? "
        "AND coalesce(l.user_id = ?, true) ORDER BY l.linked_ms, l.previous_id"
    )
    return [IdentityLink(*row) for row in conn.execute(sql, (vendor, source, user_id))]
