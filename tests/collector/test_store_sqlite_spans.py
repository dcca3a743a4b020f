"""The SQLite store's seen spans: known users' events write no span, reads take the recent user
keys in, and the merge folds them into ``users`` (see trackwire.collector.sqlite.user_index).

Every answer must be the same whether the spans are pending or folded. A store whose recent
keys merge after every group commit (``merge_at=1``) folds the spans before each request
returns, as the per-request span UPDATE of schema 8 did; a store that never merges keeps every
span pending. Both take the same requests and must answer alike. (They differ from schema 8
after an alias only where schema 8 was wrong: see the store contract's
``test_every_event_lies_in_its_users_seen_span_after_alias_merges``.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.collector.test_store import SEG_KEY, rec
from tests.collector.test_store_query_contract import CHARTS, PROJECT, START, ingest_history
from tests.collector.test_store_sqlite_event_index import UNDO_MIGRATION_10, UNDO_MIGRATION_12
from trackwire.amplitude.query.params import segmentation_params
from trackwire.collector.query.segmentation import plan
from trackwire.collector.sqlite import SQLiteStore, schema, user_index
from trackwire.collector.sqlite import ingest as sqlite_ingest
from trackwire.collector.store import UserState

#: Never reached by these tests: every span stays pending.
NEVER: int = 10**9


def _store(path: Path, merge_at: int) -> SQLiteStore:
    store = SQLiteStore(path)
    store._user_events = user_index.UserEvents(merge_at=merge_at)
    return store


def _raw(path: Path, sql: str, *params: Any) -> list[Any]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _span(store: SQLiteStore, amplitude_id: int) -> tuple[int, int]:
    state = store.user("segment", SEG_KEY, amplitude_id=amplitude_id)
    assert state is not None
    return state.first_seen_ms, state.last_seen_ms


@pytest.fixture(scope="module")
def pending_and_folded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[SQLiteStore]]:
    """The query contract's history, spans pending in one store and folded in the other."""
    folder = tmp_path_factory.mktemp("spans")
    stores = [_store(folder / "pending.db", NEVER), _store(folder / "folded.db", 1)]
    ingest_history(stores)
    yield stores
    for store in stores:
        store.close()


def test_pending_and_folded_spans_answer_alike(pending_and_folded: list[SQLiteStore]) -> None:
    pending, folded = pending_and_folded
    # The test has teeth: the pending store's rows lag, the folded store's hold every span.
    spans = "SELECT amplitude_id, first_seen_ms, last_seen_ms FROM users ORDER BY 1"
    lagging = _raw(Path(pending._path), spans)
    assert lagging != _raw(Path(folded._path), spans)
    assert _raw(Path(folded._path), "SELECT count(*) FROM user_events_recent") == [(0,)]

    def users(store: SQLiteStore) -> list[UserState | None]:
        found = [
            store.user(vendor, PROJECT, user_id=user)
            for vendor in ("segment", "amplitude", "mparticle")
            for user in ("u1", "u2", "u3", "u10", "user-ü")
        ]
        found += [store.user("segment", PROJECT, device_id=d) for d in ("d1", "d2", "d4")]
        return found + [store.user("segment", PROJECT, amplitude_id=i) for i in range(1, 30)]

    assert users(pending) == users(folded)
    assert any(user is not None for user in users(pending))
    project = pending.project_sources(PROJECT)
    assert project == folded.project_sources(PROJECT)
    for text in ("u1", "d1", "u", "us", "1", "2", "nobody"):
        assert pending.search_users(project, text) == folded.search_users(project, text)
    query = plan(segmentation_params({"event_type": "_active"}, "20260101", "20260112"))
    hits = pending.event_hits(project, query, first_seen=True)
    assert hits and hits == folded.event_hits(project, query, first_seen=True)
    for compute, params in CHARTS:
        assert compute(pending, project, params) == compute(folded, project, params)


def test_the_merge_folds_the_recent_times_into_the_rows(tmp_path: Path) -> None:
    store = _store(tmp_path / "c.db", 5)
    spans = "SELECT user_id, first_seen_ms, last_seen_ms FROM users ORDER BY amplitude_id"
    try:
        store.ingest([rec(user="u1", time=1_000), rec(user="u2", time=1_000)])
        store.ingest([rec(user="u1", time=2_000), rec(user="u2", time=None)], received_time_ms=9)
        assert _raw(tmp_path / "c.db", spans) == [("u1", 1_000, 1_000), ("u2", 1_000, 1_000)]
        store.ingest([rec(user="u1", time=500)])  # five recent keys: merged and folded
        assert _raw(tmp_path / "c.db", spans) == [("u1", 500, 2_000), ("u2", 9, 1_000)]
        assert _raw(tmp_path / "c.db", "SELECT count(*) FROM user_events_recent") == [(0,)]
    finally:
        store.close()


def test_the_fold_leaves_the_rows_the_eager_update_left(tmp_path: Path) -> None:
    pending, folded = _store(tmp_path / "p.db", NEVER), _store(tmp_path / "f.db", 1)
    try:
        ingest_history([pending, folded], seed=11)
        pending._user_events = user_index.UserEvents(merge_at=1)  # the next commit folds
        for store in (pending, folded):
            store.ingest([rec(user="u1", time=START)], received_time_ms=START)
        users = "SELECT * FROM users ORDER BY amplitude_id"
        assert _raw(tmp_path / "p.db", users) == _raw(tmp_path / "f.db", users)
        assert _raw(tmp_path / "p.db", "SELECT count(*) FROM user_events_recent") == [(0,)]
    finally:
        pending.close()
        folded.close()


