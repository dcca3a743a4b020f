"""De-duplication keys of the SQLite store: 64-bit hashes, recent ones appended, merged in bulk.

Message ids are random text (UUIDs, mostly) in a scope (see
:func:`trackwire.collector.store_ingest.dedup_scope`). A unique index on the two texts was the
costliest part of ingest past a million events: each insert landed on a random page of a
packed B-tree, and SQLite's rebalancing dirtied several pages per event, each written to the
WAL at commit and again at the checkpoint. Any index kept in the order of random keys does the
same, however small its entries. So keys live in two tables, both of 64-bit hashes with the
event's id:

- ``dedup_recent``, the keys stored since the last merge, appended in arrival order (no index:
  an append dirties the last page only) and mirrored in memory (:class:`DedupKeys`);
- ``dedup_keys``, every older key, ordered by hash. Every :data:`MERGE_AT` keys (more as the
  table grows, up to :data:`MERGE_AT_MOST`) the recent ones are merged into it in hash order,
  one pass that writes each page it touches once for many keys, and ``dedup_recent`` is
  emptied.

Two distinct keys may share a hash, so a hash match is only a candidate: it counts as a
duplicate when the stored event's scope and key texts are the same. The hash is part of the
file format: never change :func:`dedup_hash`.
"""

from __future__ import annotations

import array
import hashlib
import operator
import sqlite3
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from trackwire.collector.sqlite import bulk
from trackwire.collector.sqlite.merged_filter import MergedFilter

__all__ = [
    "KEYS_PER_RECENT",
    "MERGE_AT",
    "MERGE_AT_MOST",
    "SQL_FUNCTION",
    "DedupKeys",
    "dedup_hash",
    "dedup_hashes",
    "register",
]

#: The name of :func:`dedup_hash` inside SQL (the migration back-fills stored events with it).
SQL_FUNCTION: Final = "trackwire_dedup_hash"
#: Recent keys merged into ``dedup_keys`` at once, at the least. Larger batches write each page
#: of it once for more keys (a merge rewrites about every page of the table, and writes each to
#: the WAL at commit: the cost per event is the table's size over the batch); the recent keys
#: are held in memory (~120 bytes each: 12 MB).
MERGE_AT: Final = 100_000
#: The batch grows with the table (one recent key per :data:`KEYS_PER_RECENT` merged ones, so a
#: merge costs about the same per key at any size) up to this many recent keys (48 MB).
MERGE_AT_MOST: Final = 400_000
#: Merged keys per recent key held before a merge, once the table is large (see above).
KEYS_PER_RECENT: Final = 5
#: Values bound per ``IN (...)``: far below SQLite's limit on host parameters.
_IN_CHUNK: Final = 500

#: A de-duplication key in its scope: ``(scope, key)``.
Pair = tuple[str, str]


def dedup_hash(scope: str, key: str) -> int:
    """The signed 64-bit hash of a de-duplication key in its scope (BLAKE2b, 8 bytes).

    ``surrogatepass``: an id is any text a request can carry, lone surrogates included.
    """
    digest = _BLAKE2B_8.copy()  # a copy of a fresh hasher: cheaper than its constructor
    digest.update(f"{scope}\x00{key}".encode("utf-8", "surrogatepass"))
    return _from_bytes(digest.digest(), "little", signed=True)


def dedup_hashes(pairs: Iterable[Pair]) -> list[int]:
    """:func:`dedup_hash` of each ``(scope, key)`` pair, in order: the same values, with the
    text joined and the digests turned into integers in C rather than per pair in Python."""
    new = _BLAKE2B_8.copy
    digests: list[bytes] = []
    append = digests.append
    for pair in pairs:
        try:
            text = "\x00".join(pair)
        except TypeError:  # a key that is not text (a caller's own record): formatted, as there
            text = f"{pair[0]}\x00{pair[1]}"
        digest = new()
        digest.update(text.encode("utf-8", "surrogatepass"))
        append(digest.digest())
    values = array.array("q")  # 8-byte signed integers, as the digests are read
    values.frombytes(b"".join(digests))
    if sys.byteorder == "big":
        values.byteswap()  # the digest is read little-endian (see dedup_hash)
    return values.tolist()


