"""Each user's events in time order, for user activity: recent ones appended, merged in bulk.

User activity reads one user's events by time, and alias merges move every event of a user.
An index on ``events (amplitude_id, client_time_ms)`` served both, but its keys arrive in
random order (every request carries hundreds of users): past a million events each insert
landed on a random page of a packed B-tree and dirtied several pages, each written to the WAL
at commit and again at the checkpoint — the largest single cost of ingest. So the keys,
``(amplitude_id, time_ms, event_id)``, live in three tables, as a small log-structured merge:

- ``user_events_recent``, the keys of the events stored since the last merge, appended in
  arrival order (no index: an append dirties the table's last page only);
- ``user_events_runs``, sorted runs: every :data:`MERGE_AT` events the recent keys are sorted
  and appended as the next run, ``(run, amplitude_id, time_ms, event_id)``. An append writes
  only the run's own pages, packed; merging them into one ordered middle table instead
  rewrote about every page of it at each merge (1.2-2.0 µs per key against ~0.55, see
  bench/RESULTS.md, "second pass: the bulk merges");
- ``user_events``, ordered by key, into which the runs are merged (run by run) every
  :data:`MID_AT` keys. A merge rewrites about every page of the table it lands in, so merging
  the recent keys straight into the large table would cost more per event the larger the file
  grows; through the bounded runs the large one is rewritten ten times less often.

A read takes the union of the three (:data:`EVENT_IDS`, :func:`keys_page`): an ordered range
of the large table and one of each run (the runs' numbers found by :data:`RUN_NUMBERS`, a
seek each), and a scan of at most :data:`MERGE_AT` short recent rows, and the answers are the same,
in the same order, as the index gave. ``time_ms`` is the client time; an event without one gets
:data:`NO_TIME`, which sorts first as SQL's NULL did.

The recent keys also stand in for the users' seen spans. ``users.first_seen_ms`` and
``last_seen_ms`` are a user's earliest and latest event time (client time, else receipt time);
when most events move their user's last seen, rewriting every touched user row per request
(properties and all, on random pages) cost as much as inserting the events. So an event of a
user the writer already knows writes no span: its key in ``user_events_recent`` carries its
time, every read of a span takes the recent keys in (:func:`pending_spans`: the
``min``/``max`` of the row and the keys, in one :func:`snapshot`), and the spans are folded
into ``users`` in one ordered pass when the recent keys are merged
(:meth:`UserEvents.merge_if_due`). So a user row's span covers every event in the two ordered
tables, and may lag only by the recent keys. An alias merge folds the merged-away user's
recent keys into its row before they move to the user who takes them over (whose span already
took the merged-away one's in).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Final

import orjson

from trackwire.collector.sqlite.bulk import WHOLE_TRANSACTION

__all__ = [
    "EVENT_IDS",
    "FOLD_SPANS",
    "MERGE_AT",
    "MID_AT",
    "MIGRATION",
    "NO_TIME",
    "RUNS",
    "RUN_NUMBERS",
    "UserEvents",
    "keys_page",
    "pending_spans",
    "snapshot",
]

#: Recent keys appended as one run at once. Larger runs mean fewer runs (one seek each per
#: read of a user); a read scans up to this many recent rows (~1 ms per 10,000).
MERGE_AT: Final = 50_000
#: Keys of ``user_events_runs`` merged into ``user_events`` at once.
MID_AT: Final = 500_000
#: ``time_ms`` of an event without a client time: below every real time, as NULL sorts.
NO_TIME: Final = -(2**63)

#: The numbers of the stored runs, one seek per run (a loose scan of the key's first column).
RUN_NUMBERS: Final = (
    "WITH RECURSIVE runs (run) AS (SELECT min(run) FROM user_events_runs UNION ALL "
    "SELECT (SELECT min(run) FROM user_events_runs WHERE run > runs.run) FROM runs "
    "WHERE runs.run IS NOT NULL) SELECT run FROM runs WHERE run IS NOT NULL"
)
#: The key tables, largest first, each as the rows of one user (``{user}``, a parameter).
_TABLES: Final = (
    "user_events WHERE amplitude_id = {user}",
    f"user_events_runs WHERE run IN ({RUN_NUMBERS}) AND amplitude_id = {{user}}",
    "user_events_recent WHERE amplitude_id = {user}",
)

#: The ids of one user's events (the ``amplitude_id`` is parameter ``?1``).
EVENT_IDS: Final = " UNION ALL ".join(
    f"SELECT event_id FROM {table.format(user='?1')}" for table in _TABLES
)


def _times(keys: str) -> str:
    """Each key's user and seen time ``t`` (the keys ``r`` of table ``keys``): its client
    time, else the event's receipt time (the key holds NO_TIME then; the event row is read for
    it, by primary key)."""
    return f"""
    SELECT r.amplitude_id AS amplitude_id,
           CASE WHEN r.time_ms = {NO_TIME}
                THEN (SELECT coalesce(e.client_time_ms, e.received_time_ms) FROM events e
                      WHERE e.id = r.event_id)
                ELSE r.time_ms END AS t
    FROM {keys} r
    """


def _spans(where: str = "", keys: str = "user_events_recent") -> str:
    """``(amplitude_id, first_ms, last_ms)`` of the users with recent keys (``where`` filters
    the keys ``r``): the part of their seen spans not yet folded into ``users``."""
    return (
        "SELECT amplitude_id, min(t) AS first_ms, max(t) AS last_ms "
        f"FROM ({_times(keys)} {where}) GROUP BY amplitude_id"
    )


def _fold(where: str = "", keys: str = "user_events_recent", update: str = "UPDATE") -> str:
    """Widen the seen spans in ``users`` by the recent keys (``where`` filters them; ``keys``
    names the table that holds them; ``update`` may add a conflict clause); only the rows
    whose span moves are written."""
    return (
        f"{update} users SET first_seen_ms = min(first_seen_ms, p.first_ms), "
        "last_seen_ms = max(last_seen_ms, p.last_ms) "
        f"FROM ({_spans(where, keys)}) AS p WHERE users.amplitude_id = p.amplitude_id "
        "AND (p.first_ms < users.first_seen_ms OR p.last_ms > users.last_seen_ms)"
    )


#: The recent keys of the events stored after a given id.
_ADD: Final = f"""
    INSERT INTO user_events_recent (amplitude_id, time_ms, event_id)
    SELECT amplitude_id, coalesce(client_time_ms, {NO_TIME}), id FROM events
    WHERE id > ? AND amplitude_id IS NOT NULL
