"""Rollups the query side keeps at ingest: who was active on which day.

``active_days`` holds one row per (source, UTC day, user) with at least one active event that
day. The store's ingest adds the days of each request's new events after their insert (a
trigger per inserted row cost a quarter of ingest CPU): :class:`ActiveDays` writes only the
days its copy of the table lacks, else :func:`roll_up` adds them in one statement; a
trigger moves the days of a user whose events an alias merge moves (rare, one update each).
Uniques of ``_active`` and ``pct_dau``'s active users read it instead of every active event:
about a third of the rows at the benchmark's scale, index only.

The day is the segmentation's: the client time, else the receipt time, divided by 86,400,000
as SQLite divides. Inactive types (identify, group, alias, an mParticle batch) never count (see
:data:`INACTIVE`).
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from trackwire.collector.query.mapping import INACTIVE_TYPES
from trackwire.collector.sqlite import bulk

__all__ = ["ACTIVE_DAYS", "INACTIVE", "ActiveDays", "last_event_id", "roll_up"]


def _quoted(values: frozenset[str]) -> str:
    # Fixed names from mapping (no quote in them), written into the schema's SQL.
    assert all("'" not in value for value in values)
    return ", ".join(f"'{value}'" for value in sorted(values))


#: Every vendor's inactive types together. No vendor stores an active event under a type
#: another vendor calls inactive (a test holds this), so the trigger needs no lookup of the
#: row's vendor: it runs on every insert, and a lookup there cost a quarter of ingest CPU.
INACTIVE: Final = frozenset().union(*INACTIVE_TYPES.values())
#: The row's type is inactive (``{row}``: the row's name).
_INACTIVE: Final = f"{{row}}.type IN ({_quoted(INACTIVE)})"
_DAY: Final = "coalesce({row}.client_time_ms, {row}.received_time_ms) / 86400000"

#: The active days of the events stored after a given id.
_ROLL_UP: Final = f"""
    INSERT OR IGNORE INTO active_days (source_id, day, amplitude_id)
    SELECT e.source_id, {_DAY.format(row="e")}, e.amplitude_id
    FROM events e WHERE e.id > ? AND e.amplitude_id IS NOT NULL
        AND NOT {_INACTIVE.format(row="e")}
"""


def last_event_id(conn: sqlite3.Connection) -> int:
    """The highest event id stored (0 for none); read before inserting a request's events."""
    row = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
    return int(row[0])


def roll_up(conn: sqlite3.Connection, after_id: int) -> None:
    """Add the active days of the events stored after ``after_id`` (in the same transaction
    as their insert)."""
    conn.execute(_ROLL_UP, (after_id,))


#: A day in milliseconds: the divisor of :data:`_DAY`.
_DAY_MS: Final = 86_400_000
#: Where an event row of :class:`~trackwire.collector.store_ingest.Writes` holds the columns
#: the roll-up reads.
_SOURCE, _TYPE, _AMPLITUDE_ID, _CLIENT_TIME, _RECEIVED_TIME = 0, 1, 5, 7, 8
_SOURCE_OF: Final = operator.itemgetter(_SOURCE)
_TYPE_OF: Final = operator.itemgetter(_TYPE)
_AMPLITUDE_ID_OF: Final = operator.itemgetter(_AMPLITUDE_ID)
_CLIENT_TIME_OF: Final = operator.itemgetter(_CLIENT_TIME)
#: Triples :class:`ActiveDays` keeps before it starts again from empty.
ACTIVE_DAYS_KEPT: Final = 200_000
#: A triple of ``active_days``: ``(source_id, day, amplitude_id)``.
Triple = tuple[int, int, int]


