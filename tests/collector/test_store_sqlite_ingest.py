"""The SQLite store's own ingest path: de-duplication by 64-bit hash, its migration, and group
commit of the requests waiting for the write lock.

(The behaviour both stores share is the store contract in test_store.py.)
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.collector.test_store import SEG_KEY, count, rec
from tests.collector.test_store_sqlite_event_index import UNDO_MIGRATION_10, UNDO_MIGRATION_12
from trackwire.collector.sqlite import SQLiteStore, bulk, dedup, schema, user_index
from trackwire.collector.sqlite import ingest as sqlite_ingest
from trackwire.collector.store import IngestResult, StorageLimitError
from trackwire.errors import ValidationError


def test_dedup_hash_is_stable_signed_64_bit_and_scoped() -> None:
    value = dedup.dedup_hash("segment:*", "m1")
    assert value == dedup.dedup_hash("segment:*", "m1")
    assert -(2**63) <= value < 2**63
    assert value != dedup.dedup_hash("1", "m1")
    # Lone surrogates and NUL are ids like any other.
    assert dedup.dedup_hash("1", "\ud800\x00") != dedup.dedup_hash("1", "\ud800")


def test_colliding_hashes_never_drop_a_distinct_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_ingest, "dedup_hash", lambda scope, key: 42)
    monkeypatch.setattr(sqlite_ingest, "dedup_hashes", lambda pairs: [42] * len(pairs))
    with SQLiteStore(tmp_path / "c.db") as store:
        first = [rec(key=f"m{i}", user=f"u{i}") for i in range(5)]
        assert store.ingest(first) == IngestResult(5, 0)
        # Same hash, other texts: stored; the texts already stored: duplicates.
        assert store.ingest([rec(key="m5"), rec(key="m0"), rec(key="m5")]) == IngestResult(1, 2)
        assert count(store) == 6
        assert sorted(e.dedup_key or "" for e in store.events()) == [f"m{i}" for i in range(6)]


def test_version_6_file_gets_hashes_and_keeps_its_ids(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(conn, schema.MIGRATIONS[:6]) == 6
    conn.execute(
        "INSERT INTO sources (source_id, vendor, source) VALUES (1, 'segment', ?)", [SEG_KEY]
    )
    conn.execute(
        "INSERT INTO events (source_id, type, received_time_ms, dedup_key, dedup_scope, payload) "
        "VALUES (1, 'track', 5, 'old-id', '1', '{}'), (1, 'track', 5, NULL, NULL, '{}')"
    )
    conn.close()
    with SQLiteStore(path) as store:
        assert store.schema_version == len(schema.MIGRATIONS)
        assert store.ingest([rec(key="old-id"), rec(key="new-id")]) == IngestResult(1, 1)
    conn = sqlite3.connect(path)
    keys = conn.execute(
        "SELECT hash, event_id FROM dedup_keys UNION ALL SELECT hash, event_id FROM dedup_recent"
    ).fetchall()
    indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert sorted(keys) == sorted(
        [(dedup.dedup_hash("1", "old-id"), 1), (dedup.dedup_hash("1", "new-id"), 3)]
    )
    assert "events_dedup" not in indexes


def test_recent_keys_are_merged_and_still_found(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "c.db")
    store._dedup = dedup.DedupKeys(merge_at=3, merge_at_most=None)
    try:
        assert store.ingest([rec(key=f"m{i}", user=f"u{i}") for i in range(4)]).stored == 4
        assert store.ingest([rec(key="m4"), rec(key="m1")]) == IngestResult(1, 1)
        store._dedup.forget()  # read back from the tables, as after another writer's commit
        assert store.ingest([rec(key=f"m{i}") for i in range(6)]) == IngestResult(1, 5)
    finally:
        store.close()
    conn = sqlite3.connect(tmp_path / "c.db")
    merged = conn.execute("SELECT count(*) FROM dedup_keys").fetchone()[0]
    recent = conn.execute("SELECT count(*) FROM dedup_recent").fetchone()[0]
    conn.close()
    assert (merged, recent) == (4, 2)  # merged when 4 were recent; 2 more since


def test_a_request_rolled_back_takes_back_only_its_own_keys() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema.migrate(conn)
    keys = dedup.DedupKeys()
    keys.savepoint()
    keys.add(conn, [(5, 1), (6, 2)])  # committed with its request
    keys.savepoint()
    # Another key of hash 5, a new hash twice (two keys of one hash in one request).
    keys.add(conn, [(5, 3), (9, 4)])
    keys.add(conn, [(9, 7)])
    assert (keys._recent, keys._more) == ({5: 1, 6: 2, 9: 4}, {5: [3], 9: [7]})
    keys.rolled_back()
    assert (keys._recent, keys._more, keys._count) == ({5: 1, 6: 2}, {}, 2)
    keys.savepoint()
    keys.rolled_back()  # nothing added: nothing taken back
    assert (keys._recent, keys._count) == ({5: 1, 6: 2}, 2)
    conn.close()


def test_waiting_requests_commit_together_and_a_bad_one_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(tmp_path / "c.db")
    groups: list[int] = []
    write_group = store._write_group

    def counted(group: list[object]) -> None:
        groups.append(len(group))
        write_group(group)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "_write_group", counted)
    requests = {
        "good": [rec(key="a", user="ua"), rec(key="b", user="ub")],
        # A value with no JSON form fails inside the transaction, when the user is written.
        "bad": [rec(key="c", user="uc", ops=[("$set", {"tags": {1, 2}})])],
        "also good": [rec(key="d", user="ud"), rec(key="a", user="ua")],
    }
    outcomes: dict[str, object] = {}

    def send(name: str) -> None:
        try:
            outcomes[name] = store.ingest(requests[name])
        except ValidationError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=send, args=(name,)) for name in requests]
    with store._lock:  # the writer is busy: all three wait for it
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(store._pending) < 3 and time.monotonic() < deadline:
            threading.Event().wait(0.005)
        assert len(store._pending) == 3
    for thread in threads:
        thread.join(10)
    try:
        assert groups == [3]
        assert outcomes["good"] == IngestResult(2, 0)
        assert outcomes["also good"] == IngestResult(1, 1)  # "a" was stored by "good"
        assert isinstance(outcomes["bad"], ValidationError)
        assert sorted(e.dedup_key or "" for e in store.events()) == ["a", "b", "d"]
        # The bad request took back only its own keys, without reading them all again.
        assert store._dedup._recent is not None
        assert store.user("segment", SEG_KEY, user_id="uc") is None
        assert store.ingest([rec(key="c", user="uc")]) == IngestResult(1, 0)
    finally:
        store.close()


def _activity_by_index(path: Path, amplitude_id: int, latest: bool) -> list[int]:
    """What the (amplitude_id, client_time_ms) index gave: the user's event ids in time order
    (no client time first), ties by id."""
    order = "DESC" if latest else "ASC"
    conn = sqlite3.connect(path)
    try:
        return [
            event_id
            for (event_id,) in conn.execute(
                "SELECT id FROM events WHERE amplitude_id = ? "
                f"ORDER BY client_time_ms {order}, id {order}",
                (amplitude_id,),
            )
        ]
    finally:
        conn.close()


def test_user_activity_reads_every_key_table_in_time_order(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = SQLiteStore(path)
    store._user_events = user_index.UserEvents(merge_at=3, mid_at=7)
    try:
        # Times out of order, ties, events without a client time; recent keys become a
        # run at 3, the runs move to the large one at 7.
        store.ingest([rec(user="u1", time=t) for t in (50, 10, None, 30)])
        store.ingest([rec(user="u2", time=5), rec(user="u1", time=10), rec(user="u1", time=None)])
        store.ingest([rec(user="u2", time=40), rec(user="u2", time=45), rec(user="u1", time=15)])
        store.ingest([rec(user="u2", time=41)])
        # u2's earlier id becomes u1's: u2's events, in all three tables, move to u1.
        store.ingest([rec(type="alias", user="u1", alias_of="u2", event=None, time=60)])
        store.ingest([rec(user="u1", time=20)])
        store.ingest([rec(user="u1", time=70)])
        conn = sqlite3.connect(path)
        sizes = [
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("user_events", "user_events_runs", "user_events_recent")
        ]
        runs = conn.execute("SELECT count(DISTINCT run) FROM user_events_runs").fetchone()[0]
        conn.close()
        assert sizes == [7, 6, 1]  # the answers below need every table
        assert runs == 2  # and more than one run
        project = store.project_sources(SEG_KEY)
        (user,) = [u for u in store.search_users(project, "u1")[1] if u.user_id == "u1"]
        for latest in (True, False):
            expected = _activity_by_index(path, user.amplitude_id, latest)
            assert len(expected) == 14
            pages = [
                [
                    row.id
                    for row in store.user_events(
                        project[0], user.amplitude_id, offset=offset, limit=3, latest=latest
                    )
                ]
                for offset in range(0, 15, 3)
            ]
            assert [i for page in pages for i in page] == expected
        summary = store.user_summary(project, user.amplitude_id)
        assert summary is not None
        conn = sqlite3.connect(path)
        last = conn.execute(
            "SELECT max(coalesce(client_time_ms, received_time_ms)) FROM events "
            "WHERE amplitude_id = ?",
            (user.amplitude_id,),
        ).fetchone()[0]
        conn.close()
        # Events without a client time count at their receipt.
        assert (summary.num_events, summary.first_ms, summary.last_ms) == (14, 5, last)
        assert store.user_summary(project, user.amplitude_id + 1000) is None
    finally:
        store.close()


def test_version_7_file_gets_user_keys_and_drops_the_index(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with SQLiteStore(path) as store:
        store.ingest([rec(user="u1", time=t) for t in (30, None, 10)])
    conn = sqlite3.connect(path, isolation_level=None)
    # Back to version 7: the index, no key tables (the events and users stay).
    conn.executescript(
        "DROP TABLE user_events; DROP TABLE user_events_runs; DROP TABLE user_events_recent; "
        "CREATE INDEX events_by_user_time ON events (amplitude_id, client_time_ms); "
        f"{UNDO_MIGRATION_10}"
        "DELETE FROM schema_migrations WHERE version >= 8; PRAGMA user_version = 7;"
    )
    conn.close()
    with SQLiteStore(path) as store:
        assert store.schema_version == len(schema.MIGRATIONS)
        store.ingest([rec(user="u1", time=20)])
        project = store.project_sources(SEG_KEY)
        rows = store.user_events(project[0], 1, offset=0, limit=10, latest=False)
    assert [(row.id, row.client_time_ms) for row in rows] == [
        (2, None), (3, 10), (4, 20), (1, 30)
    ]  # fmt: skip
    conn = sqlite3.connect(path)
    indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "events_by_user_time" not in indexes


def test_version_11_file_gets_its_middle_table_as_run_0(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with SQLiteStore(path) as store:
        store._user_events = user_index.UserEvents(merge_at=2, mid_at=100)
        store.ingest([rec(user="u1", time=t) for t in (30, None, 10)])
        store.ingest([rec(user="u1", time=20), rec(user="u2", time=5)])
        project = store.project_sources(SEG_KEY)
        before = store.user_events(project[0], 1, offset=0, limit=10, latest=True)
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(schema.SchemaTooNewError):
        schema.migrate(conn, schema.MIGRATIONS[:11])
    assert conn.execute("SELECT count(DISTINCT run) FROM user_events_runs").fetchone() == (2,)
    conn.executescript(
        f"{UNDO_MIGRATION_12}DELETE FROM schema_migrations WHERE version >= 12; "
        "PRAGMA user_version = 11;"
    )
    assert conn.execute("SELECT count(*) FROM user_events_mid").fetchone() == (5,)
    conn.close()
    with SQLiteStore(path) as store:
        assert store.schema_version == len(schema.MIGRATIONS)
        assert schema.MIGRATIONS[11].statements is user_index.RUNS
        assert store.user_events(project[0], 1, offset=0, limit=10, latest=True) == before
    conn = sqlite3.connect(path)
    runs = conn.execute("SELECT run, count(*) FROM user_events_runs GROUP BY run").fetchall()
    conn.close()
    assert runs == [(0, 5)]


def test_two_writers_on_one_file_keep_every_user_key(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    first, second = SQLiteStore(path), SQLiteStore(path)
    for store in (first, second):
        store._user_events = user_index.UserEvents(merge_at=3, mid_at=5)
    try:
        for number in range(12):
            writer = (first, second)[number % 2]
            writer.ingest([rec(user="u1", time=1_000 - number), rec(user=f"u{number}", time=5)])
        project = first.project_sources(SEG_KEY)
        (user,) = [u for u in first.search_users(project, "u1")[1] if u.user_id == "u1"]
        rows = second.user_events(project[0], user.amplitude_id, offset=0, limit=100, latest=True)
        assert [row.id for row in rows] == _activity_by_index(path, user.amplitude_id, True)
        assert len(rows) == 13  # twelve requests, and "u1" itself in the second
    finally:
        first.close()
        second.close()


def test_dedup_hash_values_are_pinned() -> None:
    # The hash is part of the file format: stored keys must keep matching new requests.
    assert dedup.dedup_hash("segment:*", "abc") == 7350649652603841100
    assert dedup.dedup_hash("12:device:\ud800", "x") == 2955709551436257078


def test_events_columns_have_no_default(tmp_path: Path) -> None:
    # The events INSERT leaves out a column that is NULL in every row of a request: that is
    # only the same row while no column of events has a default.
    with SQLiteStore(tmp_path / "c.db"):
        pass
    conn = sqlite3.connect(tmp_path / "c.db")
    defaults = {row[1]: row[4] for row in conn.execute("PRAGMA table_info(events)")}
    conn.close()
    assert "props" in defaults
    assert set(defaults.values()) == {None}


def test_null_columns_are_stored_as_null_whatever_the_request_mixes(tmp_path: Path) -> None:
    requests = [
        # NULL in every row: device, session, revenue, groups, context.
        [rec(key="a1", user="u1"), rec(key="a2", user="u2")],
        # Mixed: a device, a key and a client time in some rows only.
        [rec(key="b1", device="d1"), rec(key=None, user=None, device="d2", time=None)],
        # Values where the others had NULL.
        [rec(key="c1", session_id=7, revenue=2.5, groups={"org": "x"}, device="d3")],
    ]
    with SQLiteStore(tmp_path / "c.db") as store:
        for records in requests:
            store.ingest(records, received_time_ms=99)
    conn = sqlite3.connect(tmp_path / "c.db")
    rows = conn.execute(
        "SELECT user_id, device_id, amplitude_id IS NULL, session_id, client_time_ms, "
        "received_time_ms, dedup_key, revenue, groups, context_id, dedup_scope "
        "FROM events ORDER BY id"
    ).fetchall()
    conn.close()
    assert rows == [
        ("u1", None, 0, None, 1_000, 99, "a1", None, None, None, "1"),
        ("u2", None, 0, None, 1_000, 99, "a2", None, None, None, "1"),
        ("u1", "d1", 0, None, 1_000, 99, "b1", None, None, None, "1"),
        (None, "d2", 0, None, None, 99, None, None, None, None, None),
        ("u1", "d3", 0, 7, 1_000, 99, "c1", 2.5, '{"org":"x"}', None, "1"),
    ]


@pytest.mark.parametrize("count", [0, 1, 3, 4, 21, 256, 341])
def test_insert_rows_keeps_the_order_of_any_count(count: int) -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)")
    rows = [(n, f"v{n}") for n in range(count)]
    assert bulk.insert_rows(conn, "INSERT INTO t (a, b)", 2, rows) == count
    assert conn.execute("SELECT id, a, b FROM t ORDER BY id").fetchall() == [
        (n + 1, n, f"v{n}") for n in range(count)
    ]
    with pytest.raises(ValueError, match="rows of 2"):
        bulk.insert_rows(conn, "INSERT INTO t (a, b)", 2, [(1, "x"), (2,)])


@pytest.mark.parametrize("count", [0, 1, 5, 341])
def test_insert_columns_stores_what_insert_rows_stores(count: int) -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, a INTEGER, b TEXT, c REAL)")
    a = list(range(count))
    b = [None if n % 3 else f"v{n}" for n in range(count)]
    c = tuple(n / 2 for n in range(count))
    head = "INSERT INTO t (s, a, b, c)"
    assert bulk.insert_columns(conn, head, [a, b, c], shared=("k",)) == count
    assert bulk.insert_rows(conn, head, 3, zip(a, b, c, strict=True), shared=("k",)) == count
    stored = conn.execute("SELECT s, a, b, c FROM t ORDER BY id").fetchall()
    assert stored == 2 * [("k", n, b[n], n / 2) for n in range(count)]
    with pytest.raises(ValueError, match="size"):
        bulk.insert_columns(conn, "INSERT INTO t (a, b)", [[1, 2], ["x"]])


def test_a_large_request_keeps_its_order_and_every_key(tmp_path: Path) -> None:
    # 341 rows: every statement size of bulk.CHUNKS once; ids follow the records.
    records = [rec(key=f"m{i}", user=f"u{i % 7}", time=i) for i in range(341)]
    with SQLiteStore(tmp_path / "c.db") as store:
        assert store.ingest(records) == IngestResult(341, 0)
        assert store.ingest(records[::-1]) == IngestResult(0, 341)
    conn = sqlite3.connect(tmp_path / "c.db")
    keys = [key for (key,) in conn.execute("SELECT dedup_key FROM events ORDER BY id")]
    hashed = conn.execute(
        "SELECT r.hash, e.dedup_scope, e.dedup_key FROM dedup_recent r "
        "JOIN events e ON e.id = r.event_id"
    ).fetchall()
    conn.close()
    assert keys == [f"m{i}" for i in range(341)]
    # Each recent key row names the event that carries it.
    assert len(hashed) == 341
    assert all(hash_ == dedup.dedup_hash(scope, key) for hash_, scope, key in hashed)


def test_max_bytes_counts_payloads_and_groups(tmp_path: Path) -> None:
    records = [rec(key="k1", payload={"a": 1}), rec(key="k2", payload={}, groups={"org": "x"})]
    size = len('{"a":1}') + len("{}") + len('{"org":"x"}')
    with SQLiteStore(tmp_path / "c.db") as store:
        with pytest.raises(StorageLimitError, match=f"it would store {size} bytes"):
            store.ingest(records, max_bytes=size - 1)
        assert count(store) == 0
        assert store.ingest(records, max_bytes=size) == IngestResult(2, 0)


def test_insert_rows_applies_a_conflict_clause_row_by_row() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE d (k TEXT PRIMARY KEY, v INTEGER)")
    conn.execute("INSERT INTO d VALUES ('a', 0)")
    bulk.insert_rows(
        conn,
        "INSERT INTO d (k, v)",
        2,
        [("a", 1), ("b", 2), ("b", 3)],
        " ON CONFLICT (k) DO UPDATE SET v = excluded.v",
    )
    assert conn.execute("SELECT k, v FROM d ORDER BY k").fetchall() == [("a", 1), ("b", 3)]


def test_insert_rows_applies_a_conflict_clause_with_shared_values() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE d (s INTEGER, k TEXT, v INTEGER, PRIMARY KEY (s, k))")
    conn.execute("INSERT INTO d VALUES (7, 'a', 0)")
    bulk.insert_rows(
        conn,
        "INSERT INTO d (s, k, v)",
        2,
        [("a", 1), ("b", 2), ("b", 3)],
        " ON CONFLICT (s, k) DO UPDATE SET v = excluded.v",
        shared=(7,),
    )
    assert conn.execute("SELECT s, k, v FROM d ORDER BY k").fetchall() == [(7, "a", 1), (7, "b", 3)]


def test_insert_rows_stays_within_the_variable_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite before 3.32 binds at most 999 parameters per statement; here at most 10.
    monkeypatch.setattr(bulk, "variable_limit", lambda conn: 10)
    statements: list[str] = []
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.set_trace_callback(statements.append)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)")
    rows = [(n, f"v{n}") for n in range(9)]
    assert bulk.insert_rows(conn, "INSERT INTO t (a, b)", 2, rows) == 9
    assert conn.execute("SELECT a, b FROM t ORDER BY id").fetchall() == rows
    inserts = [s for s in statements if s.startswith("INSERT")]
    assert len(inserts) == 3  # 4 + 4 + 1 rows: 8 parameters at most
    assert 0 < bulk.variable_limit(conn) <= 250_000


def test_each_row_keeps_the_scope_its_key_was_checked_in(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        records = [
            rec(key="a", user="u1"),
            rec(key="a", user="u1", dedup_scope="*"),
            rec(key="a", user="u1", device="D", dedup_scope="device:D"),
            rec(key=None, user="u1"),
            rec(key="a", user="u2"),  # repeated in its scope: not stored
        ]
        assert store.ingest(records) == IngestResult(4, 1)
        # Stored again: each key is found in the scope its row was written with.
        assert store.ingest(records[:3]) == IngestResult(0, 3)
        conn = sqlite3.connect(tmp_path / "s.db")
        rows = conn.execute("SELECT dedup_key, dedup_scope FROM events ORDER BY id").fetchall()
        source_id = conn.execute("SELECT source_id FROM sources").fetchone()[0]
        conn.close()
        assert rows == [
            ("a", str(source_id)),
            ("a", "segment:*"),
            ("a", f"{source_id}:device:D"),
            (None, None),
        ]
    finally:
        store.close()


@pytest.mark.parametrize("count", [1, 5, 341])
def test_insert_rows_binds_shared_values_once_and_keeps_the_order(
    count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.set_trace_callback(statements.append)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, n INTEGER, a INTEGER, b TEXT)")
    rows = [(n, f"v{n}") for n in range(count)]
    head = "INSERT INTO t (s, n, a, b)"
    assert bulk.insert_rows(conn, head, 2, rows, shared=("x", 7)) == count
    assert conn.execute("SELECT id, s, n, a, b FROM t ORDER BY id").fetchall() == [
        (n + 1, "x", 7, n, f"v{n}") for n in range(count)
    ]
    # Within the variable limit with the shared values counted: 2 + 4 * 2 parameters at most.
    monkeypatch.setattr(bulk, "variable_limit", lambda conn: 10)
    conn.execute("DELETE FROM t")
    statements.clear()
    assert bulk.insert_rows(conn, head, 2, rows[:9], shared=("y", 8)) == min(count, 9)
    assert conn.execute("SELECT s, n, a, b FROM t ORDER BY id").fetchall() == [
        ("y", 8, *row) for row in rows[:9]
    ]
    assert all(s.count("'y'") == 1 for s in statements if s.startswith("INSERT"))


def test_columns_alike_in_every_row_are_stored_per_row(tmp_path: Path) -> None:
    # Source, type, name, receipt time and scope are bound once when every row has the same.
    records = [rec(key="a", event="E", time=5), rec(key="b", event="E", time=6)]
    other = [rec(key="d", event="E", type="page"), rec(key="e", event="F", type="page")]
    with SQLiteStore(tmp_path / "c.db") as store:
        assert store.ingest(records, received_time_ms=99) == IngestResult(2, 0)
        assert store.ingest(other, received_time_ms=100) == IngestResult(2, 0)
        assert store.ingest([rec(key="f", dedup_scope="*")], received_time_ms=101) == (
            IngestResult(1, 0)
        )
    conn = sqlite3.connect(tmp_path / "c.db")
    rows = conn.execute(
        "SELECT source_id, type, event_name, client_time_ms, received_time_ms, dedup_key, "
        "dedup_scope FROM events ORDER BY id"
    ).fetchall()
    conn.close()
    assert rows == [
        (1, "track", "E", 5, 99, "a", "1"),
        (1, "track", "E", 6, 99, "b", "1"),
        (1, "page", "E", 1_000, 100, "d", "1"),
        (1, "page", "F", 1_000, 100, "e", "1"),
        (1, "track", "Item Purchased", 1_000, 101, "f", "segment:*"),
    ]


def test_a_source_claimed_by_a_request_that_failed_is_claimed_again(tmp_path: Path) -> None:
    # The writer remembers the source ids it claimed; a request rolled back takes its new
    # source with it, so the id it was given may go to another source next.
    with SQLiteStore(tmp_path / "c.db") as store:
        store.ingest([rec(key="a")])
        with pytest.raises(ValidationError):
            # A value with no JSON form fails inside the transaction, after "x" was claimed.
            store.ingest([rec(source="x", key="b", ops=[("$set", {"tags": {1, 2}})])])
        store.ingest([rec(source="y", key="c")])  # the id "x" had
        store.ingest([rec(source="x", key="d")])
        stored = {event.dedup_key: event.source for event in store.events()}
    assert stored == {"a": SEG_KEY, "c": "y", "d": "x"}


def test_source_ids_are_claimed_again_after_another_writer_reset_the_file(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "c.db") as one, SQLiteStore(tmp_path / "c.db") as other:
        one.ingest([rec(source="x", key="a")])
        other.reset()
        other.ingest([rec(source="y", key="b")])  # the id "x" had
        one.ingest([rec(source="x", key="c")])
        stored = {event.dedup_key: event.source for event in one.events()}
    assert stored == {"b": "y", "c": "x"}
