"""The query side's keys of the events, off the per-event write path: merged in bulk.

Listing by type, ``stats()``, event segmentation and export by receipt time were served by
three indexes on ``events``: ``(source_id, type)``, ``(source_id, event_name, client_time_ms,
amplitude_id, props)`` and ``(source_id, received_time_ms)``. Each insert wrote an entry into
each, and each commit wrote their touched pages to the WAL (and the checkpoint again): more
SQLite work and more bytes per event than the event row itself (bench/RESULTS.md, "sixth
round: the events' query keys"). So the events are stored without them, and what they gave
is kept in tables filled in bulk:

- ``event_counts (source_id, type, n)``: the events of each source and type, for ``stats()``
  (listing by type checks rows newest first, as the user filter does: a debugging aid). It
  counts every stored event, tail included: each request adds its own (:func:`count_events`,
  a few rows per request);
- ``event_names (source_id, name, time_ms, event_id)`` carrying ``amplitude_id``, ``type``
  and ``props`` (segmentation reads only this table when it needs nothing else); ``name``
  is the event name, :data:`NO_NAME` for none, and ``time_ms`` the client time,
  :data:`~trackwire.collector.sqlite.user_index.NO_TIME` for none (a key column of a WITHOUT
  ROWID table cannot be NULL);
- ``event_received (source_id, received_time_ms, event_id)``: export in receipt order.

They cover every event up to the **watermark**, the id in ``event_index_state`` (0 when the
row is missing: a new or reset file). The events after it -- the tail, fewer than about
:data:`MERGE_AT` -- are read by a range scan of ``events`` by id, and every read takes the
union of the two: the same rows, in the same order, as the indexes gave. The tail's ids are
all above the merged ones, so a newest-first listing reads the tail first. One statement
sees the watermark and the tables at one commit.

The writer merges inside its write transaction once the tail holds :data:`MERGE_AT` events
(:class:`EventKeys`): one ``INSERT ... SELECT`` per key table, which writes each page it touches
once for many keys, then the watermark moves to the last event. It reads the watermark in
that transaction, so several processes writing one file merge each tail once. The keys of
each stream of events arrive nearly in order (receipt times, client times per event name
advance), so a merge writes at the end of each key range and its cost does not grow with the
file. An alias merge moves events to another user: a trigger moves the ``amplitude_id`` of
their merged keys.
"""

from __future__ import annotations

import operator
import re
import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

from trackwire.collector.sqlite.bulk import WHOLE_TRANSACTION
from trackwire.collector.sqlite.user_index import NO_TIME

__all__ = [
    "COUNT_TAIL",
    "MERGE_AT",
    "MIGRATION",
    "NO_NAME",
    "TAIL",
    "WATERMARK",
    "EventKeys",
    "count_events",
    "merge",
    "merged_branch",
    "tail_branch",
]

#: Events stored after the watermark that trigger a merge. A read scans up to this many
#: rows of ``events`` by id per branch (~0.2 µs a row: whole rows, payloads and all); a merge
#: costs about the same per event at 10,000 as at 20,000 (each key is one B-tree insert).
MERGE_AT: Final = 10_000
#: ``name`` of an event without a name: a blob, so it sorts after every text and equals none.
NO_NAME: Final = "X''"
#: The highest event id whose keys are merged (0: none), as one SQL value.
WATERMARK: Final = "(SELECT coalesce(max(watermark), 0) FROM event_index_state)"
#: The condition that keeps an ``events`` row ``e`` to the tail.
TAIL: Final = f"e.id > {WATERMARK}"