class ActiveDays:
    """The writer's copy of ``active_days`` triples it wrote, so a request inserts only the
    days its events add: nearly every event's triple is already stored, and the
    ``INSERT OR IGNORE ... SELECT`` of :func:`roll_up` probed the table once per event.

    The copy may miss triples (another writer's, or those forgotten) but never holds one the
    table lacks: the store forgets it whenever that could stop being true -- another
    connection committed (``data_version``), a transaction rolled back, the store was reset,
    or an alias moved events (the trigger deletes the merged-away user's days). A request
    rolled back to its savepoint takes back its own triples (:meth:`rolled_back`). Bounded by
    :data:`ACTIVE_DAYS_KEPT`: past it the copy starts again from empty.
    """

    __slots__ = ("_added", "_count", "_kept", "_limit")

    def __init__(self, limit: int = ACTIVE_DAYS_KEPT) -> None:
        self._limit = limit
        #: source_id -> day -> amplitude ids: probed without building a tuple per event (a
        #: tuple per event fed the garbage collector's young generation).
        self._kept: dict[int, dict[int, set[int]]] = {}
        self._count = 0
        #: Triples the current request added (taken back if it rolls back).
        self._added: list[Triple] = []

    def __len__(self) -> int:
        return self._count

    def __contains__(self, triple: object) -> bool:
        if not isinstance(triple, tuple) or len(triple) != 3:
            return False
        source_id, day, amplitude_id = triple
        return amplitude_id in self._kept.get(source_id, {}).get(day, ())

    def savepoint(self) -> None:
        """A request starts: what it adds is taken back by :meth:`rolled_back`."""
        self._added = []

    def rolled_back(self) -> None:
        """The current request was rolled back: forget the triples it added."""
        self._take_back(self._added)
        self._added = []

    def forget(self) -> None:
        """Drop the copy (the table may have lost some of its triples)."""
        self._kept.clear()
        self._count = 0
        self._added = []

    def _take_back(self, triples: Sequence[Triple]) -> None:
        for source_id, day, amplitude_id in triples:
            ids = self._kept.get(source_id, {}).get(day)
            if ids is not None and amplitude_id in ids:
                ids.discard(amplitude_id)
                self._count -= 1

    def roll_up(
        self, conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]], after_id: int
    ) -> None:
        """Add the active days of the event rows just inserted (ids after ``after_id``), in
        the transaction of their insert: the same triples as :func:`roll_up`, only those this
        copy lacks written."""
        if self._count > self._limit:
            self.forget()
        if self._roll_up_one_day(conn, rows):
            return
        kept = self._kept
        new: list[Triple] = []
        current: int | None = None  # the source of ``days``
        days: dict[int, set[int]] = {}
        for row in rows:
            amplitude_id = row[_AMPLITUDE_ID]
            if amplitude_id is None or row[_TYPE] in INACTIVE:
                continue
            when = row[_CLIENT_TIME]
            if when is None:
                when = row[_RECEIVED_TIME]
            if type(when) is not int:
                # Not a plain int (SQLite would divide a REAL as a REAL): let SQL decide.
                self._take_back(new)
                roll_up(conn, after_id)
                return
            # SQLite's integer division rounds towards zero, ``//`` down.
            day = when // _DAY_MS if when >= 0 else -(-when // _DAY_MS)
            source_id: int = row[_SOURCE]
            if source_id != current:
                current = source_id
                days = kept.setdefault(source_id, {})
            ids = days.get(day)
            if ids is None:
                ids = days[day] = set()
            if amplitude_id not in ids:
                ids.add(amplitude_id)
                self._count += 1
                new.append((source_id, day, amplitude_id))
        self._write(conn, new)

    def _write(self, conn: sqlite3.Connection, new: list[Triple]) -> None:
        """Insert the triples this copy has just taken in (taken back on a rollback)."""
        if new:
            self._added += new
            bulk.insert_rows(
                conn, "INSERT OR IGNORE INTO active_days (source_id, day, amplitude_id)", 3, new
            )

    def _roll_up_one_day(self, conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> bool:
        """:meth:`roll_up` for the common request -- one source, active events only, client
        times of one day -- as passes in C; False (nothing done) for any other.

        Each pass builds no set or list it can avoid (bench/RESULTS.md, "seventh round: the
        query-side keys"): the sources are counted off the rows, the times checked by
        ``min``/``max``/``sum``, and the request's users probed against the copy before any
        set of them is built, as nearly every request brings no new one.
        """
        if not rows:
            return True
        source_id = rows[0][_SOURCE]
        one_source = operator.countOf(map(_SOURCE_OF, rows), source_id) == len(rows)
        if not one_source or not INACTIVE.isdisjoint(map(_TYPE_OF, rows)):
            return False
        times = [*map(_CLIENT_TIME_OF, rows)]
        try:
            first, last = min(times), max(times)
            # Plain ints only (bools are ints to SQLite too): a float makes the sum a float,
            # a None or a text raises here. SQLite would divide a REAL as a REAL.
            if type(sum(times)) is not int:
                return False
        except TypeError:
            return False
        if first < 0 or first // _DAY_MS != last // _DAY_MS:
            return False
        day = first // _DAY_MS
        days = self._kept.get(source_id)
        if days is None:
            days = self._kept[source_id] = {}
        kept = days.get(day)
        if kept is None:
            kept = days[day] = set()
        elif kept.issuperset(map(_AMPLITUDE_ID_OF, rows)):
            return True  # (no None among them either: the copy holds ids only)
        ids = set(map(_AMPLITUDE_ID_OF, rows))
        ids.discard(None)
        ids -= kept
        if ids:
            kept |= ids
            self._count += len(ids)
            self._write(conn, [(source_id, day, amplitude_id) for amplitude_id in ids])
        return True


#: Migration statements: the table, its back-fill from stored events, the move trigger.
ACTIVE_DAYS: Final = (
    """
    CREATE TABLE active_days (
        source_id    INTEGER NOT NULL,
        day          INTEGER NOT NULL,
        amplitude_id INTEGER NOT NULL,
        PRIMARY KEY (source_id, day, amplitude_id)
    ) WITHOUT ROWID
    """,
    f"""
    INSERT OR IGNORE INTO active_days (source_id, day, amplitude_id)
    SELECT e.source_id, {_DAY.format(row="e")}, e.amplitude_id
    FROM events e WHERE e.amplitude_id IS NOT NULL AND NOT {_INACTIVE.format(row="e")}
    """,
    # A merge moves every event of the old user in one statement: each moved row takes its
    # own day from the old user (a key lookup) and gives it to the new one.
    f"""
    CREATE TRIGGER active_days_on_move AFTER UPDATE OF amplitude_id ON events
    WHEN NEW.amplitude_id IS NOT OLD.amplitude_id
    BEGIN
        DELETE FROM active_days WHERE source_id = OLD.source_id
            AND day = {_DAY.format(row="OLD")} AND amplitude_id = OLD.amplitude_id;
        INSERT OR IGNORE INTO active_days (source_id, day, amplitude_id)
        SELECT NEW.source_id, {_DAY.format(row="NEW")}, NEW.amplitude_id
        WHERE NEW.amplitude_id IS NOT NULL AND NOT {_INACTIVE.format(row="NEW")};
    END
    """,
)