"""
#: An alias merge, ``(user, merged-away user)``: the second's events and keys move to the first.
_MOVE: Final = (
    f"UPDATE events SET amplitude_id = ?1 WHERE id IN ({EVENT_IDS.replace('?1', '?2')})",
    "INSERT INTO user_events (amplitude_id, time_ms, event_id) "
    f"SELECT ?1, time_ms, event_id FROM {_TABLES[0].format(user='?2')}",
    f"DELETE FROM {_TABLES[0].format(user='?2')}",
    # (Each run keeps its number: a run's keys need not be contiguous.)
    "INSERT INTO user_events_runs (run, amplitude_id, time_ms, event_id) "
    f"SELECT run, ?1, time_ms, event_id FROM {_TABLES[1].format(user='?2')}",
    f"DELETE FROM {_TABLES[1].format(user='?2')}",
    # The merged-away user keeps its own span: its recent keys are folded into its row
    # before they move. Its whole span then joins the surviving user's: the resolver took in
    # the span it read, but events of this request resolved to the merged-away user after the
    # alias (moved by the first statement) were not in it.
    _fold("WHERE r.amplitude_id = ?2"),
    "UPDATE users SET first_seen_ms = min(users.first_seen_ms, m.first_ms), "
    "last_seen_ms = max(users.last_seen_ms, m.last_ms) "
    "FROM (SELECT first_seen_ms AS first_ms, last_seen_ms AS last_ms FROM users "
    "WHERE amplitude_id = ?2) AS m "
    "WHERE users.amplitude_id = ?1",
    "UPDATE user_events_recent SET amplitude_id = ?1 WHERE amplitude_id = ?2",
)
#: Every recent key's time folded into its user's row.
FOLD_SPANS: Final = _fold()
#: The same from run ``?``, just appended from the recent keys: read in key order, so the
#: users' spans need no sort (the recent table's ``GROUP BY`` sorted every key).
_FOLD_RUN: Final = _fold("WHERE r.run = ?", "user_events_runs", f"UPDATE {WHOLE_TRANSACTION}")
#: The recent keys appended as run ``?``, in key order.
_APPEND_RUN: Final = (
    f"INSERT {WHOLE_TRANSACTION} INTO user_events_runs (run, amplitude_id, time_ms, event_id) "
    "SELECT ?, amplitude_id, time_ms, event_id FROM user_events_recent ORDER BY 2, 3, 4"
)
#: Every run merged into the large table, run by run. Unsorted: each key is one B-tree insert
#: either way, and sorting the 500,000 keys first cost more (0.57 against 0.49 µs per key,
#: bench/RESULTS.md, "seventh round: the query-side keys") than inserting them in key order
#: saved; SQLite's merge of the runs' ordered branches of a union was slower still (0.30 s).
_MERGE_RUNS: Final = (
    f"INSERT {WHOLE_TRANSACTION} INTO user_events (amplitude_id, time_ms, event_id) "
    "SELECT amplitude_id, time_ms, event_id FROM user_events_runs"
)


def _ordered_table(name: str) -> str:
    return f"""
    CREATE TABLE {name} (
        amplitude_id INTEGER NOT NULL,
        time_ms      INTEGER NOT NULL,
        event_id     INTEGER NOT NULL,
        PRIMARY KEY (amplitude_id, time_ms, event_id)
    ) WITHOUT ROWID
    """


#: Migration statements: the tables, the keys of the stored events, the old index dropped.
MIGRATION: Final = (
    _ordered_table("user_events"),
    _ordered_table("user_events_mid"),
    """
    CREATE TABLE user_events_recent (
        amplitude_id INTEGER NOT NULL,
        time_ms      INTEGER NOT NULL,
        event_id     INTEGER NOT NULL
    )
    """,
    f"""
    INSERT INTO user_events (amplitude_id, time_ms, event_id)
    SELECT amplitude_id, coalesce(client_time_ms, {NO_TIME}), id FROM events
    WHERE amplitude_id IS NOT NULL ORDER BY 1, 2, 3
    """,
    "DROP INDEX events_by_user_time",
)


#: Migration statements (version 12): the middle table becomes run 0 of the sorted runs.
RUNS: Final = (
    """
    CREATE TABLE user_events_runs (
        run          INTEGER NOT NULL,
        amplitude_id INTEGER NOT NULL,
        time_ms      INTEGER NOT NULL,
        event_id     INTEGER NOT NULL,
        PRIMARY KEY (run, amplitude_id, time_ms, event_id)
    ) WITHOUT ROWID
    """,
    "INSERT INTO user_events_runs (run, amplitude_id, time_ms, event_id) "
    "SELECT 0, amplitude_id, time_ms, event_id FROM user_events_mid ORDER BY 2, 3, 4",
    "DROP TABLE user_events_mid",
)


def keys_page(order: str) -> str:
    """``(time_ms, event_id)`` of a page of one user's events in time order, ties by id.

    Parameters: ``?1`` the ``amplitude_id``, ``?2`` the limit, ``?3`` the offset. The user's
    keys are read by key from the large table and each run, and sorted with the few recent
    keys.

    Args:
        order: ``"ASC"`` (earliest first) or ``"DESC"`` (latest first).
    """
    if order not in ("ASC", "DESC"):
        raise ValueError(f"order must be ASC or DESC, not {order!r}")
    union = " UNION ALL ".join(
        f"SELECT time_ms, event_id FROM {table.format(user='?1')}" for table in _TABLES
    )
    return f"{union} ORDER BY 1 {order}, 2 {order} LIMIT ?2 OFFSET ?3"


def pending_spans(
    conn: sqlite3.Connection, amplitude_ids: Iterable[int] | None = None
) -> dict[int, tuple[int, int]]:
    """``amplitude_id -> (first, last)`` over the recent keys of these users (of every user:
    None), users without any left out; one scan of the recent keys. A span read from a
    ``users`` row is ``min``/``max`` of the row and this, read in the same :func:`snapshot`.
    """
    if amplitude_ids is None:
        rows = conn.execute(_spans())
    else:
        ids = sorted(set(amplitude_ids))
        if not ids:
            return {}
        # Integers only: json_each cuts no text here (see sqlite/ingest.py select_in).
        rows = conn.execute(
            _spans("WHERE r.amplitude_id IN (SELECT value FROM json_each(?))"),
            (orjson.dumps(ids).decode(),),
        )
    return {amplitude_id: (first, last) for amplitude_id, first, last in rows}


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the statements of the block in one read transaction (unless one is open already),
    so users' rows and their recent keys are read at the same commit: a merge committed
    between two statements would fold keys into rows that the first statement read before.
    """
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:  # (an error may have ended it already)
            conn.execute("COMMIT")  # a read transaction: nothing to keep or to undo


