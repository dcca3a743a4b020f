"""The SQLite store's negative filter over its merged de-duplication keys (sqlite/key_filter.py)
and each path of :class:`~trackwire.collector.sqlite.dedup.DedupKeys` around it: a hash the
filter lets through that the table lacks, another writer's keys and merges, a reset, growth.
"""

from __future__ import annotations

import array
import random
import sqlite3
from pathlib import Path

import pytest

from tests.collector.test_store import rec
from trackwire.collector.sqlite import SQLiteStore, dedup, key_filter, merged_filter
from trackwire.collector.store import IngestResult

_EDGES = [-(2**63), -1, 0, 1, 2**63 - 1, 0xFFFF, -0x10000]


def _random_hashes(count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.getrandbits(64) - 2**63 for _ in range(count)]


def test_hashes_of_many_pairs_are_each_pairs_dedup_hash() -> None:
    pairs = [("segment:*", "abc"), ("12:device:\ud800", "x"), ("1", ""), ("", "\x00\udfff")]
    pairs += [("7", f"m{i}") for i in range(100)]
    assert dedup.dedup_hashes(pairs) == [dedup.dedup_hash(*pair) for pair in pairs]
    assert dedup.dedup_hashes(pairs)[:2] == [7350649652603841100, 2955709551436257078]
    assert dedup.dedup_hashes([]) == []
    # A key that is not text (a record made by hand) hashes as its text, as dedup_hash has it.
    assert dedup.dedup_hashes([("1", 5)]) == [dedup.dedup_hash("1", 5)]


def test_every_added_hash_may_be_there() -> None:
    added = _random_hashes(50_000, seed=1) + _EDGES
    filt = key_filter.KeyFilter()
    filt.add(added[:25_000])
    filt.add(iter(added[25_000:]))  # any iterable, once
    assert filt.maybe(added) == added
    assert filt.count == len(added)


def test_false_positives_stay_near_one_percent_at_capacity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(key_filter, "MIN_WORDS", 1024)  # room for 5,461 keys
    filt = key_filter.KeyFilter()
    filt.add(_random_hashes(filt.capacity, seed=2))
    assert not filt.full
    others = _random_hashes(20_000, seed=3)
    assert len(filt.maybe(others)) < 0.02 * len(others)
    filt.add([1])
    assert filt.full  # one past capacity: its owner rebuilds it larger


def test_size_is_a_power_of_two_words_with_room_for_the_capacity_asked() -> None:
    smallest = key_filter.KeyFilter()
    assert smallest.nbytes == key_filter.MIN_WORDS * 8
    assert smallest.capacity == key_filter.MIN_WORDS * 64 // key_filter.BITS_PER_KEY
    asked = smallest.capacity * 3
    larger = key_filter.KeyFilter(asked)
    assert larger.capacity >= asked
    assert larger.nbytes == 4 * smallest.nbytes  # the next power of two: 1.5-6 bytes per key
    assert larger.maybe(_random_hashes(1_000, seed=4)) == []  # empty: rules everything out


