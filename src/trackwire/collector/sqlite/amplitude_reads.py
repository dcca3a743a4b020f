"""The query side's reads in SQLite: the sources of a project, export rows, users.

Each function takes an open connection; the store runs them on one of its read connections.
The indexes they rely on: ``events_by_received (source_id, received_time_ms)`` for export,
``events_by_user_time (amplitude_id, client_time_ms)`` for user activity,
``users_by_user_id (source_id, user_id)`` for user search by id and id prefix, and the
``devices`` primary key for search by device id.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Final

import orjson

from trackwire.collector.query.reader import ExportRow, Source
from trackwire.collector.query.users import FoundUser, UserSummary
from trackwire.collector.store import expand

__all__ = [
    "MAX_MATCHES",
    "export_has_rows",
    "export_rows",
    "project_sources",
    "search_users",
    "user_events",
    "user_summary",
]

#: Most users a prefix search returns.
MAX_MATCHES: Final = 1000
_EXPORT_COLUMNS: Final = (
    "e.id, e.source_id, e.type, e.event_name, e.user_id, e.device_id, e.amplitude_id, "
    "e.session_id, e.client_time_ms, e.received_time_ms, e.dedup_key, e.groups, e.payload, "
    "c.kind, c.body"
)
#: Each event with its shared request context (see trackwire.collector.store.expand).
_EVENTS_WITH_CONTEXT: Final = "events e LEFT JOIN contexts c ON c.context_id = e.context_id"


def _in(count: int) -> str:
    return ", ".join("?" * count)


def project_sources(conn: sqlite3.Connection, name: str) -> list[Source]:
    """Every stored source (any vendor) named ``name``: what one project's queries cover."""
    rows = conn.execute(
        "SELECT source_id, vendor FROM sources WHERE source = ? ORDER BY source_id", (name,)
    )
    return [Source(source_id, vendor) for source_id, vendor in rows]


def export_has_rows(
    conn: sqlite3.Connection, sources: Sequence[Source], start_ms: int, end_ms: int
) -> bool:
    """Whether any event was received in ``[start_ms, end_ms)``."""
    if not sources:
        return False
    found = conn.execute(
        f"SELECT 1 FROM events WHERE source_id IN ({_in(len(sources))}) "
        "AND received_time_ms >= ? AND received_time_ms < ? LIMIT 1",
        [*(s.source_id for s in sources), start_ms, end_ms],
    ).fetchone()
    return found is not None


def _export_row(vendor: str, row: tuple[Any, ...]) -> ExportRow:
    return ExportRow(vendor, *row)


def export_rows(
    conn: sqlite3.Connection, sources: Sequence[Source], start_ms: int, end_ms: int
) -> Iterator[ExportRow]:
    """Events received in ``[start_ms, end_ms)``, in receipt order, read as they are consumed.

    One cursor per source walks ``events_by_received`` in order (no sort, nothing held), and
    the cursors are merged.
    """

    def rows(source: Source) -> Iterator[ExportRow]:
        cursor = conn.execute(
            f"SELECT {_EXPORT_COLUMNS} FROM {_EVENTS_WITH_CONTEXT} WHERE e.source_id = ? "
            "AND e.received_time_ms >= ? AND e.received_time_ms < ? "
            "ORDER BY e.received_time_ms, e.id",
            (source.source_id, start_ms, end_ms),
        )
        vendor = source.vendor
        for row in cursor:
            yield ExportRow(vendor, *row)

    if len(sources) == 1:
        yield from rows(sources[0])
        return
    yield from heapq.merge(
        *(rows(s) for s in sources), key=lambda row: (row.received_time_ms, row.id)
    )


def _found(rows: Sequence[tuple[int, str | None, int]]) -> list[FoundUser]:
    return [FoundUser(amplitude_id, user_id, last) for amplitude_id, user_id, last in rows]


