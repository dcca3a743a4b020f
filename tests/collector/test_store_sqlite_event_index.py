"""SQLite's query keys of the events, merged in bulk (sqlite/event_index.py).

Every read must answer the same whether the events it covers are after the watermark (the
tail, read from ``events`` by id), merged into the key tables, or split across both. The
contract's reads (``test_store_query_contract``: listing, stats, export, users, segmentation,
funnels and the other charts) run here over a SQLite store whose keys are all merged and one
whose keys are split, each against a store that never merged (whose answers the contract
holds equal to PostgreSQL's).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.collector.test_store import SEG_KEY, rec
from tests.collector.test_store_query_contract import (
    ingest_history,
    test_charts,
    test_event_exists,
    test_event_hits,
    test_export_search_and_activity,
    test_group_labels_follow_the_value_rules,
    test_listing_stats_users_groups_and_links,
    test_months_split_at_their_first_millisecond,
    test_second_event_and_rolling_series,
    test_segmentation_filters,
    test_segmentation_plans,
)
from trackwire.collector.sqlite import SQLiteStore, event_index, schema
from trackwire.collector.store import Store
from trackwire.collector.userprops import UserOp

#: Statements taking a file back to before migration 10: the key tables gone, the indexes back.
UNDO_MIGRATION_10 = (
    "DROP TRIGGER event_names_follow_user; DROP TABLE event_counts; DROP TABLE event_names; "
    "DROP TABLE event_received; DROP TABLE event_index_state; "
    "CREATE INDEX events_by_type ON events (source_id, type); "
    "CREATE INDEX events_by_name_time "
    "ON events (source_id, event_name, client_time_ms, amplitude_id, props); "
    "CREATE INDEX events_by_received ON events (source_id, received_time_ms); "
)

#: Statements taking a file back to before migration 12: the runs become the middle table.
UNDO_MIGRATION_12 = (
    "CREATE TABLE user_events_mid (amplitude_id INTEGER NOT NULL, time_ms INTEGER NOT NULL, "
    "event_id INTEGER NOT NULL, PRIMARY KEY (amplitude_id, time_ms, event_id)) WITHOUT ROWID; "
    "INSERT INTO user_events_mid SELECT amplitude_id, time_ms, event_id FROM user_events_runs; "
    "DROP TABLE user_events_runs; "
)

#: The contract's reads, run here with this module's ``stores`` (the imports above).
__all__ = [
    "test_charts",
    "test_event_exists",
    "test_event_hits",
    "test_export_search_and_activity",
    "test_group_labels_follow_the_value_rules",
    "test_listing_stats_users_groups_and_links",
    "test_months_split_at_their_first_millisecond",
    "test_second_event_and_rolling_series",
    "test_segmentation_filters",
    "test_segmentation_plans",
]

#: Never merges in these tests.
NEVER = 10**9


def _store(path: Path, merge_at: int) -> SQLiteStore:
    store = SQLiteStore(path)
    store._event_keys = event_index.EventKeys(merge_at=merge_at)
    return store


def _watermark(store: SQLiteStore) -> tuple[int, int]:
    """(watermark, last event id) of the store's file."""
    with store._reading() as conn:
        row = conn.execute(
            f"SELECT {event_index.WATERMARK}, (SELECT coalesce(max(id), 0) FROM events)"
        ).fetchone()
    return int(row[0]), int(row[1])


def _keys_mirror_events(store: SQLiteStore) -> None:
    """The key tables hold exactly the keys of the events up to the watermark, and
    ``event_counts`` the counts of every event."""
    name, time = f"coalesce(event_name, {event_index.NO_NAME})", "coalesce(client_time_ms, "
    time += f"{event_index.NO_TIME})"
    pairs = (
        ("source_id, type, count(*)", "source_id, type, n", "event_counts"),
        (
            f"source_id, {name}, {time}, id, amplitude_id, type, props",
            "source_id, name, time_ms, event_id, amplitude_id, type, props",
            "event_names",
        ),
        (
            "source_id, received_time_ms, id",
            "source_id, received_time_ms, event_id",
            "event_received",
        ),
    )
    with store._reading() as conn:
        for events_columns, key_columns, table in pairs:
            events = f"SELECT {events_columns} FROM events WHERE id <= {event_index.WATERMARK}"
            if table == "event_counts":
                events = f"SELECT {events_columns} FROM events GROUP BY 1, 2"
            keys = f"SELECT {key_columns} FROM {table}"
            for first, second in ((events, keys), (keys, events)):
                extra = conn.execute(f"{first} EXCEPT {second}").fetchall()
                assert extra == [], f"{table}: {extra[:3]}"


