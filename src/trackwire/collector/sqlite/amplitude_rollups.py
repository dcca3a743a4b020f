"""Rollups the query side keeps at ingest: who was active on which day.

``active_days`` holds one row per (source, UTC day, user) with at least one active event that
day, maintained by triggers on ``events`` (an insert adds its day; an alias merge that moves a
user's events moves their days), so the ingest code does not change and no path that writes
events can forget it. Uniques of ``_active`` and ``pct_dau``'s active users read it instead of
every active event: about a third of the rows at the benchmark's scale, index only.

The day is the segmentation's: the client time, else the receipt time, divided by 86,400,000
as SQLite divides. Inactive types (identify, group, alias, an mParticle batch) never count, as
:data:`~trackwire.collector.query.mapping.INACTIVE_TYPES` says per vendor.
"""

from __future__ import annotations

from typing import Final

from trackwire.collector.query.mapping import INACTIVE_TYPES

__all__ = ["ACTIVE_DAYS", "INACTIVE"]


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

#: Migration statements: the table, its back-fill from stored events, the triggers.
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
    f"""
    CREATE TRIGGER active_days_on_insert AFTER INSERT ON events
    WHEN NEW.amplitude_id IS NOT NULL AND NOT {_INACTIVE.format(row="NEW")}
    BEGIN
        INSERT OR IGNORE INTO active_days (source_id, day, amplitude_id)
        VALUES (NEW.source_id, {_DAY.format(row="NEW")}, NEW.amplitude_id);
    END
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
