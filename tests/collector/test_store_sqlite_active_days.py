"""The SQLite writer's copy of ``active_days`` (``amplitude_rollups.ActiveDays``): the table
holds exactly what the events give, whatever the copy skipped writing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.collector.test_store import AMP_KEY, rec
from trackwire.collector.sqlite import SQLiteStore, amplitude_rollups, schema

DAY = 86_400_000


def _days(path: Path) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """The stored ``active_days`` rows, and the rows the migration's back-fill computes from
    the stored events (SQLite's own arithmetic: the reference)."""
    conn = sqlite3.connect(path)
    try:
        stored = conn.execute("SELECT * FROM active_days ORDER BY 1, 2, 3").fetchall()
        conn.execute(
            "CREATE TEMP TABLE expected (source_id, day, amplitude_id, "
            "PRIMARY KEY (source_id, day, amplitude_id))"
        )
        backfill = amplitude_rollups.ACTIVE_DAYS[1]
        conn.execute(backfill.replace("INTO active_days", "INTO temp.expected"))
        expected = conn.execute("SELECT * FROM temp.expected ORDER BY 1, 2, 3").fetchall()
        return stored, expected
    finally:
        conn.close()


def test_active_days_match_the_events_through_repeats_merges_and_another_writer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "d.db"
    store = SQLiteStore(path)
    try:
        # Negative times: SQLite's division rounds towards zero (-1 ms is day 0, not -1).
        times = [-DAY - 1, -1, 0, 1, DAY - 1, DAY, 5 * DAY + 7, None]
        for round_ in range(2):  # the second round's days are all known already
            store.ingest(
                [
                    rec(key=f"k{round_}-{n}-{user}", user=user, time=when)
                    for n, when in enumerate(times)
                    for user in ("u1", "u2", "u3")
                ],
                received_time_ms=3 * DAY + 5,
            )
            # Inactive types, events without a user, and an Amplitude source beside.
            store.ingest(
                [
                    rec(type="identify", key=f"i{round_}", user="u4", time=9 * DAY),
                    rec(key=f"n{round_}", user=None, time=9 * DAY),
                    rec(vendor="amplitude", source=AMP_KEY, type="event", key=f"a{round_}",
                        user="u1", time=DAY),
                ]
            )  # fmt: skip
        # A client time that is no int (a float) leaves the request to SQLite's roll-up.
        store.ingest(
            [rec(key="f1", user="u5", time=2 * DAY), rec(key="f2", user="u5", time=2.5 * DAY)]
        )
        # An alias moves u2's events (and, by the trigger, its days) to u1; u2's later events
        # and days must still be stored although the writer had written them before.
        store.ingest([rec(type="alias", user="u1", alias_of="u2", event=None, time=DAY)])
        store.ingest(
            [rec(key=f"after-{n}", user="u2", device="d2", time=t) for n, t in enumerate(times)]
        )
        # Another writer on the same file: this one's copy no longer matches the table.
        store.ingest([rec(key="first", user="u9", time=20 * DAY)])
        other = SQLiteStore(path)
        try:
            other.ingest([rec(key="other", user="u8", time=21 * DAY)])
        finally:
            other.close()
        conn = sqlite3.connect(path)
        conn.execute("DELETE FROM active_days WHERE day = 20")  # as a retention job might
        conn.commit()
        conn.close()
        store.ingest([rec(key="again", user="u9", time=20 * DAY)])
        stored, expected = _days(path)
        assert stored == expected
        assert len({day for _, day, _ in stored}) >= 6
    finally:
        store.close()


def test_a_rolled_back_request_takes_back_its_days() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema.migrate(conn)
    days = amplitude_rollups.ActiveDays(limit=3)
    row = (1, "track", "e", "u", None, 7, None, 2 * DAY + 1, 0)
    days.savepoint()
    days.roll_up(conn, [row, row], 0)
    assert (1, 2, 7) in days and len(days) == 1
    days.savepoint()
    days.roll_up(conn, [(1, "track", "e", "u", None, 8, None, None, -1)], 0)  # day 0
    assert (1, 0, 8) in days
    days.rolled_back()
    assert (1, 0, 8) not in days and (1, 2, 7) in days and len(days) == 1
    # A float time: nothing kept from the request (the SQL roll-up reads the events table,
    # empty here), the count unchanged.
    days.savepoint()
    days.roll_up(conn, [(1, "track", "e", "u", None, 9, None, 3 * DAY, 0), (*row[:7], 1.5, 0)], 0)
    assert (1, 3, 9) not in days and len(days) == 1
    # Past its limit the copy starts again; the table keeps every row (INSERT OR IGNORE).
    days.roll_up(conn, [(1, "track", "e", "u", None, n, None, 0, 0) for n in range(10, 14)], 0)
    days.roll_up(conn, [row], 0)
    assert len(days) == 1
    stored = conn.execute("SELECT * FROM active_days ORDER BY 3").fetchall()
    assert stored == [(1, 2, 7), (1, 0, 8), *((1, 0, n) for n in range(10, 14))]
    conn.close()