@pytest.mark.parametrize("merge_at", [NEVER, 1])
def test_an_alias_keeps_both_users_spans(tmp_path: Path, merge_at: int) -> None:
    store = _store(tmp_path / "c.db", merge_at)
    try:
        store.ingest([rec(user=None, device="d9", time=100)], received_time_ms=10)
        anonymous = store.user("segment", SEG_KEY, user_id=None, device_id="d9")
        assert anonymous is not None
        # A known user's events on the short path; one without a client time counts at 40.
        store.ingest(
            [rec(user=None, device="d9", time=50), rec(user=None, device="d9", time=None)],
            received_time_ms=40,
        )
        store.ingest([rec(user=None, device="d9", time=300)], received_time_ms=20)
        store.ingest([rec(user="u1", time=1_000)], received_time_ms=30)
        known = store.user("segment", SEG_KEY, user_id="u1")
        assert known is not None
        store.ingest([rec(user="u1", time=2_000)], received_time_ms=30)
        if merge_at == NEVER:  # the rows lag: the spans below come from the recent keys
            assert _raw(
                tmp_path / "c.db",
                "SELECT first_seen_ms, last_seen_ms FROM users ORDER BY amplitude_id",
            ) == [(100, 100), (1_000, 1_000)]
        assert _span(store, anonymous.amplitude_id) == (40, 300)
        # The anonymous id becomes u1's: its events and span join u1's, its own row keeps its
        # span (its recent keys are folded into it before they move).
        store.ingest(
            [rec(type="alias", user="u1", alias_of="d9", event=None, time=1_500)],
            received_time_ms=50,
        )
        assert _span(store, anonymous.amplitude_id) == (40, 300)
        assert _span(store, known.amplitude_id) == (40, 2_000)
        store.ingest([rec(user="u1", time=2_500)], received_time_ms=60)
        assert _span(store, known.amplitude_id) == (40, 2_500)
        project = store.project_sources(SEG_KEY)
        assert [(u.amplitude_id, u.last_seen_ms) for u in store.search_users(project, "u1")[1]] == [
            (known.amplitude_id, 2_500)
        ]
    finally:
        store.close()


def test_a_request_rolled_back_takes_its_span_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path / "c.db", NEVER)
    write = sqlite_ingest.SQLiteIngestSQL.write

    def failing(self: sqlite_ingest.SQLiteIngestSQL, writes: Any) -> int:
        inserted = write(self, writes)
        if any(row[7] == 9_999 for row in writes.events):  # client_time_ms
            raise sqlite3.IntegrityError("refused after the write")
        return inserted

    monkeypatch.setattr(sqlite_ingest.SQLiteIngestSQL, "write", failing)
    try:
        store.ingest([rec(user="u1", time=1_000)])
        user = store.user("segment", SEG_KEY, user_id="u1")
        assert user is not None
        store.ingest([rec(user="u1", time=2_000)])  # known: its span is pending
        with pytest.raises(sqlite3.IntegrityError):
            store.ingest([rec(user="u1", time=9_999), rec(user="u1", time=5)])
        assert _span(store, user.amplitude_id) == (1_000, 2_000)
        store.ingest([rec(user="u1", time=3_000)])
        assert _span(store, user.amplitude_id) == (1_000, 3_000)
    finally:
        store.close()


def test_two_writers_see_and_fold_each_others_spans(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    writers = [_store(path, 3), _store(path, 5)]
    try:
        for number in range(14):
            writer = writers[number % 2]
            writer.ingest(
                [rec(user="u1", time=1_000 + (-1) ** number * number), rec(user=f"v{number % 3}")],
                received_time_ms=7,
            )
            # Each event of a user counts (no alias here): the span is the events' span.
            truth = _raw(
                path,
                "SELECT amplitude_id, min(client_time_ms), max(client_time_ms) FROM events "
                "GROUP BY amplitude_id ORDER BY amplitude_id",
            )
            for reader in writers:
                assert [(i, *_span(reader, i)) for i, _, _ in truth] == truth
        assert _raw(path, "SELECT count(*) FROM user_events_runs")[0][0] > 0  # folds happened
    finally:
        for writer in writers:
            writer.close()


def test_reset_forgets_pending_spans(tmp_path: Path) -> None:
    store = _store(tmp_path / "c.db", NEVER)
    try:
        store.ingest([rec(user="u1", time=1_000)])
        store.ingest([rec(user="u1", time=5_000)])
        store.reset()
        store.ingest([rec(user="u2", time=2_000)])
        user = store.user("segment", SEG_KEY, user_id="u2")
        assert user is not None
        assert (user.amplitude_id, _span(store, user.amplitude_id)) == (1, (2_000, 2_000))
    finally:
        store.close()


def test_version_8_file_is_migrated_and_refused_by_older_code(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with SQLiteStore(path) as store:
        store.ingest([rec(user="u1", time=1_000)])
        store.ingest([rec(user="u1", time=2_000)])
    conn = sqlite3.connect(path, isolation_level=None)
    # An older trackwire would read the rows alone and merge the recent keys away unfolded.
    with pytest.raises(schema.SchemaTooNewError):
        schema.migrate(conn, schema.MIGRATIONS[:8])
    # Back to version 8, with its spans whole in the rows (as that version wrote them).
    conn.executescript(
        f"UPDATE users SET last_seen_ms = 2000; {UNDO_MIGRATION_12}{UNDO_MIGRATION_10}"
        "DELETE FROM schema_migrations WHERE version >= 9; PRAGMA user_version = 8;"
    )
    conn.close()
    with SQLiteStore(path) as store:
        assert store.schema_version == len(schema.MIGRATIONS)
        user = store.user("segment", SEG_KEY, user_id="u1")
        assert user is not None
        assert (user.first_seen_ms, user.last_seen_ms) == (1_000, 2_000)
