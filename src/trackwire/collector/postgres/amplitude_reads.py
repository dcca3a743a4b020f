"""The query side's reads in PostgreSQL: the sources of a project, export rows, users.

Ported from :mod:`trackwire.collector.sqlite.amplitude_reads` (owned with the query engine):
the same functions, arguments and answers, in PostgreSQL's dialect. Ordering follows SQLite's:
text compares bytewise (the columns are ``COLLATE "C"``) and a missing client time sorts
first ascending, last descending.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson

from trackwire.collector.postgres.ingest import Conn
from trackwire.collector.query.reader import ExportRow, Source
from trackwire.collector.query.users import FoundUser, UserSummary
from trackwire.collector.store import expand

__all__ = [
    "EXPORT_PAGE",
    "MAX_MATCHES",
    "export_has_rows",
    "export_page",
    "project_sources",
    "search_users",
    "user_events",
    "user_summary",
]

#: Largest integer a BIGINT holds.
_MAX_ID: Final = 2**63 - 1
#: Most users a prefix search returns (as the SQLite store).
MAX_MATCHES: Final = 1000
_EXPORT_COLUMNS: Final = (
    "e.id, e.source_id, e.type, e.event_name, e.user_id, e.device_id, e.amplitude_id, "
    "e.session_id, e.client_time_ms, e.received_time_ms, e.dedup_key, e.groups, e.payload, "
    "c.kind, c.body, u.properties"
)
#: An export page's columns (see trackwire.collector.query.reader.EXPORT_FIELDS).
_PAGE_COLUMNS: Final = (
    "e.id, e.type, e.event_name, e.user_id, e.device_id, e.amplitude_id, e.session_id, "
    "e.client_time_ms, e.received_time_ms, e.dedup_key, e.groups, c.kind, c.body, "
    "u.properties, e.payload"
)
#: Each event with its shared request context and its user's properties (exported on every
#: event, as Amplitude does).
_EVENTS_WITH_CONTEXT: Final = (
    "events e LEFT JOIN contexts c ON c.context_id = e.context_id "
    "LEFT JOIN users u ON u.amplitude_id = e.amplitude_id"
)
#: Events read per export page: one short statement (its own transaction) each.
EXPORT_PAGE: Final = 5000
#: SQLite's NULL order: smallest.
_ORDER: Final = {"ASC": "ASC NULLS FIRST", "DESC": "DESC NULLS LAST"}


def project_sources(conn: Conn, name: str) -> list[Source]:
    """Every stored source (any vendor) named ``name``: what one project's queries cover."""
    rows = conn.execute(
        "SELECT source_id, vendor FROM sources WHERE md5(source) = md5(%s) AND source = %s "
        "ORDER BY source_id",
        (name, name),
    )
    return [Source(source_id, vendor) for source_id, vendor in rows]


def export_has_rows(conn: Conn, sources: Sequence[Source], start_ms: int, end_ms: int) -> bool:
    """Whether any event was received in ``[start_ms, end_ms)``."""
    if not sources:
        return False
    found = conn.execute(
        "SELECT 1 FROM events WHERE source_id = ANY(%s) "
        "AND received_time_ms >= %s AND received_time_ms < %s LIMIT 1",
        ([s.source_id for s in sources], start_ms, end_ms),
    ).fetchone()
    return found is not None


def export_page(
    conn: Conn,
    source: Source,
    after: tuple[int, int] | None,
    end_ms: int,
    start_ms: int,
    limit: int = EXPORT_PAGE,
) -> list[bytes]:
    """Up to ``limit`` events of a source received in ``[start_ms, end_ms)``, in receipt order
    (``received_time_ms``, ``id``), strictly after the key ``after`` (None: from the start).

    A keyset page on ``events_by_received``: the export reads page after page, each in its
    own short statement, so no snapshot is held for the whole export (a long one keeps vacuum
    from reclaiming what ingestion updates meanwhile). Each row is the JSON array of
    :data:`_PAGE_COLUMNS` (see :class:`~trackwire.collector.query.reader.ExportPage`).
    """
    if after is None:
        low, since, last_id = start_ms, start_ms - 1, -1
    else:
        low, (since, last_id) = after[0], after
    rows = conn.execute(
        f"SELECT {_PAGE_COLUMNS} FROM {_EVENTS_WITH_CONTEXT} WHERE e.source_id = %s "
        "AND e.received_time_ms >= %s AND e.received_time_ms < %s "
        "AND (e.received_time_ms, e.id) > (%s, %s) "
        "ORDER BY e.received_time_ms, e.id LIMIT %s",
        (source.source_id, low, end_ms, since, last_id, limit),
    ).fetchall()
    # The payload spliced in as stored (JSON already), as SQLite's page does.
    return [orjson.dumps((*row[:-1], orjson.Fragment(row[-1]))) for row in rows]


def _found(rows: Sequence[tuple[int, str | None, int]]) -> list[FoundUser]:
    return [FoundUser(amplitude_id, user_id, last) for amplitude_id, user_id, last in rows]


def _amplitude_id_ranges(prefix: str) -> list[tuple[int, int]]:
    """The ``[low, high)`` ranges of the Amplitude IDs written with these leading digits (one
    per length up to 19 digits), so a prefix search is a few primary-key range reads."""
    if not prefix or not prefix.isascii() or not prefix.isdigit() or len(prefix) > 18:
        return []
    head = int(prefix)
    if head == 0:
        return []  # no id is written with a leading zero
    ranges = [(head * 10**extra, (head + 1) * 10**extra) for extra in range(19 - len(prefix) + 1)]
    return [(low, min(high, _MAX_ID)) for low, high in ranges if low <= _MAX_ID]