_NAME: Final = f"coalesce(event_name, {NO_NAME})"
_TIME: Final = f"coalesce(client_time_ms, {NO_TIME})"
#: The events of each source and type: added per request, in its write transaction.
_COUNT: Final = (
    "INSERT INTO event_counts (source_id, type, n) VALUES (?, ?, ?) "
    "ON CONFLICT (source_id, type) DO UPDATE SET n = n + excluded.n"
)
#: The keys of the events after the watermark, ``?1``, up to ``?2``, per table. In id order:
#: sorting them by key first cost more (~0.7 µs per event for ``event_names``) than it saved,
#: as the keys of each table's ranges arrive nearly in order anyway.
_MERGES: Final = (
    f"INSERT {WHOLE_TRANSACTION} INTO event_names "
    "(source_id, name, time_ms, event_id, amplitude_id, type, props) "
    f"SELECT source_id, {_NAME}, {_TIME}, id, amplitude_id, type, props FROM events "
    "WHERE id > ?1 AND id <= ?2",
    f"INSERT {WHOLE_TRANSACTION} INTO event_received (source_id, received_time_ms, event_id) "
    "SELECT source_id, received_time_ms, id FROM events WHERE id > ?1 AND id <= ?2",
    "DELETE FROM event_index_state",
    "INSERT INTO event_index_state (watermark) VALUES (?2)",
)
#: The last stored id, as one SQL value.
_LAST: Final = "(SELECT coalesce(max(id), 0) FROM events)"
#: The keys of every stored event, in key order (packed pages), and the watermark at the end.
_FILL: Final = (
    "INSERT INTO event_counts (source_id, type, n) "
    "SELECT source_id, type, count(*) FROM events GROUP BY 1, 2",
    *(
        f"{statement.replace('?1', '0').replace('?2', _LAST)} ORDER BY {order}"
        for statement, order in zip(_MERGES[:2], ("1, 2, 3, 4", "1, 2, 3"), strict=True)
    ),
    f"INSERT INTO event_index_state (watermark) VALUES ({_LAST})",
)

#: Migration statements: the tables, the keys of the stored events, the indexes dropped.
MIGRATION: Final = (
    """
    CREATE TABLE event_counts (
        source_id INTEGER NOT NULL,
        type      TEXT NOT NULL,
        n         INTEGER NOT NULL,
        PRIMARY KEY (source_id, type)
    ) WITHOUT ROWID
    """,
    # ``name`` has no type affinity: texts stay texts and NO_NAME a blob.
    """
    CREATE TABLE event_names (
        source_id    INTEGER NOT NULL,
        name         BLOB NOT NULL,
        time_ms      INTEGER NOT NULL,
        event_id     INTEGER NOT NULL,
        amplitude_id INTEGER,
        type         TEXT NOT NULL,
        props        TEXT,
        PRIMARY KEY (source_id, name, time_ms, event_id)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE event_received (
        source_id        INTEGER NOT NULL,
        received_time_ms INTEGER NOT NULL,
        event_id         INTEGER NOT NULL,
        PRIMARY KEY (source_id, received_time_ms, event_id)
    ) WITHOUT ROWID
    """,
    "CREATE TABLE event_index_state (watermark INTEGER NOT NULL)",
    # An alias merge moves a user's events (sqlite/user_index.py): their merged keys follow.
    # One primary-key probe per moved event; none matches an event of the tail.
    f"""
    CREATE TRIGGER event_names_follow_user AFTER UPDATE OF amplitude_id ON events
    BEGIN
        UPDATE event_names SET amplitude_id = new.amplitude_id
        WHERE source_id = new.source_id AND name = coalesce(new.event_name, {NO_NAME})
            AND time_ms = coalesce(new.client_time_ms, {NO_TIME}) AND event_id = new.id;
    END
    """,
    *_FILL,
    # (IF EXISTS: a file whose owner dropped one by hand still opens.)
    "DROP INDEX IF EXISTS events_by_type",
    "DROP INDEX IF EXISTS events_by_name_time",
    "DROP INDEX IF EXISTS events_by_received",
)


#: Migration statements (version 11): ``event_counts`` takes in the events after the watermark,
#: as every later request adds its own.
COUNT_TAIL: Final = (
    "INSERT INTO event_counts (source_id, type, n) "
    f"SELECT source_id, type, count(*) FROM events WHERE id > {WATERMARK} GROUP BY 1, 2 "
    "ON CONFLICT (source_id, type) DO UPDATE SET n = n + excluded.n",
)

#: Where an event row of :class:`~trackwire.collector.store_ingest.Writes` holds its source
#: and type.
_SOURCE_OF: Final = operator.itemgetter(0)
_TYPE_OF: Final = operator.itemgetter(1)


