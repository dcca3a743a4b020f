"""The SQLite store's file and writer settings: page size, WAL, where journals go.

What they change is measured in bench/RESULTS.md ("eighth round"); these tests hold what they
must not change: every open of a new file succeeds, older files keep working, and a merge that
fails still fails only its own group.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any, Final

import pytest

from tests.collector.test_store import count, rec
from trackwire.collector.sqlite import SQLiteStore, dedup, event_index, user_index
from trackwire.collector.sqlite import store as store_module
from trackwire.collector.store import IngestResult


def test_a_new_file_gets_large_pages_and_an_older_file_keeps_its_own(tmp_path: Path) -> None:
    new = tmp_path / "new.db"
    with SQLiteStore(new) as store:
        store.ingest([rec(key="m1")])
    conn = sqlite3.connect(new)
    assert conn.execute("PRAGMA page_size").fetchone()[0] == store_module.PAGE_SIZE == 16_384
    conn.close()

    # A file created with SQLite's default pages (as the store made them before) is opened,
    # migrated and written as it is; its WAL bound stays 256 MiB in its own pages.
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE scratch (x)")
    conn.execute("DROP TABLE scratch")
    conn.close()
    with SQLiteStore(old) as store:
        assert store.ingest([rec(key="m1")]) == IngestResult(1, 0)
        assert store.ingest([rec(key="m1")]) == IngestResult(0, 1)
        autocheckpoint = store._writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    assert autocheckpoint == 256 * 1024 * 1024 // 4096
    conn = sqlite3.connect(old)
    assert conn.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    conn.close()


def test_the_writer_keeps_its_savepoints_copies_of_pages_in_memory(tmp_path: Path) -> None:
    # Each request's savepoint copies the pages it changes; in a temporary file that was 80
    # write calls a request. Set after the migrations, whose sorts may still use files.
    with SQLiteStore(tmp_path / "c.db") as store:
        assert store._writer.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
        assert store.ingest([rec(key="m1"), rec(key="m2")]) == IngestResult(2, 0)


def _open_at_once(path: str, barrier: Any, outcomes: Any) -> None:
    try:
        barrier.wait(timeout=30)  # a sibling that died breaks it: reported, not waited on
        SQLiteStore(path).close()
        outcomes.put("ok")
    except Exception as exc:  # reported to the test, which names it
        outcomes.put(repr(exc.__cause__ or exc))


def test_collectors_opening_one_new_file_at_once_all_open(tmp_path: Path) -> None:
    # Switching a new file to WAL can meet another process's lock and fail at once (SQLite
    # does not wait there): it was "database is locked" for about one open in five.
    context = multiprocessing.get_context("fork")
    for round_ in range(8):
        path = str(tmp_path / f"new-{round_}.db")
        barrier, outcomes = context.Barrier(3), context.Queue()
        openers = [
            context.Process(target=_open_at_once, args=(path, barrier, outcomes), daemon=True)
            for _ in range(3)
        ]
        try:
            for opener in openers:
                opener.start()
            results = [outcomes.get(timeout=60) for _ in openers]
        finally:
            # Whatever happened, no child outlives the test (pytest would wait for it at exit).
            for opener in openers:
                if opener.pid is None:
                    continue  # never started
                opener.join(timeout=10)
                if opener.is_alive():
                    opener.terminate()
                    opener.join()
        assert results == ["ok"] * 3, results
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA page_size").fetchone()[0] == store_module.PAGE_SIZE
        conn.close()


def _merge_dedup_keys_at_three(store: SQLiteStore) -> None:
    store._dedup = dedup.DedupKeys(merge_at=3, merge_at_most=None)


def _merge_user_key_runs_at_three(store: SQLiteStore) -> None:
    store._user_events = user_index.UserEvents(merge_at=1, mid_at=3)


def _merge_event_keys_at_once(store: SQLiteStore) -> None:
    store._event_keys = event_index.EventKeys(merge_at=1)


#: Per merge: how to make the store merge at the third event, a row that event's merge collides
#: with (user u1 is amplitude id 1 and source 1; the event is id 3, client time 300, received
#: at 5), and the statement that removes it again.
_COLLISIONS: Final = {
    "de-duplication keys": (
        _merge_dedup_keys_at_three,
        f"INSERT INTO dedup_keys (hash, event_id) VALUES ({dedup.dedup_hash('1', 'm2')}, 3)",
        "DELETE FROM dedup_keys WHERE event_id = 3",
    ),
    "user key runs": (
        _merge_user_key_runs_at_three,
        "INSERT INTO user_events (amplitude_id, time_ms, event_id) VALUES (1, 300, 3)",
        "DELETE FROM user_events WHERE event_id = 3",
    ),
    "event keys": (
        _merge_event_keys_at_once,
        "INSERT INTO event_received (source_id, received_time_ms, event_id) VALUES (1, 5, 3)",
        "DELETE FROM event_received WHERE event_id = 3",
    ),
}


@pytest.mark.parametrize("merge", list(_COLLISIONS))
def test_a_merge_that_fails_fails_its_whole_group_and_the_store_goes_on(
    tmp_path: Path, merge: str
) -> None:
    # The bulk merges run without a statement journal (bulk.WHOLE_TRANSACTION): one that fails
    # rolls back the whole transaction, not just itself. The group's requests get the error,
    # nothing of them stays, and the writer's memory is read again for the next request.
    merge_early, collide, undo = _COLLISIONS[merge]
    store = SQLiteStore(tmp_path / "c.db")
    merge_early(store)
    other = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    try:
        assert store.ingest([rec(key="m0", time=100), rec(key="m1", time=200)]).stored == 2
        other.execute(collide)
        with pytest.raises(sqlite3.IntegrityError):
            store.ingest([rec(key="m2", time=300)], received_time_ms=5)
        assert not store._writer.in_transaction
        assert count(store) == 2
        other.execute(undo)
        again = store.ingest([rec(key="m2", time=300), rec(key="m1")], received_time_ms=5)
        assert again == IngestResult(1, 1)
        assert store.ingest([rec(key=f"m{i}") for i in range(3)]) == IngestResult(0, 3)
        assert other.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        other.close()
        store.close()
