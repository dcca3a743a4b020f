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


def _one_day_cases() -> list[list[tuple[object, ...]]]:
    """Requests of one source whose client times fall on one day, but for one detail each."""
    base = 5 * DAY + 10

    def row(
        user: object, time: object, type_: str = "track", source: int = 1
    ) -> tuple[object, ...]:
        return (source, type_, "e", "u", None, user, None, time, 3 * DAY)

    return [
        [row(1, base), row(2, base + 1), row(1, base + 2)],  # users new to the copy
        [row(1, base), row(2, base + 5)],  # every user known: nothing written
        [row(1, base), row(None, base), row(3, base + 1)],  # an event without a user
        [row(4, base), row(5, None)],  # a missing client time: the receipt time's day
        [row(6, base), row(7, base + 0.5)],  # a float time: SQL decides
        [row(8, True), row(9, 1)],  # bools are ints to SQLite too
        [row(10, base), row(11, "x")],  # a text time
        [row(12, base), row(13, base + DAY)],  # two days
        [row(14, base), row(15, base, "identify")],  # an inactive type
        [row(16, base), row(17, base, source=2)],  # two sources
        [row(18, -1), row(19, -2)],  # before 1970: SQLite's division rounds towards zero
    ]


def test_the_one_day_path_writes_what_the_sql_roll_up_writes() -> None:
    """Each request goes through ``ActiveDays.roll_up`` on one connection and through the SQL
    roll-up on another, after being inserted as events: the tables must be equal."""
    fast = sqlite3.connect(":memory:", isolation_level=None)
    reference = sqlite3.connect(":memory:", isolation_level=None)
    for conn in (fast, reference):
        schema.migrate(conn)
        conn.execute("INSERT INTO sources (source_id, vendor, source) VALUES (1, 'a', 'a')")
        conn.execute("INSERT INTO sources (source_id, vendor, source) VALUES (2, 'a', 'b')")
    days = amplitude_rollups.ActiveDays()
    for request in _one_day_cases():
        after = {}
        for conn in (fast, reference):
            after[conn] = amplitude_rollups.last_event_id(conn)
            conn.executemany(
                "INSERT INTO events (source_id, type, event_name, user_id, device_id, "
                "amplitude_id, session_id, client_time_ms, received_time_ms, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, '{}')",
                [(*row[:6], *row[7:]) for row in request],
            )
        days.roll_up(fast, request, after[fast])  # type: ignore[arg-type]
        amplitude_rollups.roll_up(reference, after[reference])
        query = "SELECT * FROM active_days ORDER BY 1, 2, 3"
        assert fast.execute(query).fetchall() == reference.execute(query).fetchall(), request
    assert (1, 0, 8) in days and (1, 0, 18) in days and (2, 5, 17) in days
    fast.close()
    reference.close()