@pytest.fixture(scope="module", params=["merged", "split"])
def stores(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Store]]:
    """The contract's history in a store that merged it (all of it, or all but a tail) and
    in one that never merged."""
    folder = tmp_path_factory.mktemp("keys")
    merge_at = 1 if request.param == "merged" else NEVER
    opened = [_store(folder / "keys.db", merge_at), _store(folder / "tail.db", NEVER)]
    ingest_history(opened)
    if request.param == "split":
        conn = opened[0]._writer
        conn.execute("BEGIN IMMEDIATE")
        event_index.merge(conn, 0, _watermark(opened[0])[1] // 2)
        conn.execute("COMMIT")
    watermark, last = _watermark(opened[0])
    if request.param == "merged":
        assert watermark == last
    else:
        assert 0 < watermark < last, "the history should end split across both"
    assert _watermark(opened[1])[0] == 0
    _keys_mirror_events(opened[0])
    for store in opened:
        store.export_page_size = 7  # pages that cross from the merged keys into the tail
    yield list(opened)
    for store in opened:
        store.close()


def test_listing_pages_cross_from_the_tail_into_the_merged_keys(tmp_path: Path) -> None:
    merged, tail = _store(tmp_path / "m.db", 4), _store(tmp_path / "t.db", NEVER)
    try:
        for store in (merged, tail):
            for n in range(9):
                store.ingest(
                    [rec(event=f"E{n % 3}", time=n * 10, type="track" if n % 2 else "page"),
                     rec(event=None, time=None, type="identify")],
                    received_time_ms=1_000 + n,
                )  # fmt: skip
        assert 0 < _watermark(merged)[0] < _watermark(merged)[1]
        for query in (
            {},
            {"type": "track"},
            {"type": "identify", "vendor": "segment"},
            {"event_name": "E1", "source": SEG_KEY},
            {"type": "page", "source": SEG_KEY, "since_ms": 1_003},
            {"vendor": "segment", "until_ms": 1_005},
        ):
            for limit in (1, 3, 5, 50):
                pages = []
                for store in (merged, tail):
                    ids, before = [], None
                    while True:
                        page = store.events(**query, limit=limit, before_id=before)  # type: ignore[arg-type]
                        if not page:
                            break
                        ids += [event.id for event in page]
                        before = page[-1].id
                    pages.append(ids)
                assert pages[0] == pages[1] and pages[0] == sorted(pages[0], reverse=True)
                assert pages[0], query
        assert merged.stats() == tail.stats()
        _keys_mirror_events(merged)
    finally:
        merged.close()
        tail.close()


def test_an_alias_moves_the_merged_keys_to_the_surviving_user(tmp_path: Path) -> None:
    store = _store(tmp_path / "c.db", 1)
    try:
        store.ingest([rec(user=None, device="anon", time=t) for t in (10, 20)])
        store.ingest([rec(user="u9", time=30)])
        store.ingest([rec(type="alias", event=None, user="u9", time=40, alias_of="anon")])
        assert _watermark(store)[0] == _watermark(store)[1]
        _keys_mirror_events(store)
        with store._reading() as conn:
            users = conn.execute("SELECT DISTINCT amplitude_id FROM event_names").fetchall()
        assert len(users) == 1
    finally:
        store.close()


def test_two_writers_on_one_file_merge_what_they_see(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    first, second = _store(path, 3), _store(path, 5)
    try:
        for n in range(12):
            (first if n % 3 else second).ingest(
                [rec(event=f"E{n}", time=n, key=f"k{n}"), rec(event="E", time=n + 100)]
            )
        assert first.stats() == second.stats()
        assert first.stats()["total"] == 24
        assert [e.id for e in first.events(limit=100)] == list(range(24, 0, -1))
        _keys_mirror_events(first)
        assert 0 < _watermark(first)[0] <= 24
    finally:
        first.close()
        second.close()


def test_reset_starts_the_keys_again(tmp_path: Path) -> None:
    store = _store(tmp_path / "c.db", 2)
    try:
        for n in range(3):
            store.ingest([rec(event="A", time=n), rec(event="B", time=n)])
        assert _watermark(store)[0] > 0
        store.reset()
        assert _watermark(store) == (0, 0)
        store.ingest([rec(event="C", time=5)])
        assert [e.event_name for e in store.events(limit=10)] == ["C"]
        assert store.stats()["total"] == 1
        store.ingest([rec(event="D", time=6)])
        _keys_mirror_events(store)
        assert [e.event_name for e in store.events(limit=10, source=SEG_KEY, type="track")] == [
            "D",
            "C",
        ]
    finally:
        store.close()


def test_a_request_rolled_back_after_its_counts_counts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path / "c.db", NEVER)
    try:
        store.ingest([rec(event="A", time=1), rec(type="identify", event=None, time=2)])
        counted = event_index.count_events

        def count_then_fail(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
            counted(conn, rows)
            raise RuntimeError("after the counts")

        monkeypatch.setattr(event_index, "count_events", count_then_fail)
        with pytest.raises(RuntimeError, match="after the counts"):
            store.ingest([rec(event="B", time=3), rec(source="other", event="C", time=4)])
        monkeypatch.undo()
        assert {c["type"]: c["count"] for c in store.stats()["by_source"]} == {
            "track": 1,
            "identify": 1,
        }
        _keys_mirror_events(store)
    finally:
        store.close()


def test_version_10_file_counts_its_tail(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with _store(path, 3) as store:
        store.ingest([rec(event=f"E{n % 2}", time=n, key=f"k{n}") for n in range(4)])
        store.ingest([rec(event="E", time=9, key="k9"), rec(type="identify", event=None)])
        assert _watermark(store) == (4, 6)
        before = store.stats()
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(schema.SchemaTooNewError):
        schema.migrate(conn, schema.MIGRATIONS[:10])
    # Back to version 10: event_counts covers the events up to the watermark only.
    conn.executescript(
        f"{UNDO_MIGRATION_12}DELETE FROM event_counts; "
        "INSERT INTO event_counts (source_id, type, n) "
        "SELECT source_id, type, count(*) FROM events WHERE id <= 4 GROUP BY 1, 2; "
        "DELETE FROM schema_migrations WHERE version >= 11; PRAGMA user_version = 10;"
    )
    conn.close()
    with _store(path, NEVER) as store:
        assert store.schema_version == len(schema.MIGRATIONS)
        assert schema.MIGRATIONS[10].statements is event_index.COUNT_TAIL
        assert store.stats() == before
        assert before["total"] == 6
        _keys_mirror_events(store)


def test_version_9_file_gets_the_keys_and_older_code_refuses_it(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    ops: list[UserOp] = [("$set", {"plan": "pro"})]
    with _store(path, NEVER) as store:
        store.ingest([rec(event=f"E{n % 2}", time=n or None, ops=ops) for n in range(5)])
        before = (store.stats(), store.events(limit=10, source=SEG_KEY, event_name="E1"))
        project = store.project_sources(SEG_KEY)
        exported = list(store.export_rows(project, 0, 2**62))
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(schema.SchemaTooNewError):
        schema.migrate(conn, schema.MIGRATIONS[:9])
    # Back to version 9: the indexes, no key tables (the events stay).
    conn.executescript(
        f"{UNDO_MIGRATION_12}{UNDO_MIGRATION_10} "
        "DELETE FROM schema_migrations WHERE version >= 10; PRAGMA user_version = 9;"
    )
    conn.close()
    with _store(path, NEVER) as store:
        assert store.schema_version == len(schema.MIGRATIONS)
        assert schema.MIGRATIONS[9].statements is event_index.MIGRATION
        assert _watermark(store) == (5, 5)
        _keys_mirror_events(store)
        assert (store.stats(), store.events(limit=10, source=SEG_KEY, event_name="E1")) == before
        assert list(store.export_rows(project, 0, 2**62)) == exported
    conn = sqlite3.connect(path)
    indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert not indexes & {"events_by_type", "events_by_name_time", "events_by_received"}