#: An empty 8-byte BLAKE2b, copied per hash (the hash runs per event).
_BLAKE2B_8: Final = hashlib.blake2b(digest_size=8)
_from_bytes: Final = int.from_bytes
_first_column: Final = operator.itemgetter(0)
#: dedup_recent's first row: another writer's merge changes it (see DedupKeys._loaded).
_FIRST_RECENT: Final = "SELECT rowid, hash, event_id FROM dedup_recent ORDER BY rowid LIMIT 1"


def _sql_dedup_hash(scope: str | None, key: str | None) -> int | None:
    if scope is None or key is None:
        return None
    return dedup_hash(str(scope), str(key))


def register(conn: sqlite3.Connection) -> None:
    """Make :data:`SQL_FUNCTION` callable in SQL on ``conn`` (needed by the migration)."""
    conn.create_function(SQL_FUNCTION, 2, _sql_dedup_hash, deterministic=True)


def _select_in(conn: sqlite3.Connection, sql: str, values: Sequence[int]) -> list[Any]:
    rows: list[Any] = []
    for start in range(0, len(values), _IN_CHUNK):
        chunk = values[start : start + _IN_CHUNK]
        rows += conn.execute(f"{sql} IN ({', '.join('?' * len(chunk))})", chunk).fetchall()
    return rows


