"""The query side's reads in SQLite: the sources of a project, export rows, users.

Each function takes an open connection; the store runs them on one of its read connections.
The keys they rely on: ``event_received`` (see :mod:`.event_index`) for export,
the user key tables of :mod:`~trackwire.collector.sqlite.user_index` for user activity,
``users_by_user_id (source_id, user_id)`` for user search by id and id prefix, and the
``devices`` primary key for search by device id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

import orjson

from trackwire.collector.query.reader import ExportRow, Source
from trackwire.collector.query.users import FoundUser, UserSummary
from trackwire.collector.sqlite import event_index, user_index
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

#: Largest integer SQLite stores.
_MAX_ID: Final = 2**63 - 1
#: Most users a prefix search returns.
MAX_MATCHES: Final = 1000
_EXPORT_COLUMNS: Final = (
    "e.id, e.source_id, e.type, e.event_name, e.user_id, e.device_id, e.amplitude_id, "
    "e.session_id, e.client_time_ms, e.received_time_ms, e.dedup_key, e.groups, e.payload, "
    "c.kind, c.body, u.properties"
)
#: One event of an export page as a JSON array of EXPORT_FIELDS (see
#: trackwire.collector.query.reader.ExportPage): the other values by json_array, whose last
#: (a string or null) ends before its "]", then the payload spliced in as it is stored (JSON
#: already: the export decodes it with the row). The JSON texts are cast to text: JSON holds
#: no blob, should a writer ever store one as bytes.
_PAGE_ROW: Final = (
    "rtrim(json_array(e.id, e.type, e.event_name, e.user_id, e.device_id, e.amplitude_id, "
    "e.session_id, e.client_time_ms, e.received_time_ms, e.dedup_key, CAST(e.groups AS TEXT), "
    "c.kind, CAST(c.body AS TEXT), CAST(u.properties AS TEXT)), ']') || ',' || e.payload || ']'"
)
#: Each event with its shared request context (see trackwire.collector.store.expand) and its
#: user's properties (exported on every event, as Amplitude does).
_EVENTS_WITH_CONTEXT: Final = (
    "events e LEFT JOIN contexts c ON c.context_id = e.context_id "
    "LEFT JOIN users u ON u.amplitude_id = e.amplitude_id"
)
#: The keys ``(received_time_ms, id)`` of an export page, from the key after the last page's,
#: in receipt order: the merged keys (in key order) and the events after the watermark (a
#: scan of at most a merge's worth of rows, sorted), merged (see sqlite/event_index.py).
#: Parameters: ``?1`` source, ``?2``/``?3`` the receipt-time range, ``?4``/``?5`` the last
#: page's key, ``?6`` the limit.
_PAGE_KEYS: Final = (
    "SELECT received_time_ms AS r, event_id AS id FROM event_received "
    "WHERE source_id = ?1 AND received_time_ms >= ?2 AND received_time_ms < ?3 "
    "AND (received_time_ms > ?4 OR event_id > ?5) "
    "UNION ALL SELECT e.received_time_ms, e.id FROM events e "
    f"WHERE {event_index.TAIL} AND e.source_id = ?1 "
    "AND e.received_time_ms >= ?2 AND e.received_time_ms < ?3 "
    "AND (e.received_time_ms > ?4 OR e.id > ?5) "
    "ORDER BY 1, 2 LIMIT ?6"
)
#: The events of an export page, in receipt order: the page's keys lead the CROSS JOIN (which
#: SQLite never reorders), so rows come in their order; sorting the built rows again cost
#: ~1 ms per 1,000. The users' properties are joined to each event (a primary-key lookup):
#: measured ~0.5 µs per event less in all than reading the page's users apart and matching
#: them in Python.
_PAGE_FROM: Final = f"FROM ({_PAGE_KEYS}) p CROSS JOIN {_EVENTS_WITH_CONTEXT} WHERE e.id = p.id"
#: What separates the rows of a page built as one value (see export_page).
_ROW_END: Final = b"\x1e"
#: Events read per export page: one short read transaction each.
EXPORT_PAGE: Final = 5000


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
    where = f"source_id IN ({_in(len(sources))}) AND received_time_ms >= ? AND received_time_ms < ?"
    args = [*(s.source_id for s in sources), start_ms, end_ms]
    found = conn.execute(
        f"SELECT 1 FROM event_received WHERE {where} UNION ALL "
        f"SELECT 1 FROM events e WHERE {event_index.TAIL} AND {where} LIMIT 1",
        args * 2,
    ).fetchone()
    return found is not None


def _export_row(vendor: str, row: tuple[Any, ...]) -> ExportRow:
    return ExportRow(vendor, *row)


def export_page(
    conn: sqlite3.Connection,
    source: Source,
    after: tuple[int, int] | None,
    end_ms: int,
    start_ms: int,
    limit: int = EXPORT_PAGE,
) -> list[bytes]:
    """Up to ``limit`` events of a source received in ``[start_ms, end_ms)``, in receipt order
    (``received_time_ms``, ``id``), strictly after the key ``after`` (None: from the start).

    A keyset page: the export reads page after page, each in its own short read, so no read
    transaction lasts the whole export (a long one would keep the WAL from being checkpointed).
    Each row is the JSON array of :data:`_PAGE_ROW`, bytes.
    """
    if after is None:
        low, since, last_id = start_ms, start_ms - 1, -1
    else:
        low, (since, last_id) = after[0], after
    args = (source.source_id, low, end_ms, since, last_id, limit)
    try:
        # The page as one value, rows in order, separated by U+001E (JSON text holds no raw
        # control character but whitespace, so no row holds it): one step of the statement
        # does all of SQLite's work, and Python's sqlite3 lets go of the GIL for it (~2 µs per
        # event, on another core while the export writes the last page), where a row at a
        # time takes the GIL back for every row. group_concat takes the rows in the
        # subquery's order (pinned by the tests of a multi-page export).
        (page,) = conn.execute(
            f"SELECT CAST(group_concat(j, char(30)) AS BLOB) FROM (SELECT {_PAGE_ROW} AS j "
            f"{_PAGE_FROM})",
            args,
        ).fetchone()
    except sqlite3.DataError:
        # Longer than SQLite's longest value (1e9 bytes by default: large events): the same
        # rows one at a time.
        return [
            row for (row,) in conn.execute(f"SELECT CAST({_PAGE_ROW} AS BLOB) {_PAGE_FROM}", args)
        ]
    return page.split(_ROW_END) if page else []


def _found(
    conn: sqlite3.Connection, rows: Sequence[tuple[int, str | None, int]], *, latest: bool = False
) -> list[FoundUser]:
    """The users of ``rows`` with their last-seen times, each row's widened by the user's
    recent keys (see sqlite/user_index.py); ``latest``: most recently seen first."""
    pending = user_index.pending_spans(conn, [amplitude_id for amplitude_id, _, _ in rows])
    found = []
    for amplitude_id, user_id, last in rows:
        span = pending.get(amplitude_id)
        found.append(FoundUser(amplitude_id, user_id, last if span is None else max(last, span[1])))
    if latest:
        found.sort(key=lambda user: user.last_seen_ms, reverse=True)
    return found


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


def search_users(
    conn: sqlite3.Connection, sources: Sequence[Source], text: str
) -> tuple[str, list[FoundUser]]:
    """Amplitude's user search: an exact user or device id, then an exact Amplitude ID, then
    prefixes of user ids, device ids and Amplitude IDs (in that order, at most
    :data:`MAX_MATCHES` users, all answered as ``match_user_prefix``).

    Returns:
        The match type and the users (empty with ``nomatch``).
    """
    if not sources or not text:
        return "nomatch", []
    # The users' rows and their recent keys at one commit (see _found).
    with user_index.snapshot(conn):
        return _search(conn, sources, text)


def _search(
    conn: sqlite3.Connection, sources: Sequence[Source], text: str
) -> tuple[str, list[FoundUser]]:
    ids = [s.source_id for s in sources]
    where = f"u.source_id IN ({_in(len(ids))})"
    columns = "u.amplitude_id, u.user_id, u.last_seen_ms"
    exact = conn.execute(
        f"SELECT {columns} FROM users u WHERE {where} AND u.user_id = ? "
        f"UNION SELECT {columns} FROM devices d JOIN users u ON u.amplitude_id = d.amplitude_id "
        f"WHERE d.source_id IN ({_in(len(ids))}) AND d.device_id = ? "
        "ORDER BY 3 DESC",
        [*ids, text, *ids, text],
    ).fetchall()
    if exact:
        # Ordered again once the recent keys have widened the rows' spans.
        return "match_user_or_device_id", _found(conn, exact, latest=True)
    if text.isascii() and text.isdigit() and len(text) <= 18:
        by_id = conn.execute(
            f"SELECT {columns} FROM users u WHERE {where} AND u.amplitude_id = ?",
            [*ids, int(text)],
        ).fetchall()
        if by_id:
            return "match_amplitude_id", _found(conn, by_id)
    found: dict[int, tuple[int, str | None, int]] = {}
    # Ranges on the (source_id, user_id) index and the devices key: every id starting with
    # the text.
    high = text + "\U0010ffff"
    for row in conn.execute(
        f"SELECT {columns} FROM users u WHERE {where} "
        "AND u.user_id >= ? AND u.user_id < ? ORDER BY u.user_id LIMIT ?",
        [*ids, text, high, MAX_MATCHES],
    ):
        found.setdefault(row[0], row)
    if len(found) < MAX_MATCHES:
        for row in conn.execute(
            f"SELECT {columns} FROM devices d JOIN users u ON u.amplitude_id = d.amplitude_id "
            f"WHERE d.source_id IN ({_in(len(ids))}) AND d.device_id >= ? AND d.device_id < ? "
            "ORDER BY d.device_id LIMIT ?",
            [*ids, text, high, MAX_MATCHES],
        ):
            found.setdefault(row[0], row)
    for low, top in _amplitude_id_ranges(text):
        if len(found) >= MAX_MATCHES:
            break
        for row in conn.execute(
            f"SELECT {columns} FROM users u WHERE {where} "
            "AND u.amplitude_id >= ? AND u.amplitude_id < ? ORDER BY u.amplitude_id LIMIT ?",
            [*ids, low, top, MAX_MATCHES],
        ):
            found.setdefault(row[0], row)
    if found:
        return "match_user_prefix", _found(conn, list(found.values())[:MAX_MATCHES])
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
        f"min({t}), max({t}) FROM events WHERE id IN ({user_index.EVENT_IDS})",
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
            # The user's keys in time order: one event row read.
            f"SELECT e.payload, c.kind, c.body FROM ({user_index.keys_page(order)}) k "
            f"CROSS JOIN {_EVENTS_WITH_CONTEXT} WHERE e.id = k.event_id",
            (amplitude_id, 1, 0),
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
        # The user's keys in time order: only the page's event rows are read. Events without a
        # client time (rare: every SDK sets one) come last.
        f"SELECT {_EXPORT_COLUMNS} FROM ({user_index.keys_page(order)}) k "
        f"CROSS JOIN {_EVENTS_WITH_CONTEXT} WHERE e.id = k.event_id "
        f"ORDER BY k.time_ms {order}, k.event_id {order}",
        (amplitude_id, limit, offset),
    ).fetchall()
    return [_export_row(source.vendor, row) for row in rows]
