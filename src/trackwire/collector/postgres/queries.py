"""The PostgreSQL store's read side: the SQL behind :class:`~trackwire.collector.store.EventReader`.

The same answers as :mod:`trackwire.collector.sqlite.queries`, in PostgreSQL's dialect. Only
fixed clauses enter SQL text; every value is a placeholder.
"""

from __future__ import annotations

from typing import Any

import orjson

from trackwire.collector.postgres.ingest import EVENT_COLUMNS, USER_COLUMNS, Conn
from trackwire.collector.store import IdentityLink, StoredEvent, UserState, expand

__all__ = ["events", "group", "links", "stats", "user"]


def events(
    conn: Conn,
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
    """Stored events, newest first (see :func:`trackwire.collector.sqlite.queries.events`)."""
    filters: list[tuple[str, Any]] = [
        ("e.type = %s", type),
        ("e.received_time_ms >= %s", since_ms),
        ("e.received_time_ms < %s", until_ms),
        ("e.id < %s", before_id),
    ]
    clauses = [clause for clause, value in filters if value is not None]
    params: list[Any] = [value for _, value in filters if value is not None]
    if vendor is not None or source is not None:
        # The source ids first, so the (source_id, type, id) index can serve the listing.
        ids = [
            source_id
            for (source_id,) in conn.execute(
                "SELECT source_id FROM sources WHERE (%s::text IS NULL OR vendor = %s) "
                "AND (%s::text IS NULL OR source = %s)",
                (vendor, vendor, source, source),
            )
        ]
        if not ids:
            return []
        clauses.append("e.source_id = ANY(%s)")
        params.append(ids)
    if event_name is not None:
        clauses.append("md5(e.event_name) = md5(%s) AND e.event_name = %s")
        params += [event_name, event_name]
    if user_id is not None:
        clauses.append("(e.user_id = %s OR e.device_id = %s)")
        params += [user_id, user_id]
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    sql = (
        f"SELECT {EVENT_COLUMNS} FROM events e JOIN sources s USING (source_id) "
        f"LEFT JOIN contexts c ON c.context_id = e.context_id {where}ORDER BY e.id DESC LIMIT %s"
    )
    rows = conn.execute(sql, (*params, limit)).fetchall()
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
            payload=payload(row[11], row[12], row[13]),
        )
        for row in rows
    ]


def payload(text: str, kind: str | None, context: str | None) -> dict[str, Any]:
    """A stored event's full message: its own part, expanded with its shared context."""
    own: dict[str, Any] = orjson.loads(text)
    if kind is None or context is None:
        return own
    return expand(kind, orjson.loads(context), own)


def stats(conn: Conn) -> dict[str, Any]:
    """Event counts in total and per vendor, source and type."""
    counts = conn.execute(
        "SELECT s.vendor, s.source, c.type, c.n FROM (SELECT source_id, type, "
        "count(*) AS n FROM events GROUP BY source_id, type) AS c "
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
    conn: Conn,
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
        sql = f"{select} WHERE s.vendor = %s AND s.source = %s AND u.amplitude_id = %s"
        args: tuple[Any, ...] = (vendor, source, amplitude_id)
    elif user_id is not None:
        sql = (
            f"{select} WHERE s.vendor = %s AND s.source = %s AND u.user_id IS NOT NULL "
            "AND md5(u.user_id) = md5(%s) AND u.user_id = %s"
        )
        args = (vendor, source, user_id, user_id)
    else:
        sql = (
            f"{select} JOIN devices d ON d.amplitude_id = u.amplitude_id "
            "WHERE s.vendor = %s AND s.source = %s AND d.source_id = u.source_id "
            "AND md5(d.device_id) = md5(%s) AND d.device_id = %s"
        )
        args = (vendor, source, device_id, device_id)
    row = conn.execute(sql, args).fetchone()
    if row is None:
        return None
    found, _, uid, device, props, first, last = row
    return UserState(found, vendor, source, uid, device, orjson.loads(props), first, last)


def group(
    conn: Conn, vendor: str, source: str, group_type: str, group_value: str
) -> dict[str, Any] | None:
    """A group's properties, or None for a group never identified."""
    row = conn.execute(
        "SELECT g.properties FROM groups g JOIN sources s USING (source_id) "
        "WHERE s.vendor = %s AND s.source = %s AND g.group_type = %s AND g.group_value = %s",
        (vendor, source, group_type, group_value),
    ).fetchone()
    if row is None:
        return None
    properties: dict[str, Any] = orjson.loads(row[0])
    return properties


def links(conn: Conn, vendor: str, source: str, *, user_id: str | None) -> list[IdentityLink]:
    """The aliases of one source (only ``user_id``'s when given), oldest first."""
    sql = (
        "SELECT l.previous_id, l.user_id, l.amplitude_id, l.linked_ms FROM identity_links l "
        "JOIN sources s USING (source_id) WHERE s.vendor = %s AND s.source = %s "
        "AND (%s::text IS NULL OR l.user_id = %s) ORDER BY l.linked_ms, l.previous_id"
    )
    rows = conn.execute(sql, (vendor, source, user_id, user_id))
    return [IdentityLink(*row) for row in rows]