class DedupKeys:
    """The store's stored keys, used by its writer inside the write transaction.

    Two parts, both in memory:

    - the recent keys: an exact copy of ``dedup_recent`` (hash -> event ids), exact while this
      connection is the only writer and every transaction commits. A request rolled back to
      its savepoint takes back only its own keys (:meth:`savepoint`, :meth:`rolled_back`):
      reading up to :data:`MERGE_AT_MOST` keys again for each such request would let bad requests
      cost far more than good ones.
    - a negative filter over the hashes of ``dedup_keys``
      (:class:`~trackwire.collector.sqlite.merged_filter.MergedFilter`): only the hashes it
      cannot rule out (~1 % of new ones) are looked up in the table, instead of a probe of a
      random page per message id. It is read from the table in steps, one per transaction,
      given the recent keys at each merge, and rebuilt twice as large once full. It never
      lacks a key: keys of a rolled-back transaction that stay in it only cost a lookup.

    When another connection has committed (``PRAGMA data_version``), the store calls
    :meth:`others_committed`. While ``dedup_recent``'s first row is the one seen last, the
    other writer did not merge, and only the rows after the last one seen are read. Otherwise
    the recent keys are read again, and the keys it moved into ``dedup_keys`` -- those of
    events above the last one the filter has -- are added to the filter. (Event ids only grow:
    nothing is deleted but by a reset, noticed when the filter's last key is gone from the
    table; the filter is then read again.)

    Memory: the recent keys ~120 bytes each (12 MB at :data:`MERGE_AT`, 48 MB at
    :data:`MERGE_AT_MOST`, held once ``dedup_keys`` has 2M keys); the filter 1.5 bytes
    per key of ``dedup_keys`` when full, up to 6 when just rebuilt (room for twice the keys,
    rounded up to a power of two: 8 MiB at 2M keys), and the two together while a larger one
    is read.

    Args:
        merge_at: recent keys that trigger a merge (:meth:`merge_if_due`), at the least.
        merge_at_most: the most recent keys held before a merge once ``dedup_keys`` is large
            (one per :data:`KEYS_PER_RECENT` of its keys); None: always ``merge_at``.
    """

    __slots__ = (
        "_added",
        "_count",
        "_first",
        "_last_rowid",
        "_merge_at",
        "_merge_at_most",
        "_merged",
        "_more",
        "_recent",
        "_unsure",
        "_wrote",
    )

    def __init__(self, merge_at: int = MERGE_AT, merge_at_most: int | None = MERGE_AT_MOST) -> None:
        self._merge_at = merge_at
        self._merge_at_most = merge_at_most
        #: hash -> the id of the first event with it in dedup_recent; None: read the table.
        self._recent: dict[int, int] | None = None
        #: hash -> the ids of further events with it (distinct keys of one hash: rare).
        self._more: dict[int, list[int]] = {}
        self._count = 0  # ids in _recent and _more
        #: (hash, event_id) rows added since the last savepoint.
        self._added: list[tuple[int, int]] = []
        #: The filter over the hashes of dedup_keys.
        self._merged = MergedFilter()
        #: dedup_recent's first row (rowid, hash, event_id) as last seen (None: it was empty,
        #: or not looked at since this writer added to it).
        self._first: tuple[int, int, int] | None = None
        #: The highest rowid of dedup_recent in _recent (0: none).
        self._last_rowid = 0
        #: This writer appended to dedup_recent since merge_if_due last looked at its end.
        self._wrote = False
        #: Another connection committed: on the next read of the recent keys, check whether
        #: it merged.
        self._unsure = False

    @property
    def merge_threshold(self) -> int:
        """The recent keys that trigger the next merge: ``merge_at``, or more once
        ``dedup_keys`` holds over :data:`KEYS_PER_RECENT` times as many, up to
        ``merge_at_most``."""
        most = self._merge_at_most
        if most is None:
            return self._merge_at
        return max(self._merge_at, min(most, self._merged.keys // KEYS_PER_RECENT))

    @property
    def filter_bytes(self) -> int:
        """The memory the filter's bits take (0 until it is read)."""
        return self._merged.nbytes

    def savepoint(self) -> None:
        """A request's savepoint begins: :meth:`rolled_back` takes back what it adds."""
        self._added = []

    def rolled_back(self) -> None:
        """The request was rolled back to its savepoint: forget the keys it added."""
        added, self._added = self._added, []
        recent = self._recent
        if recent is None:
            return  # read again from the table when next needed
        more = self._more
        for hash_, event_id in added:
            others = more.get(hash_)
            if others is not None and event_id in others:
                others.remove(event_id)
            elif recent.get(hash_) == event_id:
                if others:
                    recent[hash_] = others.pop(0)
                else:
                    del recent[hash_]
            if others is not None and not others:
                del more[hash_]
        self._count -= len(added)

    def forget(self) -> None:
        """Drop everything held in memory: the tables may differ from it in any way (a
        transaction that failed, a reset). Both parts are read again when next needed."""
        self._recent = None
        self._merged.forget()
        self._first = None
        self._last_rowid = 0
        self._unsure = self._wrote = False

    def others_committed(self) -> None:
        """Another connection has committed: when next needed, read the recent keys it added
        (all of them again if it merged) and bring the filter up to date if it merged."""
        self._unsure = True

    def _loaded(self, conn: sqlite3.Connection) -> dict[int, int]:
        if self._unsure:
            self._unsure = False
            first = conn.execute(_FIRST_RECENT).fetchone()
            # A merge empties dedup_recent: while its first row is the one seen last, no
            # merge happened since and the rows after the last one seen are all that is new.
            # Otherwise (or with no row to compare) another writer may have merged keys that
            # the filter lacks, and the recent keys are read again.
            if self._recent is not None and first is not None and first == self._first:
                self._remember_after(conn, self._last_rowid)
            else:
                self._merged.catch_up(conn)
                self._recent = None
            self._first = first
        if self._recent is None:
            self._first = conn.execute(_FIRST_RECENT).fetchone()
            self._recent, self._more, self._count = {}, {}, 0
            self._last_rowid = 0
            self._remember_after(conn, 0)
        return self._recent

    def _remember_after(self, conn: sqlite3.Connection, rowid: int) -> None:
        """Remember the rows of ``dedup_recent`` after ``rowid`` (in the order appended)."""
        rows = conn.execute(
            "SELECT rowid, hash, event_id FROM dedup_recent WHERE rowid > ?", (rowid,)
        ).fetchall()
        if rows:
            self._last_rowid = rows[-1][0]
            self._remember([(hash_, event_id) for _, hash_, event_id in rows])

    def _remember(self, rows: Sequence[tuple[int, int]]) -> None:
        """Add ``(hash, event_id)`` rows to the in-memory copy."""
        recent = self._recent
        assert recent is not None  # loaded by the caller
        self._count += len(rows)
        fresh = dict(rows)
        # The common case in C: every hash new. (A repeated one keeps every id, below.)
        if len(fresh) == len(rows) and recent.keys().isdisjoint(fresh):
            recent.update(fresh)
            return
        for hash_, event_id in rows:
            if hash_ not in recent:
                recent[hash_] = event_id
            else:
                self._more.setdefault(hash_, []).append(event_id)

    def stored(self, conn: sqlite3.Connection, wanted: Mapping[Pair, int]) -> set[Pair]:
        """The pairs of ``wanted`` (pair -> its :func:`dedup_hash`) a stored event has."""
        if not wanted:
            return set()
        recent = self._loaded(conn)
        hashes = set(wanted.values())
        candidates = [recent[hash_] for hash_ in recent.keys() & hashes]
        more = self._more
        if more:
            for hash_ in more.keys() & hashes:
                candidates += more[hash_]
        # The hash-ordered table is probed only for the hashes the filter cannot rule out.
        maybe = self._merged.lookups(conn, hashes)
        if maybe:
            merged = _select_in(conn, "SELECT event_id FROM dedup_keys WHERE hash", maybe)
            candidates += map(_first_column, merged)
        if not candidates:
            return set()
        rows = _select_in(conn, "SELECT dedup_scope, dedup_key FROM events WHERE id", candidates)
        return {pair for pair in rows if pair in wanted}

    def add(self, conn: sqlite3.Connection, keys: Iterable[tuple[int, int]]) -> None:
        """Record stored events' keys: ``(hash, event_id)`` pairs."""
        rows = list(keys)
        if not rows:
            return
        self._loaded(conn)
        bulk.insert_rows(conn, "INSERT INTO dedup_recent (hash, event_id)", 2, rows)
        self._wrote = True
        self._remember(rows)
        self._added += rows

    def merge_if_due(self, conn: sqlite3.Connection) -> None:
        """Merge the recent keys into ``dedup_keys`` once there are :attr:`merge_threshold`.

        Called once per transaction, after its requests: it also notes where ``dedup_recent``
        ends and its first row, which tell at the next foreign commit what that writer added
        and whether it merged, and reads a step of the filter being built, if one is."""
        recent = self._loaded(conn)
        self._merged.step(conn)
        if self._count < self.merge_threshold:
            if self._wrote:
                self._wrote = False
                self._last_rowid = (
                    conn.execute("SELECT max(rowid) FROM dedup_recent").fetchone()[0] or 0
                )
                if self._first is None:
                    self._first = conn.execute(_FIRST_RECENT).fetchone()
            return
        # The last row appended is the highest event id (ids only grow under the write lock).
        last = conn.execute(
            "SELECT hash, event_id FROM dedup_recent ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
        conn.execute(
            f"INSERT {bulk.WHOLE_TRANSACTION} INTO dedup_keys (hash, event_id) "
            "SELECT hash, event_id FROM dedup_recent ORDER BY hash, event_id"
        )
        conn.execute("DELETE FROM dedup_recent")
        self._merged.add(recent.keys(), last)  # (the hashes of _more are keys of _recent too)
        self._recent, self._more, self._count = {}, {}, 0
        self._first, self._last_rowid, self._wrote = None, 0, False