def count_events(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Add the event rows just inserted to ``event_counts``, in the transaction (and the
    request's savepoint) of their insert: a few rows per request, where a ``GROUP BY`` over
    the tail at each merge read every event row again (~0.3 µs per event)."""
    if not rows:
        return
    sources = [*map(_SOURCE_OF, rows)]
    types = [*map(_TYPE_OF, rows)]
    source_id, kind = sources[0], types[0]
    # The common request, one source and one type, counted in C without a tuple per event.
    if sources.count(source_id) == len(sources) and types.count(kind) == len(types):
        conn.execute(_COUNT, (source_id, kind, len(rows)))
        return
    counts = Counter(zip(sources, types, strict=True))
    conn.executemany(_COUNT, [(source, type_, n) for (source, type_), n in counts.items()])


class EventKeys:
    """The writer's merges of the events' keys, run inside its write transaction.

    Nothing is cached: the watermark and the last id are read in the transaction (two
    lookups per group commit), so several processes writing one file each merge the tail
    they see, and a rolled-back transaction leaves nothing to forget.

    Args:
        merge_at: events after the watermark that trigger a merge.
    """

    __slots__ = ("_merge_at",)

    def __init__(self, merge_at: int = MERGE_AT) -> None:
        self._merge_at = merge_at

    def merge_if_due(self, conn: sqlite3.Connection) -> None:
        """Merge the keys of the tail once it holds :data:`MERGE_AT` events."""
        (watermark,) = conn.execute(f"SELECT {WATERMARK}").fetchone()
        (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
        if last - watermark >= self._merge_at:
            merge(conn, watermark, last)


def merge(conn: sqlite3.Connection, watermark: int, last: int) -> None:
    """Merge the keys of the events after ``watermark`` up to ``last`` and move the watermark
    there (in the caller's write transaction; ``watermark`` is the one it read in it)."""
    for statement in _MERGES:
        conn.execute(statement, (watermark, last) if "?" in statement else ())


#: ``events`` columns ``e.<column>`` that ``event_names`` holds, as its columns.
_COVERED: Final = {
    "source_id": "source_id",
    "event_name": "name",
    "client_time_ms": "time_ms",
    "amplitude_id": "amplitude_id",
    "type": "type",
    "props": "props",
    "id": "event_id",
}
_COLUMN: Final = re.compile(r"\be\.([a-z_]+)\b")
#: Alias of ``event_names`` in a merged branch.
_ALIAS: Final = "n"


def _covered(match: re.Match[str]) -> str:
    column = _COVERED.get(match.group(1))
    return match.group(0) if column is None else f"{_ALIAS}.{column}"


def tail_branch(where: str) -> str:
    """``where``, a condition on ``events e`` rows, kept to the tail."""
    return f"{TAIL} AND {where}"


def merged_branch(select: str, where: str) -> str:
    """The same selection as ``SELECT {select} FROM events e WHERE {where}`` over the events
    up to the watermark, read from ``event_names``.

    Every ``e.<column>`` that ``event_names`` holds reads it there (``e.event_name IS NULL``,
    ``e.client_time_ms IS NULL`` become its markers); the events table is joined, by id, only
    when another column is named. ``where`` must name the source and the event name (or
    none of them) as ``e.source_id = ?``/``e.event_name ...`` for the key to be used.
    """
    where = where.replace("e.event_name IS NULL", f"e.event_name = {NO_NAME}").replace(
        "e.client_time_ms IS NULL", f"e.client_time_ms = {NO_TIME}"
    )
    # A client-time range leaves out the no-time marker, as it left out NULL.
    where = re.sub(
        r"e\.client_time_ms >= \?", f"e.client_time_ms > {NO_TIME} AND e.client_time_ms >= ?", where
    )
    select, where = _COLUMN.sub(_covered, select), _COLUMN.sub(_covered, where)
    if _COLUMN.search(select) or _COLUMN.search(where):
        return (
            f"SELECT {select} FROM event_names {_ALIAS} CROSS JOIN events e "
            f"WHERE e.id = {_ALIAS}.event_id AND {where}"
        )
    return f"SELECT {select} FROM event_names {_ALIAS} WHERE {where}"