class UserEvents:
    """The store's user keys, kept by its writer inside the write transaction.

    The row counts that pace the merges are this writer's: when several processes write one
    file, each merges when its own count is due (the tables' contents are always whole, only
    the moment of a merge depends on the counts), so the recent table may hold up to
    :data:`MERGE_AT` keys per writer.

    Args:
        merge_at: recent keys that trigger their append as a run.
        mid_at: keys of the runs that trigger a merge into the large one.
    """

    __slots__ = ("_merge_at", "_mid_at", "_sizes")

    def __init__(self, merge_at: int = MERGE_AT, mid_at: int = MID_AT) -> None:
        self._merge_at = merge_at
        self._mid_at = mid_at
        #: Rows of user_events_recent and user_events_runs; None: count them when next needed.
        self._sizes: list[int] | None = None

    def forget(self) -> None:
        """Drop the row counts (a rolled-back transaction may have changed them); they are
        counted again at the next :meth:`merge_if_due`."""
        self._sizes = None

    def add(self, conn: sqlite3.Connection, after_id: int) -> None:
        """Record the keys of the events stored after ``after_id`` (in their transaction)."""
        added = conn.execute(_ADD, (after_id,)).rowcount
        if self._sizes is not None:
            self._sizes[0] += added

    @staticmethod
    def move(conn: sqlite3.Connection, merges: Sequence[tuple[int, int]]) -> None:
        """Move the events of merged-away users, ``(user, merged-away user)`` pairs, in order
        (a later pair may move what an earlier one moved)."""
        for merge in merges:
            for statement in _MOVE:
                conn.execute(statement, merge)

    def merge_if_due(self, conn: sqlite3.Connection) -> None:
        """Append the recent keys as the next run once there are :data:`MERGE_AT` of them,
        their times folded into the users' seen spans from that run, and merge the runs into
        the large table once they hold :data:`MID_AT` keys."""
        if self._sizes is None:
            self._sizes = [
                int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                for table in ("user_events_recent", "user_events_runs")
            ]
        sizes = self._sizes
        if sizes[0] >= self._merge_at:
            # Read in this transaction: another writer's runs are numbered below it.
            (run,) = conn.execute(
                "SELECT coalesce(max(run), -1) + 1 FROM user_events_runs"
            ).fetchone()
            conn.execute(_APPEND_RUN, (run,))
            # The keys leaving the recent table take their part of the seen spans along: one
            # pass in user order over the users they name, read from their new run.
            conn.execute(_FOLD_RUN, (run,))
            conn.execute("DELETE FROM user_events_recent")
            sizes[0], sizes[1] = 0, sizes[1] + sizes[0]
        if sizes[1] >= self._mid_at:
            conn.execute(_MERGE_RUNS)
            conn.execute("DELETE FROM user_events_runs")
            sizes[1] = 0
