"""Each user's events in time order, for user activity: recent ones appended, merged in bulk.

User activity reads one user's events by time, and alias merges move every event of a user.
An index on ``events (amplitude_id, client_time_ms)`` served both, but its keys arrive in
random order (every request carries hundreds of users): past a million events each insert
landed on a random page of a packed B-tree and dirtied several pages, each written to the WAL
at commit and again at the checkpoint — the largest single cost of ingest. So the keys live in
two tables of ``(amplitude_id, time_ms, event_id)``, as the de-duplication keys do
(:mod:`trackwire.collector.sqlite.dedup`):

- ``user_events_recent``, the keys of the events stored since the last merge, appended in
  arrival order (no index: an append dirties the table's last page only);
- ``user_events``, every older key, ordered by key. Every :data:`MERGE_AT` events the recent
  keys are merged into it in key order, one pass that writes each page it touches once for
  many keys, and ``user_events_recent`` is emptied.

A read takes the union of both (:data:`EVENT_IDS`, :func:`keys_page`): at most
:data:`MERGE_AT` short recent rows are scanned beside the ordered range of the user, and the
answers are the same, in the same order, as the index gave. ``time_ms`` is the client time;
an event without one gets :data:`NO_TIME`, which sorts first as SQL's NULL did.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

__all__ = [
    "EVENT_IDS",
    "MERGE_AT",
    "MIGRATION",
    "NO_TIME",
    "UserEvents",
    "keys_page",
]

#: Recent keys merged into ``user_events`` at once. Larger batches write each of its pages once
#: for more keys; a read scans up to this many recent rows (~1 ms per 10,000).
MERGE_AT: Final = 50_000
#: ``time_ms`` of an event without a client time: below every real time, as NULL sorts.
NO_TIME: Final = -(2**63)

#: The ids of one user's events (bind the ``amplitude_id`` twice).
EVENT_IDS: Final = (
    "SELECT event_id FROM user_events WHERE amplitude_id = ? "
    "UNION ALL SELECT event_id FROM user_events_recent WHERE amplitude_id = ?"
)

#: The recent keys of the events stored after a given id.
_ADD: Final = f"""
    INSERT INTO user_events_recent (amplitude_id, time_ms, event_id)
    SELECT amplitude_id, coalesce(client_time_ms, {NO_TIME}), id FROM events
    WHERE id > ? AND amplitude_id IS NOT NULL
"""
#: An alias merge, ``(user, merged-away user)``: the second's events and keys move to the first.
_MOVE: Final = (
    f"UPDATE events SET amplitude_id = ?1 WHERE id IN ({EVENT_IDS.replace('?', '?2')})",
    "INSERT INTO user_events (amplitude_id, time_ms, event_id) "
    "SELECT ?1, time_ms, event_id FROM user_events WHERE amplitude_id = ?2",
    "DELETE FROM user_events WHERE amplitude_id = ?2",
    "UPDATE user_events_recent SET amplitude_id = ?1 WHERE amplitude_id = ?2",
)

#: Migration statements: both tables, the keys of the stored events, the old index dropped.
MIGRATION: Final = (
    """
    CREATE TABLE user_events (
        amplitude_id INTEGER NOT NULL,
        time_ms      INTEGER NOT NULL,
        event_id     INTEGER NOT NULL,
        PRIMARY KEY (amplitude_id, time_ms, event_id)
    ) WITHOUT ROWID
    """,
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


def keys_page(order: str) -> str:
    """``(time_ms, event_id)`` of a page of one user's events in time order, ties by id.

    Bind the ``amplitude_id`` twice, then the limit and the offset. Each half is read in key
    order and the two are merged, so only the page's keys are sorted out.

    Args:
        order: ``"ASC"`` (earliest first) or ``"DESC"`` (latest first).
    """
    if order not in ("ASC", "DESC"):
        raise ValueError(f"order must be ASC or DESC, not {order!r}")
    return (
        "SELECT time_ms, event_id FROM user_events WHERE amplitude_id = ? "
        "UNION ALL SELECT time_ms, event_id FROM user_events_recent WHERE amplitude_id = ? "
        f"ORDER BY 1 {order}, 2 {order} LIMIT ? OFFSET ?"
    )


class UserEvents:
    """The store's user keys, kept by its writer inside the write transaction.

    Args:
        merge_at: recent keys that trigger a merge (:meth:`merge_if_due`).
    """

    __slots__ = ("_count", "_merge_at")

    def __init__(self, merge_at: int = MERGE_AT) -> None:
        self._merge_at = merge_at
        #: Rows in user_events_recent; None: count them when next needed.
        self._count: int | None = None

    def forget(self) -> None:
        """Drop the count of recent keys (another writer or a rollback may have changed it)."""
        self._count = None

    def add(self, conn: sqlite3.Connection, after_id: int) -> None:
        """Record the keys of the events stored after ``after_id`` (in their transaction)."""
        added = conn.execute(_ADD, (after_id,)).rowcount
        if self._count is not None:
            self._count += added

    @staticmethod
    def move(conn: sqlite3.Connection, merges: Sequence[tuple[int, int]]) -> None:
        """Move the events of merged-away users, ``(user, merged-away user)`` pairs, in order
        (a later pair may move what an earlier one moved)."""
        for merge in merges:
            for statement in _MOVE:
                conn.execute(statement, merge)

    def merge_if_due(self, conn: sqlite3.Connection) -> None:
        """Merge the recent keys into ``user_events`` once there are :data:`MERGE_AT` of them."""
        if self._count is None:
            self._count = int(conn.execute("SELECT count(*) FROM user_events_recent").fetchone()[0])
        if self._count < self._merge_at:
            return
        conn.execute(
            "INSERT INTO user_events (amplitude_id, time_ms, event_id) "
            "SELECT amplitude_id, time_ms, event_id FROM user_events_recent ORDER BY 1, 2, 3"
        )
        conn.execute("DELETE FROM user_events_recent")
        self._count = 0