def search_users(
    conn: sqlite3.Connection, sources: Sequence[Source], text: str
) -> tuple[str, list[FoundUser]]:
    """Amplitude's user search: exact user or device id, then Amplitude ID, then user-id prefix.

    Returns:
        The match type and the users (empty with ``nomatch``).
    """
    if not sources or not text:
        return "nomatch", []
    ids = [s.source_id for s in sources]
    where = f"u.source_id IN ({_in(len(ids))})"
    exact = conn.execute(
        f"SELECT u.amplitude_id, u.user_id, u.last_seen_ms FROM users u WHERE {where} "
        "AND u.user_id = ? "
        "UNION SELECT u.amplitude_id, u.user_id, u.last_seen_ms FROM devices d "
        "JOIN users u ON u.amplitude_id = d.amplitude_id "
        f"WHERE d.source_id IN ({_in(len(ids))}) AND d.device_id = ? "
        "ORDER BY 3 DESC",
        [*ids, text, *ids, text],
    ).fetchall()
    if exact:
        return "match_user_or_device_id", _found(exact)
    if text.isdigit():
        by_id = conn.execute(
            f"SELECT u.amplitude_id, u.user_id, u.last_seen_ms FROM users u WHERE {where} "
            "AND u.amplitude_id = ?",
            [*ids, int(text)],
        ).fetchall()
        if by_id:
            return "match_amplitude_id", _found(by_id)
    # A range on the (source_id, user_id) index: every id that starts with the text.
    prefix = conn.execute(
        f"SELECT u.amplitude_id, u.user_id, u.last_seen_ms FROM users u WHERE {where} "
        "AND u.user_id >= ? AND u.user_id < ? ORDER BY u.user_id LIMIT ?",
        [*ids, text, text + "\U0010ffff", MAX_MATCHES],
    ).fetchall()
    if prefix:
        return "match_user_prefix", _found(prefix)
    return "nomatch", []


def user_summary(
    conn: sqlite3.Connection, sources: Sequence[Source], amplitude_id: int
) -> UserSummary | None:
    """The user's state and event aggregates, or None for an id no covered source has."""
    vendors = {s.source_id: s.vendor for s in sources}
    if not vendors:
        return None
    user = conn.execute(
        "SELECT source_id, user_id, device_id, properties FROM users "
        f"WHERE amplitude_id = ? AND source_id IN ({_in(len(vendors))})",
        [amplitude_id, *vendors],
    ).fetchone()
    if user is None:
        return None
    source_id, user_id, device_id, properties = user
    t = "coalesce(client_time_ms, received_time_ms)"
    count, sessions, purchases, revenue, first, last = conn.execute(
        "SELECT count(*), count(DISTINCT session_id), count(revenue), total(revenue), "
        f"min({t}), max({t}) FROM events WHERE amplitude_id = ?",
        (amplitude_id,),
    ).fetchone()
    devices = [
        d
        for (d,) in conn.execute(
            "SELECT device_id FROM devices WHERE amplitude_id = ? ORDER BY device_id",
            (amplitude_id,),
        )
    ]
    if device_id is not None and device_id not in devices:
        devices.append(device_id)

    def payload_at(order: str) -> dict[str, Any]:
        row = conn.execute(
            # In the (amplitude_id, client_time_ms) index's order: one row read, no sort.
            f"SELECT e.payload, c.kind, c.body FROM {_EVENTS_WITH_CONTEXT} "
            f"WHERE e.amplitude_id = ? ORDER BY e.client_time_ms {order}, e.id {order} LIMIT 1",
            (amplitude_id,),
        ).fetchone()
        if row is None:
            return {}
        value: dict[str, Any] = orjson.loads(row[0])
        if not isinstance(value, dict):
            return {}
        if row[1] is not None and row[2] is not None:
            value = expand(row[1], orjson.loads(row[2]), value)
        return value

    return UserSummary(
        amplitude_id=amplitude_id,
        vendor=vendors[source_id],
        user_id=user_id,
        device_id=device_id,
        device_ids=devices,
        properties=orjson.loads(properties),
        num_events=count,
        num_sessions=sessions,
        purchases=purchases,
        revenue=revenue,
        first_ms=first,
        last_ms=last,
        first_payload=payload_at("ASC"),
        last_payload=payload_at("DESC"),
    )


def user_events(
    conn: sqlite3.Connection,
    source: Source,
    amplitude_id: int,
    *,
    offset: int,
    limit: int,
    latest: bool,
) -> list[ExportRow]:
    """One user's events, most recent first (or earliest first), a page at a time."""
    order = "DESC" if latest else "ASC"
    rows = conn.execute(
        f"SELECT {_EXPORT_COLUMNS} FROM {_EVENTS_WITH_CONTEXT} WHERE e.amplitude_id = ? "
        # The (amplitude_id, client_time_ms) index's order: only the page's rows are read, none
        # sorted. Events without a client time (rare: every SDK sets one) come last.
        f"ORDER BY e.client_time_ms {order}, e.id {order} "
        "LIMIT ? OFFSET ?",
        (amplitude_id, limit, offset),
    ).fetchall()
    return [_export_row(source.vendor, row) for row in rows]