@pytest.fixture
def tiny_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Filters of one word (5 keys), so growth and false positives happen with a few keys."""
    monkeypatch.setattr(key_filter, "MIN_WORDS", 1)


def _store(path: Path, merge_at: int = 3) -> SQLiteStore:
    store = SQLiteStore(path)
    store._dedup = dedup.DedupKeys(merge_at=merge_at, merge_at_most=None)
    return store


def _table_counts(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        merged = conn.execute("SELECT count(*) FROM dedup_keys").fetchone()[0]
        recent = conn.execute("SELECT count(*) FROM dedup_recent").fetchone()[0]
    finally:
        conn.close()
    return merged, recent


def test_a_hash_the_filter_lets_through_but_the_table_lacks_is_stored(
    tmp_path: Path, tiny_filters: None
) -> None:
    with _store(tmp_path / "c.db") as store:
        assert store.ingest([rec(key=f"m{i}") for i in range(4)]).stored == 4  # merged
        filt = store._dedup._merged._filter
        assert filt is not None
        filt._words[:] = array.array("Q", [2**64 - 1] * len(filt._words))
        # Every hash passes the filter now: the table answers, and only m1 is there.
        assert store.ingest([rec(key="new"), rec(key="m1")]) == IngestResult(1, 1)
        assert store.ingest([rec(key="new")]) == IngestResult(0, 1)


def test_the_filter_grows_with_the_merged_keys_and_loses_none(
    tmp_path: Path, tiny_filters: None
) -> None:
    path = tmp_path / "c.db"
    with _store(path) as store:
        for start in range(0, 40, 4):
            batch = [rec(key=f"m{i}") for i in range(start, start + 4)]
            assert store.ingest(batch).stored == 4
        assert store.ingest([rec(key=f"m{i}") for i in range(41)]) == IngestResult(1, 40)
        filt = store._dedup._merged._filter
        assert filt is not None and filt.nbytes > 8 and not filt.full
    assert _table_counts(path) == (40, 1)
    with _store(path) as reopened:  # loaded from the table, sized for it
        assert reopened.ingest([rec(key=f"m{i}") for i in range(42)]) == IngestResult(1, 41)
        loaded = reopened._dedup._merged._filter
        assert loaded is not None and loaded.capacity >= 2 * 40


def test_another_writers_keys_and_merges_are_found(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with _store(path) as one, _store(path) as two:
        assert one.ingest([rec(key="a1"), rec(key="a2")]).stored == 2  # recent, not merged
        assert two.ingest([rec(key="a1"), rec(key="b1")]) == IngestResult(1, 1)
        # two merges (4 recent keys >= 3): moved into dedup_keys behind one's back.
        assert two.ingest([rec(key="b2"), rec(key="b3")]).stored == 2
        assert _table_counts(path) == (3, 2)  # two merged a1, a2 (one's) and b1
        assert one.ingest([rec(key=k) for k in ("a1", "b1", "b2", "b3", "a3")]) == IngestResult(
            1, 4
        )
        # one merged again (a3, then c0-c2): two finds dedup_recent emptied since it looked
        # and reads what was merged after its filter's last key.
        assert one.ingest([rec(key=f"c{i}") for i in range(3)]).stored == 3
        assert two.ingest([rec(key=f"c{i}") for i in range(4)]) == IngestResult(1, 3)
        assert one.ingest([rec(key="c3"), rec(key="a4")]) == IngestResult(1, 1)
    with SQLiteStore(path) as fresh:
        keys = sorted(e.dedup_key or "" for e in fresh.events())
    assert keys == sorted(["a1", "a2", "b1", "b2", "b3", "a3", "c0", "c1", "c2", "c3", "a4"])


def test_keys_merged_by_another_writer_while_ours_were_recent(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with _store(path) as one, _store(path, merge_at=1000) as two:
        assert one.ingest([rec(key=f"m{i}") for i in range(4)]).stored == 4  # merged
        assert one.ingest([rec(key="r1")]).stored == 1  # recent: its first row is noted
        assert two.ingest([rec(key="x1"), rec(key="x2")]).stored == 2
        # Another writer with a lower threshold merges r1, x1, x2 and one more.
        three = _store(path)
        try:
            assert three.ingest([rec(key="x3")]).stored == 1
        finally:
            three.close()
        assert _table_counts(path) == (8, 0)
        assert one.ingest([rec(key=k) for k in ("x1", "x2", "x3", "r1", "m0", "n")]) == (
            IngestResult(1, 5)
        )


def test_catching_up_reads_events_by_id_not_the_merged_table(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with _store(path) as one, _store(path) as two:
        assert one.ingest([rec(key=f"m{i}") for i in range(4)]).stored == 4  # merged
        for _ in range(3):  # another writer's events without keys: one catches up past them
            assert two.ingest([rec(key=None)]).stored == 1
            assert one.ingest([rec(key=None)]).stored == 1
        assert two.ingest([rec(key=f"t{i}") for i in range(3)]).stored == 3  # two merges
        statements: list[str] = []
        one._writer.set_trace_callback(statements.append)
        try:
            assert one.ingest([rec(key=k) for k in ("t0", "t2", "m1", "u")]) == IngestResult(1, 3)
        finally:
            one._writer.set_trace_callback(None)
        # (dedup_keys has no index by event id: a catch-up must not scan it.)
        assert not [s for s in statements if "FROM dedup_keys WHERE event_id" in s]


def test_a_reset_by_another_writer_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with _store(path) as one, _store(path) as two:
        assert one.ingest([rec(key=f"m{i}") for i in range(4)]).stored == 4  # merged
        two.reset()
        # Event ids start again at 1: two's keys of events 1-4 are other keys than one's.
        assert two.ingest([rec(key=f"n{i}") for i in range(4)]).stored == 4  # merged
        assert one.ingest([rec(key="n3"), rec(key="m0")]) == IngestResult(1, 1)
        one.reset()
        assert one.ingest([rec(key="n3"), rec(key="m0")]) == IngestResult(2, 0)


def test_a_failed_transaction_forgets_the_filter_and_reads_it_again(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with _store(path) as store:
        assert store.ingest([rec(key=f"m{i}") for i in range(4)]).stored == 4  # merged
        conn = store._writer
        conn.execute("BEGIN IMMEDIATE")
        keys = store._dedup
        keys.savepoint()
        keys.add(conn, [(dedup.dedup_hash("1", "gone"), 99), (123, 100), (456, 101)])
        keys.merge_if_due(conn)  # merges, and gives the filter keys that will not be there
        conn.execute("ROLLBACK")
        keys.forget()  # as the store does when a transaction fails
        assert keys._merged._filter is None
        assert store.ingest([rec(key="gone"), rec(key="m2")]) == IngestResult(1, 1)
        assert _table_counts(path)[0] == 4


def test_another_writers_recent_keys_are_read_alone_when_it_did_not_merge(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.db"
    with _store(path, merge_at=100) as one, _store(path, merge_at=100) as two:
        assert one.ingest([rec(key="a1"), rec(key="a2")]).stored == 2
        kept = one._dedup._recent
        assert two.ingest([rec(key="a1"), rec(key="b1"), rec(key="b2")]) == IngestResult(2, 1)
        assert one.ingest([rec(key="b1"), rec(key="b2"), rec(key="a3")]) == IngestResult(1, 2)
        # The same copy, with two's rows added to it: not read again.
        assert one._dedup._recent is kept
        assert (len(kept), one._dedup._count) == (5, 5)
        assert two.ingest([rec(key="a3"), rec(key="b3")]) == IngestResult(1, 1)


def test_the_filter_is_read_in_steps_and_answers_right_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_filters: None
) -> None:
    path = tmp_path / "c.db"
    with _store(path, merge_at=1) as store:
        assert store.ingest([rec(key=f"m{i}") for i in range(12)]).stored == 12  # merged
    monkeypatch.setattr(merged_filter, "LOAD_STEP", 5)
    with _store(path, merge_at=1000) as store:
        merged = store._dedup._merged
        for _ in range(3):  # 5 of 12 hashes read per transaction: complete after the third
            assert not merged.complete
            assert store.ingest([rec(key=f"m{i}") for i in range(12)]) == IngestResult(0, 12)
        assert merged.complete
        assert store.ingest([rec(key=f"m{i}") for i in range(13)]) == IngestResult(1, 12)
        # 12 keys read into room for 42; 31 more fill it: a larger one is read in steps while
        # the full one answers.
        store._dedup._merge_at = 1
        assert store.ingest([rec(key=f"n{i}") for i in range(31)]).stored == 31
        assert merged._filter is not None and merged._filter.full
        assert merged._building is not None
        for extra in range(31, 46):  # 5 of ~45 hashes read per transaction
            keys = [f"m{i}" for i in range(13)] + [f"n{i}" for i in range(extra + 1)]
            assert store.ingest([rec(key=key) for key in keys]) == IngestResult(1, len(keys) - 1)
        assert merged._building is None and not merged._filter.full
        assert merged._filter.capacity >= 2 * 43


def test_the_merge_batch_grows_with_the_merged_keys_up_to_its_most(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = SQLiteStore(path)
    store._dedup = dedup.DedupKeys(merge_at=2, merge_at_most=4)
    with store:
        assert store.ingest([rec(key=f"m{i}") for i in range(15)]).stored == 15
        assert _table_counts(path) == (15, 0)  # merged at 2 or more: the table was empty
        assert store._dedup.merge_threshold == 3  # one recent key per 5 merged ones
        assert store.ingest([rec(key="r0"), rec(key="r1")]).stored == 2
        assert _table_counts(path) == (15, 2)
        assert store.ingest([rec(key="r2"), rec(key="m3")]) == IngestResult(1, 1)
        assert _table_counts(path) == (18, 0)
        assert store._dedup.merge_threshold == 3
        assert store.ingest([rec(key=f"n{i}") for i in range(3)]).stored == 3
        assert store._dedup.merge_threshold == 4  # 21 merged: at its most
        # Every key answers the same from either table.
        keys = [f"m{i}" for i in range(15)] + ["r0", "r1", "r2", "n0", "n1", "n2", "new"]
        assert store.ingest([rec(key=key) for key in keys]) == IngestResult(1, len(keys) - 1)
    with _store(path, merge_at=2) as fixed:  # merge_at_most None: always merge_at
        assert fixed.ingest([rec(key="x0")]).stored == 1
        assert fixed._dedup.merge_threshold == 2