def search_users(conn: Conn, sources: Sequence[Source], text: str) -> tuple[str, list[FoundUser]]:
    """Amplitude's user search: an exact user or device id, then an exact Amplitude ID, then
    prefixes of user ids, device ids and Amplitude IDs (in that order, at most
    :data:`MAX_MATCHES` users, all answered as ``match_user_prefix``), as the SQLite store.

    Returns:
        The match type and the users (empty with ``nomatch``).
    """
    if not sources or not text:
        return "nomatch", []
    ids = [s.source_id for s in sources]
    columns = "u.amplitude_id, u.user_id, u.last_seen_ms"
    exact = conn.execute(
        f"SELECT {columns} FROM users u "
        "WHERE u.source_id = ANY(%s) AND u.user_id IS NOT NULL "
        "AND md5(u.user_id) = md5(%s) AND u.user_id = %s "
        f"UNION SELECT {columns} FROM devices d "
        "JOIN users u ON u.amplitude_id = d.amplitude_id "
        "WHERE d.source_id = ANY(%s) AND md5(d.device_id) = md5(%s) AND d.device_id = %s "
        "ORDER BY 3 DESC",
        (ids, text, text, ids, text, text),
    ).fetchall()
    if exact:
        return "match_user_or_device_id", _found(exact)
    if text.isascii() and text.isdigit() and len(text) <= 18:
        by_id = conn.execute(
            f"SELECT {columns} FROM users u WHERE u.source_id = ANY(%s) AND u.amplitude_id = %s",
            (ids, int(text)),
        ).fetchall()
        if by_id:
            return "match_amplitude_id", _found(by_id)
    found: dict[int, tuple[int, str | None, int]] = {}
    high = text + "\U0010ffff"
    for row in conn.execute(
        f"SELECT {columns} FROM users u WHERE u.source_id = ANY(%s) "
        "AND u.user_id >= %s AND u.user_id < %s ORDER BY u.user_id LIMIT %s",
        (ids, text, high, MAX_MATCHES),
    ):
        found.setdefault(row[0], row)
    if len(found) < MAX_MATCHES:
        for row in conn.execute(
            f"SELECT {columns} FROM devices d JOIN users u ON u.amplitude_id = d.amplitude_id "
            "WHERE d.source_id = ANY(%s) AND d.device_id >= %s AND d.device_id < %s "
            "ORDER BY d.device_id LIMIT %s",
            (ids, text, high, MAX_MATCHES),
        ):
            found.setdefault(row[0], row)
    for low, top in _amplitude_id_ranges(text):
        if len(found) >= MAX_MATCHES:
            break
        for row in conn.execute(
            f"SELECT {columns} FROM users u WHERE u.source_id = ANY(%s) "
            "AND u.amplitude_id >= %s AND u.amplitude_id < %s ORDER BY u.amplitude_id LIMIT %s",
            (ids, low, top, MAX_MATCHES),
        ):
            found.setdefault(row[0], row)
    if found:
        return "match_user_prefix", _found(list(found.values())[:MAX_MATCHES])
    return "nomatch", []


def user_summary(conn: Conn, sources: Sequence[Source], amplitude_id: int) -> UserSummary | None:
    """The user's state and event aggregates, or None for an id no covered source has."""
    vendors = {s.source_id: s.vendor for s in sources}
    if not vendors:
        return None
    user = conn.execute(
        "SELECT source_id, user_id, device_id, properties FROM users "
        "WHERE amplitude_id = %s AND source_id = ANY(%s)",
        (amplitude_id, list(vendors)),
    ).fetchone()
    if user is None:
        return None
    source_id, user_id, device_id, properties = user
    t = "coalesce(client_time_ms, received_time_ms)"
    totals = conn.execute(
        "SELECT count(*), count(DISTINCT session_id), count(revenue), "
        f"coalesce(sum(revenue), 0.0), min({t}), max({t}) FROM events WHERE amplitude_id = %s",
        (amplitude_id,),
    ).fetchone()
    assert totals is not None
    count, sessions, purchases, revenue, first, last = totals
    devices = [
        d
        for (d,) in conn.execute(
            "SELECT device_id FROM devices WHERE amplitude_id = %s ORDER BY device_id",
            (amplitude_id,),
        )
    ]
    if device_id is not None and device_id not in devices:
        devices.append(device_id)

    def payload_at(order: str) -> dict[str, Any]:
        row = conn.execute(
            f"SELECT e.payload, c.kind, c.body FROM {_EVENTS_WITH_CONTEXT} "
            f"WHERE e.amplitude_id = %s ORDER BY e.client_time_ms {_ORDER[order]}, "
            f"e.id {order} LIMIT 1",
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
        revenue=float(revenue),
        first_ms=first,
        last_ms=last,
        first_payload=payload_at("ASC"),
        last_payload=payload_at("DESC"),
    )


def user_events(
    conn: Conn, source: Source, amplitude_id: int, *, offset: int, limit: int, latest: bool
) -> list[ExportRow]:
    """One user's events, most recent first (or earliest first), a page at a time."""
    order = "DESC" if latest else "ASC"
    rows = conn.execute(
        f"SELECT {_EXPORT_COLUMNS} FROM {_EVENTS_WITH_CONTEXT} WHERE e.amplitude_id = %s "
        f"ORDER BY e.client_time_ms {_ORDER[order]}, e.id {order} LIMIT %s OFFSET %s",
        (amplitude_id, limit, offset),
    ).fetchall()
    return [ExportRow(source.vendor, *row) for row in rows]
