"""The writer's negative filter over ``dedup_keys``: read in steps, grown, kept up to date.

:class:`~trackwire.collector.sqlite.dedup.DedupKeys` asks it which hashes of a request must be
looked up in ``dedup_keys`` (:meth:`MergedFilter.lookups`): the few its
:class:`~trackwire.collector.sqlite.key_filter.KeyFilter` cannot rule out. Reading every hash
of the table into a filter costs ~0.5 µs a key in Python (a second at 2M keys): done at once,
the request that needed it would wait that long. So a filter is read in steps of
:data:`LOAD_STEP` hashes in hash order, one step per write transaction (:meth:`step`); until it
is complete, the hashes above the step's cursor are looked up in the table as before. A full
filter (past ~1 % false positives) keeps answering while one twice as large is read the same
way, then gives way to it.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Collection
from typing import Final

from trackwire.collector.sqlite.key_filter import KeyFilter

__all__ = ["LOAD_STEP", "MergedFilter"]

#: Hashes of ``dedup_keys`` read into a filter being built, per write transaction (~0.1 s).
LOAD_STEP: Final = 200_000
#: The least signed 64-bit hash: where reading the table starts.
_LOWEST: Final = -(2**63)
_HIGHEST: Final = 2**63 - 1
_first_column: Final = operator.itemgetter(0)


class MergedFilter:
    """The filter over the hashes of ``dedup_keys``, for the store's writer.

    It never lacks a key of the table: the owner gives it the keys it merges (:meth:`add`) and
    calls :meth:`catch_up` when another writer may have merged; keys of a transaction that
    rolled back may stay in it (they only cost a lookup). :meth:`forget` starts it over.
    """

    __slots__ = ("_building", "_filter", "_keys", "_last", "_next", "_scanned")

    def __init__(self) -> None:
        #: A complete filter: every hash of dedup_keys (None: none yet).
        self._filter: KeyFilter | None = None
        #: A filter being read from the table in hash order: every hash below _next.
        self._building: KeyFilter | None = None
        self._next = _LOWEST
        #: (hash, event_id) of the key of dedup_keys with the highest event id the filters
        #: have (or will have once read): every key of an event up to it is covered.
        self._last: tuple[int, int] | None = None
        #: Keys of dedup_keys: counted when a filter is started, then those added.
        self._keys = 0
        #: The highest event id whose key (if it has one) the filters cover: where the next
        #: catch_up reads from (past events without keys too).
        self._scanned = 0

    @property
    def keys(self) -> int:
        """About how many keys ``dedup_keys`` holds (0 until a filter is started): counted
        once, then the keys added. Keys of a rolled-back merge may stay counted."""
        return self._keys

    @property
    def nbytes(self) -> int:
        """The memory the filters' bits take."""
        return sum(f.nbytes for f in (self._filter, self._building) if f is not None)

    @property
    def complete(self) -> bool:
        """A complete filter answers every hash (none is looked up only for want of one)."""
        return self._filter is not None

    def forget(self) -> None:
        """Drop the filters: the table is read again from the start."""
        self._filter = self._building = None
        self._next = _LOWEST
        self._last = None
        self._keys = 0
        self._scanned = 0

    def lookups(self, conn: sqlite3.Connection, hashes: Collection[int]) -> list[int]:
        """The hashes to look up in ``dedup_keys``: those the filter cannot rule out, and
        while none is complete, those beyond the part read so far."""
        if self._filter is not None:
            return self._filter.maybe(hashes)
        building = self._start(conn)
        below = self._next
        return building.maybe([h for h in hashes if h < below]) + [h for h in hashes if h >= below]

    def _start(self, conn: sqlite3.Connection) -> KeyFilter:
        """The filter being built, started (sized for the table) if there is none."""
        if self._building is None:
            count: int = conn.execute("SELECT count(*) FROM dedup_keys").fetchone()[0]
            self._building = KeyFilter(2 * count)
            self._next = _LOWEST
            self._keys = count
            if self._filter is None:  # (a larger one, below, keeps the last key it had)
                self._last = conn.execute("SELECT hash, max(event_id) FROM dedup_keys").fetchone()
                if self._last is not None and self._last[1] is None:
                    self._last = None  # the table is empty
                self._scanned = 0 if self._last is None else self._last[1]
        return self._building

    def step(self, conn: sqlite3.Connection) -> None:
        """Read the next :data:`LOAD_STEP` hashes into the filter being built, if any; once
        all are read it becomes the filter. Called once per write transaction."""
        building = self._building
        if building is None:
            if self._filter is None:
                building = self._start(conn)
            else:
                return
        rows = conn.execute(
            "SELECT hash FROM dedup_keys WHERE hash >= ? ORDER BY hash LIMIT ?",
            (self._next, LOAD_STEP),
        ).fetchall()
        building.add(map(_first_column, rows))
        # (Rows of the last hash the step cut off add nothing: the filter holds hashes.)
        if len(rows) < LOAD_STEP or rows[-1][0] == _HIGHEST:
            self._filter, self._building, self._next = building, None, _LOWEST
        else:
            self._next = rows[-1][0] + 1

    def add(self, hashes: Collection[int], last: tuple[int, int] | None) -> None:
        """This writer merged these hashes into ``dedup_keys``; ``last`` is the merged key
        with the highest event id."""
        for key_filter in (self._filter, self._building):
            if key_filter is not None:
                key_filter.add(hashes)
        if last is not None:
            self._last = last
            self._scanned = max(self._scanned, last[1])
        self._keys += len(hashes)
        self._grow()

    def _grow(self) -> None:
        if self._filter is not None and self._filter.full and self._building is None:
            # Read one twice as large; the full one answers (a little less well) meanwhile.
            self._building = KeyFilter(2 * self._filter.count)
            self._next = _LOWEST

    def catch_up(self, conn: sqlite3.Connection) -> None:
        """Another writer may have merged: add the keys of every event above the last one
        covered, read from ``events`` by id (a range of its primary key; ``dedup_keys`` has no
        index by event id), whichever table holds them now: keys still recent are only covered
        twice. (Event ids only grow; if the last event covered is gone or holds another key,
        the file was reset, and the filter starts over.)"""
        if self._filter is None and self._building is None:
            return  # nothing read yet: the table is read as it is now
        # (Imported here: dedup imports this module.)
        from trackwire.collector.sqlite.dedup import dedup_hashes

        last = self._last
        if last is not None:
            row = conn.execute(
                "SELECT dedup_scope, dedup_key FROM events WHERE id = ? AND dedup_key IS NOT NULL",
                (last[1],),
            ).fetchone()
            if row is None or dedup_hashes([(str(row[0]), str(row[1]))]) != [last[0]]:
                self.forget()
                return
        top: int = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        rows = conn.execute(
            "SELECT id, dedup_scope, dedup_key FROM events "
            "WHERE id > ? AND id <= ? AND dedup_key IS NOT NULL",
            (self._scanned, top),
        ).fetchall()
        if rows:
            hashes = dedup_hashes([(str(scope), str(key)) for _, scope, key in rows])
            self.add(hashes, (hashes[-1], rows[-1][0]))
        self._scanned = max(self._scanned, top)
