"""Rollups the query side keeps at ingest: who was active on which day.

``active_days`` holds one row per (source, UTC day, user) with at least one active event that
day. The store's ingest adds the days of each request's new events with :func:`roll_up`, one
statement after its insert (a trigger per inserted row cost a quarter of ingest CPU); a
trigger moves the days of a user whose events an alias merge moves (rare, one update each).
Uniques of ``_active`` and ``pct_dau``'s active users read it instead of every active event:
about a third of the rows at the benchmark's scale, index only.

The day is the segmentation's: the client time, else the receipt time, divided by 86,400,000
as SQLite divides. Inactive types (identify, group, alias, an mParticle batch) never count (see
:data:`INACTIVE`).
"""

from __future__ import annotations

import sqlite3
from typing import Final

from trackwire.collector.query.mapping import INACTIVE_TYPES

__all__ = ["ACTIVE_DAYS", "INACTIVE", "last_event_id", "roll_up"]


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
