"""The store contract: atomic ingest, de-duplication, queries, users, groups, threads.

Every test taking the ``store`` fixture runs over SQLite and PostgreSQL
(:mod:`tests.collector.store_fixtures`); the SQLite file's own behaviour (pragmas, WAL,
checkpoints, its migrations) is tested on :class:`SQLiteStore` directly.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from trackwire.collector.sqlite import SQLiteStore, schema, user_index
from trackwire.collector.store import (
    EventRecord,
    IngestResult,
    Store,
    StoreClosedError,
    StoreOpenError,
    UserState,
)
from trackwire.collector.store_factory import open_store
from trackwire.collector.userprops import UserOp
from trackwire.errors import ValidationError

SEG_KEY = "sEgMeNtWrItEkEy0123456789abcdefg"
AMP_KEY = "0123456789abcdef0123456789abcdef"


def rec(
    *,
    vendor: str = "segment",
    source: str = SEG_KEY,
    type: str = "track",
    event: str | None = "Item Purchased",
    user: str | None = "u1",
    device: str | None = None,
    time: int | None = 1_000,
    key: str | None = None,
    payload: Mapping[str, Any] | None = None,
    ops: Sequence[UserOp] = (),
    **extra: Any,
) -> EventRecord:
    """A record with defaults; ``payload`` defaults to something that names the event."""
    return EventRecord(
        vendor=vendor,
        source=source,
        type=type,
        event_name=event,
        user_id=user,
        device_id=device,
        client_time_ms=time,
        dedup_key=key,
        payload={"event": event, "key": key} if payload is None else payload,
        user_ops=ops,
        **extra,
    )


def count(store: Store) -> int:
    total: int = store.stats()["total"]
    return total


# --- ingest and listing ----------------------------------------------------------------------


def test_round_trip(store: Store) -> None:
    payload = {"type": "track", "event": "Played", "properties": {"n": 1, "l": [1.5, None]}}
    result = store.ingest(
        [rec(event="Played", device="anon", key="m1", payload=payload, time=123)],
        received_time_ms=456,
    )
    assert result == IngestResult(stored=1, duplicates=0)
    [event] = store.events()
    assert event.payload == payload
    assert (event.vendor, event.source, event.type, event.event_name) == (
        "segment",
        SEG_KEY,
        "track",
        "Played",
    )
    assert (event.user_id, event.device_id, event.dedup_key) == ("u1", "anon", "m1")
    assert (event.client_time_ms, event.received_time_ms) == (123, 456)
    assert event.amplitude_id is not None
    assert event.to_json() == {
        "id": event.id,
        "vendor": "segment",
        "source": SEG_KEY,
        "type": "track",
        "event_name": "Played",
        "user_id": "u1",
        "device_id": "anon",
        "amplitude_id": event.amplitude_id,
        "client_time_ms": 123,
        "received_time_ms": 456,
        "dedup_key": "m1",
        "payload": payload,
    }


def test_empty_request_stores_nothing(store: Store) -> None:
    assert store.ingest([]) == IngestResult(0, 0)
    assert count(store) == 0


def test_received_time_defaults_to_now(store: Store) -> None:
    store.ingest([rec()])
    [event] = store.events()
    assert event.received_time_ms > 1_600_000_000_000


def test_an_sqlite_too_old_for_the_stores_sql_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    with pytest.raises(StoreOpenError, match=r"needs SQLite 3\.38\.0 or newer.*has 3\.31\.1"):
        SQLiteStore(tmp_path / "c.db")
    assert not (tmp_path / "c.db").exists()


def test_memory_store_and_parent_directory(tmp_path: Path) -> None:
    with SQLiteStore(":memory:") as memory:
        memory.ingest([rec()])
        assert count(memory) == 1
    nested = tmp_path / "a" / "b" / "c.db"
    with SQLiteStore(nested) as on_disk:
        on_disk.ingest([rec()])
    assert nested.exists()


def test_wal_mode_and_pragmas(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "c.db"):
        conn = sqlite3.connect(tmp_path / "c.db")
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()


# --- atomicity ---------------------------------------------------------------------------------


def test_unstorable_payload_stores_nothing(store: Store) -> None:
    records = [rec(key="a"), rec(key="b", payload={"bad": {1, 2}}), rec(key="c")]
    with pytest.raises(ValidationError) as info:
        store.ingest(records)
    assert info.value.field == "records[1].payload"
    assert count(store) == 0
    assert store.user("segment", SEG_KEY, user_id="u1") is None


def test_unstorable_groups_stores_nothing(store: Store) -> None:
    with pytest.raises(ValidationError) as info:
        store.ingest([rec(), rec(groups={"org": object()})])
    assert info.value.field == "records[1].groups"
    assert count(store) == 0


def test_failure_after_rows_were_written_rolls_everything_back(store: Store) -> None:
    # A lone surrogate cannot be encoded for SQLite: the events INSERT fails on the third row,
    # after two events, the users, their devices and the request key were written.
    records = [
        rec(key="a", ops=[("$set", {"plan": "pro"})]),
        rec(key="b", user="u2", device="d2"),
        rec(key="c", event="\ud800", payload={"n": 3}),
    ]
    with pytest.raises(UnicodeEncodeError):
        store.ingest(records, request_key="req-1")
    assert count(store) == 0
    assert store.user("segment", SEG_KEY, user_id="u1") is None
    assert store.user("segment", SEG_KEY, device_id="d2") is None
    # Nothing of the failed request was kept: not its message ids, not its request key.
    fixed = [*records[:2], rec(key="c")]
    assert store.ingest(fixed, request_key="req-1") == IngestResult(3, 0)
    user = store.user("segment", SEG_KEY, user_id="u1")
    assert user is not None and user.properties == {"plan": "pro"}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"time": 2**63}, "records[1].client_time_ms"),
        ({"session_id": -(2**63) - 1}, "records[1].session_id"),
        ({"revenue": 2**64}, "records[1].revenue"),
    ],
)
def test_integers_beyond_64_bits_are_refused(
    store: Store, extra: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        store.ingest([rec(), rec(**extra)])
    assert info.value.field == field
    assert count(store) == 0
    store.ingest([rec(time=2**63 - 1, session_id=-(2**63))])
    assert store.events()[0].client_time_ms == 2**63 - 1


def test_bad_operation_mid_request_rolls_back(store: Store) -> None:
    records = [rec(key="a", ops=[("$set", {"x": 1})]), rec(key="b", ops=[("$nope", {"x": 1})])]
    with pytest.raises(ValidationError):
        store.ingest(records)
    assert count(store) == 0
    assert store.user("segment", SEG_KEY, user_id="u1") is None


def test_group_value_without_type_is_refused(store: Store) -> None:
    with pytest.raises(ValidationError):
        store.ingest([rec(group_value="acme")])
    assert count(store) == 0


def test_store_usable_after_a_failed_request(store: Store) -> None:
    with pytest.raises(UnicodeEncodeError):
        store.ingest([rec(event="\udfff", payload={})])
    assert store.ingest([rec()]) == IngestResult(1, 0)


# --- de-duplication ----------------------------------------------------------------------------


def test_every_event_lies_in_its_users_seen_span_after_alias_merges(store: Store) -> None:
    # Events of a request resolved to a user that a later alias of the same request merges
    # away move to the surviving user, whose span must take them in too.
    t = 1_700_000_000_000
    requests = [
        (
            [
                rec(user="u5", device="a4", time=t + 10_682),
                rec(type="alias", event=None, user="u0", alias_of="u5", time=t + 98_838),
            ],
            t + 85_843,
        ),
        ([rec(user="u0", device="a5", time=t + 97_985)], t + 33_449),
        ([rec(type="alias", event=None, user="u4", alias_of="a5", time=t + 33_833)], t + 25_487),
        (
            [
                rec(type="alias", event=None, user="u2", alias_of="a4", time=t + 22_558),
                rec(user="u4", device="a4", time=t + 99_363),
            ],
            t + 32_778,
        ),
    ]
    for records, received in requests:
        store.ingest(records, received_time_ms=received)
    spans: dict[int, tuple[int, int]] = {}
    for ids in [{"user_id": u} for u in ("u0", "u2", "u4", "u5")] + [
        {"device_id": d} for d in ("a4", "a5")
    ]:
        state = store.user("segment", SEG_KEY, **ids)
        if state is not None:
            spans[state.amplitude_id] = (state.first_seen_ms, state.last_seen_ms)
    events = store.events(limit=100)
    assert len(events) == 6
    for event in events:
        assert event.amplitude_id in spans
        first, last = spans[event.amplitude_id]
        when = event.client_time_ms if event.client_time_ms is not None else event.received_time_ms
        assert first <= when <= last, (event.id, event.amplitude_id, when, first, last)


def test_dedup_within_one_call(store: Store) -> None:
    result = store.ingest([rec(key="m1"), rec(key="m1"), rec(key="m2"), rec(key="m1")])
    assert result == IngestResult(stored=2, duplicates=2)
    assert [e.dedup_key for e in store.events()] == ["m2", "m1"]


def test_dedup_across_calls(store: Store) -> None:
    store.ingest([rec(key="m1"), rec(key="m2")])
    assert store.ingest([rec(key="m2"), rec(key="m3")]) == IngestResult(1, 1)
    assert count(store) == 3


def test_dedup_is_scoped_by_vendor_and_source(store: Store) -> None:
    store.ingest([rec(key="m1")])
    assert store.ingest([rec(key="m1", source="other")]) == IngestResult(1, 0)
    assert store.ingest([rec(key="m1", vendor="amplitude", source=SEG_KEY)]) == IngestResult(1, 0)


def test_one_call_may_mix_sources(store: Store) -> None:
    records = [
        rec(source="s1", key="m1", ops=[("$set", {"a": 1})]),
        rec(source="s2", key="m1", ops=[("$set", {"a": 2})]),
        rec(source="s1", key="m1"),
    ]
    assert store.ingest(records) == IngestResult(2, 1)
    one = store.user("segment", "s1", user_id="u1")
    two = store.user("segment", "s2", user_id="u1")
    assert one is not None and two is not None
    assert (one.properties, two.properties) == ({"a": 1}, {"a": 2})
    assert [e.source for e in store.events()] == ["s2", "s1"]


def test_records_without_key_are_never_duplicates(store: Store) -> None:
    assert store.ingest([rec(), rec()]) == IngestResult(2, 0)
    assert store.ingest([rec()]) == IngestResult(1, 0)


def test_duplicates_do_not_apply_operations_again(store: Store) -> None:
    add = [("$add", {"logins": 1})]
    store.ingest([rec(key="m1", ops=add), rec(key="m1", ops=add)])
    store.ingest([rec(key="m1", ops=add)])
    user = store.user("segment", SEG_KEY, user_id="u1")
    assert user is not None and user.properties == {"logins": 1}


def test_request_key_dedups_a_whole_request(store: Store) -> None:
    batch = [rec(vendor="mparticle", source="mp", key=None), rec(vendor="mparticle", source="mp")]
    assert store.ingest(batch, request_key="r1") == IngestResult(2, 0)
    assert store.ingest(batch, request_key="r1") == IngestResult(0, 2)
    assert store.ingest(batch, request_key="r2") == IngestResult(2, 0)
    other = [rec(vendor="mparticle", source="mp2")]
    assert store.ingest(other, request_key="r1") == IngestResult(1, 0)
    assert count(store) == 5


def test_request_key_needs_one_source(store: Store) -> None:
    with pytest.raises(ValueError, match="same vendor and source"):
        store.ingest([rec(), rec(source="other")], request_key="r1")


# --- listing and stats -------------------------------------------------------------------------


@pytest.fixture
def mixed(store: Store) -> Store:
    store.ingest(
        [
            rec(event="A", user="u1", time=10),
            rec(type="identify", event=None, user="u1", time=20),
            rec(event="B", user=None, device="d9", time=30),
        ],
        received_time_ms=1_000,
    )
    store.ingest(
        [
            rec(vendor="amplitude", source=AMP_KEY, type="event", event="A", user="d9", time=40),
            rec(vendor="amplitude", source=AMP_KEY, type="event", event="C", user="u2", time=50),
        ],
        received_time_ms=2_000,
    )
    return store


def names(events: Sequence[Any]) -> list[tuple[str, str | None]]:
    return [(e.type, e.event_name) for e in events]


def test_newest_first(mixed: Store) -> None:
    events = mixed.events()
    assert [e.id for e in events] == sorted((e.id for e in events), reverse=True)
    assert names(events) == [
        ("event", "C"),
        ("event", "A"),
        ("track", "B"),
        ("identify", None),
        ("track", "A"),
    ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"vendor": "segment"}, [("track", "B"), ("identify", None), ("track", "A")]),
        ({"source": AMP_KEY}, [("event", "C"), ("event", "A")]),
        ({"vendor": "amplitude", "source": SEG_KEY}, []),
        ({"vendor": "nobody"}, []),
        ({"type": "track"}, [("track", "B"), ("track", "A")]),
        ({"vendor": "segment", "type": "identify"}, [("identify", None)]),
        ({"event_name": "A"}, [("event", "A"), ("track", "A")]),
        ({"vendor": "segment", "event_name": "A"}, [("track", "A")]),
        # user_id matches user_id or device_id
        ({"user_id": "d9"}, [("event", "A"), ("track", "B")]),
        ({"user_id": "u1", "type": "track"}, [("track", "A")]),
        ({"since_ms": 2_000}, [("event", "C"), ("event", "A")]),
        ({"until_ms": 2_000}, [("track", "B"), ("identify", None), ("track", "A")]),
        ({"since_ms": 1_000, "until_ms": 1_001, "event_name": "B"}, [("track", "B")]),
        ({"limit": 2}, [("event", "C"), ("event", "A")]),
        ({"limit": 0}, []),
    ],
)
def test_filters(mixed: Store, filters: dict[str, Any], expected: list[Any]) -> None:
    assert names(mixed.events(**filters)) == expected


def test_before_id_pages_through_everything(store: Store) -> None:
    for start in range(0, 23, 5):
        store.ingest([rec(event=f"e{i}", type="track") for i in range(start, min(start + 5, 23))])
        store.ingest([rec(event="other", type="page")])
    seen: list[str | None] = []
    before: int | None = None
    while True:
        page = store.events(type="track", limit=4, before_id=before)
        seen += [e.event_name for e in page]
        if len(page) < 4:
            break
        before = page[-1].id
    assert seen == [f"e{i}" for i in reversed(range(23))]


def test_negative_limit_is_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.events(limit=-1)


def test_stats(mixed: Store) -> None:
    assert mixed.stats() == {
        "total": 5,
        "by_source": [
            {"vendor": "amplitude", "source": AMP_KEY, "type": "event", "count": 2},
            {"vendor": "segment", "source": SEG_KEY, "type": "identify", "count": 1},
            {"vendor": "segment", "source": SEG_KEY, "type": "track", "count": 2},
        ],
    }


def test_stats_of_an_empty_store(store: Store) -> None:
    assert store.stats() == {"total": 0, "by_source": []}


# --- users -------------------------------------------------------------------------------------


def test_amplitude_ids_are_stable_across_calls_and_reopen(store_url: str) -> None:
    with closing(open_store(store_url)) as first:
        first.ingest([rec(user="u1"), rec(user="u2")])
        first.ingest([rec(user="u1")])
        ids = {e.user_id: e.amplitude_id for e in first.events()}
        assert len(set(ids.values())) == 2
        assert all(e.amplitude_id == ids[e.user_id] for e in first.events())
    with closing(open_store(store_url)) as again:
        again.ingest([rec(user="u2"), rec(user="u3")])
        latest = {e.user_id: e.amplitude_id for e in again.events(limit=2)}
        assert latest["u2"] == ids["u2"]
        assert latest["u3"] not in ids.values()
        u1 = again.user("segment", SEG_KEY, user_id="u1")
        assert u1 is not None and u1.amplitude_id == ids["u1"]


def test_user_state(store: Store) -> None:
    store.ingest(
        [
            rec(user="u1", device="d1", time=500, ops=[("$set", {"plan": "pro"})]),
            rec(user="u1", device="d2", time=100, ops=[("$add", {"logins": 2})]),
            rec(user="u1", time=None),
        ],
        received_time_ms=900,
    )
    user = store.user("segment", SEG_KEY, user_id="u1")
    assert user == UserState(
        amplitude_id=user.amplitude_id if user else 0,
        vendor="segment",
        source=SEG_KEY,
        user_id="u1",
        device_id="d2",
        properties={"plan": "pro", "logins": 2},
        first_seen_ms=100,
        last_seen_ms=900,  # the record without a client time counts at its receipt time
    )


def test_user_lookup_by_each_id(store: Store) -> None:
    store.ingest([rec(user="u1", device="d1")])
    by_user = store.user("segment", SEG_KEY, user_id="u1")
    assert by_user is not None
    assert store.user("segment", SEG_KEY, device_id="d1") == by_user
    assert store.user("segment", SEG_KEY, amplitude_id=by_user.amplitude_id) == by_user
    assert store.user("segment", SEG_KEY, user_id="nobody") is None
    assert store.user("segment", "other-source", user_id="u1") is None
    assert store.user("amplitude", SEG_KEY, amplitude_id=by_user.amplitude_id) is None
    with pytest.raises(ValueError):
        store.user("segment", SEG_KEY)


def test_anonymous_device_becomes_the_user_who_logs_in(store: Store) -> None:
    store.ingest([rec(user=None, device="d1", ops=[("$set", {"ref": "ad"})])])
    store.ingest([rec(user="u1", device="d1", ops=[("$set", {"plan": "pro"})])])
    store.ingest([rec(user=None, device="d1")])
    events = store.events()
    assert len({e.amplitude_id for e in events}) == 1
    user = store.user("segment", SEG_KEY, user_id="u1")
    assert user is not None and user.properties == {"ref": "ad", "plan": "pro"}


def test_known_user_on_a_new_device_keeps_its_id(store: Store) -> None:
    store.ingest([rec(user="u1", device="d1")])
    store.ingest([rec(user=None, device="d2")])
    store.ingest([rec(user="u1", device="d2")])
    u1 = store.user("segment", SEG_KEY, user_id="u1")
    assert u1 is not None
    known, anonymous, _ = store.events()
    assert known.amplitude_id == u1.amplitude_id
    assert anonymous.amplitude_id != u1.amplitude_id  # rows are never merged
    # The device now belongs to u1.
    assert store.user("segment", SEG_KEY, device_id="d2") == u1


def test_known_user_span_widens_both_ways(store: Store) -> None:
    store.ingest([rec(time=500)])
    # Later requests find u1 among the users the store knows and only widen its span.
    store.ingest([rec(time=700), rec(time=600)])
    store.ingest([rec(time=100), rec(time=None)], received_time_ms=900)
    user = store.user("segment", SEG_KEY, user_id="u1")
    assert user is not None and (user.first_seen_ms, user.last_seen_ms) == (100, 900)
    assert {e.amplitude_id for e in store.events()} == {user.amplitude_id}


def test_known_user_whose_device_another_event_touches_is_resolved_in_order(
    store: Store,
) -> None:
    store.ingest([rec(device="d1"), rec(device="d2")])  # u1 last seen on d2
    # The anonymous d1 event leads to u1 and moves its last device to d1; the u1 event on d2
    # that follows must move it back, though u1 on d2 alone would change nothing.
    store.ingest([rec(user=None, device="d1"), rec(device="d2")])
    user = store.user("segment", SEG_KEY, user_id="u1")
    assert user is not None and user.device_id == "d2"


def test_another_writer_on_the_file_invalidates_known_users(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "c.db") as first, SQLiteStore(tmp_path / "c.db") as second:
        first.ingest([rec(user="u1", device="d1")])
        second.ingest([rec(user="u2", device="d1")])  # d1 now leads to u2
        first.ingest([rec(user="u1", device="d1")])  # and back to u1
        u1 = first.user("segment", SEG_KEY, user_id="u1")
        assert u1 is not None
        assert first.user("segment", SEG_KEY, device_id="d1") == u1


def test_failed_request_teaches_nothing_about_users(store: Store) -> None:
    with pytest.raises(UnicodeEncodeError):
        store.ingest([rec(user="new", key="a"), rec(key="b", event="\ud800", payload={})])
    store.ingest([rec(user="new", key="a")])
    user = store.user("segment", SEG_KEY, user_id="new")
    assert user is not None
    assert [e.amplitude_id for e in store.events()] == [user.amplitude_id]


@pytest.mark.parametrize("seed", range(8))
def test_known_users_change_nothing_observable(tmp_path: Path, seed: int) -> None:
    # The same requests into a store that keeps its known users and into one reopened before
    # every request (so it knows none) must leave the same users, devices and event users.
    rng = random.Random(seed)
    requests = []
    for _ in range(12):
        records = []
        for _ in range(rng.randrange(1, 12)):
            ops: list[UserOp] = [("$add", {"n": 1})] if rng.random() < 0.15 else []
            records.append(
                rec(
                    user=rng.choice([None, None, "u1", "u2", "u3"]),
                    device=rng.choice([None, "d1", "d2", "d3"]),
                    time=rng.choice([None, rng.randrange(1_000, 2_000)]),
                    ops=ops,
                )
            )
        requests.append(records)
    kept = SQLiteStore(tmp_path / "kept.db")
    for index, records in enumerate(requests):
        kept.ingest(records, received_time_ms=5_000 + index)
        with SQLiteStore(tmp_path / "fresh.db") as fresh:
            fresh.ingest(records, received_time_ms=5_000 + index)
    kept.close()

    def state(path: Path) -> tuple[list[Any], ...]:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN")
            # The users' seen spans with their recent keys folded in (see user_index.py).
            conn.execute(user_index.FOLD_SPANS)
            return tuple(
                conn.execute(sql).fetchall()
                for sql in (
                    "SELECT * FROM users ORDER BY amplitude_id",
                    "SELECT * FROM devices ORDER BY source_id, device_id",
                    "SELECT id, amplitude_id FROM events ORDER BY id",
                )
            )
        finally:
            conn.execute("ROLLBACK")
            conn.close()

    assert state(tmp_path / "kept.db") == state(tmp_path / "fresh.db")


def test_event_without_ids_has_no_user(store: Store) -> None:
    store.ingest([rec(user=None, device=None, ops=[("$set", {"a": 1})])])
    [event] = store.events()
    assert event.amplitude_id is None


def test_operations_apply_in_arrival_order_across_records_and_calls(store: Store) -> None:
    store.ingest(
        [
            rec(ops=[("$set", {"tags": ["a"]}), ("$append", {"tags": "b"})]),
            rec(ops=[("$preInsert", {"tags": ["z", "a"]}), ("$setOnce", {"first": 1})]),
        ]
    )
    store.ingest([rec(ops=[("$remove", {"tags": "a"}), ("$setOnce", {"first": 2})])])
    user = store.user("segment", SEG_KEY, user_id="u1")
    assert user is not None and user.properties == {"tags": ["z", "b"], "first": 1}
    store.ingest([rec(ops=[("$clearAll", {"-": "-"})])])
    cleared = store.user("segment", SEG_KEY, user_id="u1")
    assert cleared is not None and cleared.properties == {}


def test_users_are_scoped_by_source(store: Store) -> None:
    store.ingest([rec(source="s1", ops=[("$set", {"a": 1})])])
    store.ingest([rec(source="s2", ops=[("$set", {"a": 2})])])
    one = store.user("segment", "s1", user_id="u1")
    two = store.user("segment", "s2", user_id="u1")
    assert one is not None and two is not None
    assert one.amplitude_id != two.amplitude_id
    assert (one.properties, two.properties) == ({"a": 1}, {"a": 2})


# --- groups ------------------------------------------------------------------------------------


def test_group_operations_change_the_group_not_the_user(store: Store) -> None:
    group = {"group_type": "org", "group_value": "acme"}
    store.ingest(
        [
            rec(vendor="amplitude", source=AMP_KEY, type="groupidentify", event=None,
                ops=[("$set", {"plan": "ent"}), ("$add", {"seats": 5})], **group),
            rec(vendor="amplitude", source=AMP_KEY, type="groupidentify", event=None,
                ops=[("$add", {"seats": 2})], **group),
        ]
    )  # fmt: skip
    assert store.group("amplitude", AMP_KEY, "org", "acme") == {"plan": "ent", "seats": 7}
    assert store.group("amplitude", AMP_KEY, "org", "other") is None
    assert store.group("segment", AMP_KEY, "org", "acme") is None
    user = store.user("amplitude", AMP_KEY, user_id="u1")
    assert user is not None and user.properties == {}


def test_group_identify_without_user(store: Store) -> None:
    store.ingest(
        [
            rec(vendor="amplitude", type="groupidentify", user=None, event=None,
                group_type="org", group_value="acme", ops=[("$set", {"a": 1})]),
        ]
    )  # fmt: skip
    assert store.group("amplitude", SEG_KEY, "org", "acme") == {"a": 1}
    assert store.group("amplitude", SEG_KEY, "org", "acme") == {"a": 1}


def test_event_groups_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with SQLiteStore(path) as store:
        store.ingest([rec(groups={"org": ["acme", "beta"]}, session_id=77, revenue=9.5)])
    conn = sqlite3.connect(path)
    row = conn.execute("SELECT groups, session_id, revenue FROM events").fetchone()
    conn.close()
    assert row == ('{"org":["acme","beta"]}', 77, 9.5)


# --- threads -----------------------------------------------------------------------------------


def test_concurrent_ingest_and_reads(store_url: str) -> None:
    _concurrent_ingest_and_reads(open_store(store_url))


def test_concurrent_ingest_and_reads_in_memory() -> None:
    _concurrent_ingest_and_reads(SQLiteStore(":memory:"))


def _concurrent_ingest_and_reads(store: Store) -> None:
    threads, requests, size = 6, 15, 40
    errors: list[BaseException] = []
    start = threading.Barrier(threads + 1)

    def writer(n: int) -> None:
        try:
            start.wait()
            for r in range(requests):
                batch = [
                    rec(user=f"u{i % 7}", key=f"{n}-{r}-{i}", ops=[("$add", {"n": 1})])
                    for i in range(size)
                ]
                # Every request repeats the first record of another thread's first request:
                # whichever thread stores it first wins, the others count a duplicate.
                batch.append(
                    rec(user="u0", key=f"{(n + 1) % threads}-0-0", ops=[("$add", {"n": 1})])
                )
                store.ingest(batch)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    def reader() -> None:
        try:
            start.wait()
            for _ in range(requests):
                store.events(limit=10)
                store.stats()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    workers.append(threading.Thread(target=reader))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert count(store) == threads * requests * size
    total = 0
    ids = set()
    for u in range(7):
        user = store.user("segment", SEG_KEY, user_id=f"u{u}")
        assert user is not None
        ids.add(user.amplitude_id)
        total += user.properties["n"]
    assert total == threads * requests * size  # no lost update
    assert len(ids) == 7
    store.close()


# --- lifecycle and migrations ------------------------------------------------------------------


def test_closed_store_refuses_calls(store_url: str) -> None:
    store = open_store(store_url)
    store.events()  # opens a reader
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreClosedError):
        store.ingest([rec()])
    with pytest.raises(StoreClosedError):
        store.events()
    with pytest.raises(StoreClosedError):
        store.stats()


def test_new_file_has_every_migration(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "c.db") as store:
        assert store.schema_version == len(schema.MIGRATIONS)
    conn = sqlite3.connect(tmp_path / "c.db")
    versions = [v for (v,) in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == list(range(1, len(schema.MIGRATIONS) + 1))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    conn.close()


def test_v1_file_upgrades_and_reopens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(conn, schema.MIGRATIONS[:1]) == 1
    conn.close()
    with SQLiteStore(path) as store:  # the real migrations on a v1 file
        store.ingest([rec(key="m1", ops=[("$set", {"a": 1})])])
        before = store.user("segment", SEG_KEY, user_id="u1")

    extra = schema.Migration(
        len(schema.MIGRATIONS) + 1,
        "test: a column added later",
        ("ALTER TABLE events ADD COLUMN note TEXT", "UPDATE events SET note = 'old'"),
    )
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, extra))
    with SQLiteStore(path) as upgraded:
        assert upgraded.schema_version == extra.version
        assert upgraded.user("segment", SEG_KEY, user_id="u1") == before
        assert upgraded.ingest([rec(key="m1")]) == IngestResult(0, 1)
    with SQLiteStore(path) as reopened:  # nothing left to run: the UPDATE would touch 'new'
        reopened.ingest([rec(key="m2")])
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT note FROM events ORDER BY id").fetchall() == [("old",), (None,)]
    conn.close()


def test_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    future = schema.Migration(len(schema.MIGRATIONS) + 1, "future", ("SELECT 1",))
    schema.migrate(conn, (*schema.MIGRATIONS, future))
    conn.close()
    with pytest.raises(schema.SchemaTooNewError):
        SQLiteStore(path)


def test_migrations_must_be_numbered_in_order(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    with pytest.raises(ValueError):
        schema.migrate(conn, (schema.Migration(2, "gap", ()),))
    conn.close()


def test_failed_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    conn = sqlite3.connect(path, isolation_level=None)
    broken = schema.Migration(
        len(schema.MIGRATIONS) + 1, "broken", ("CREATE TABLE t (x)", "NOT SQL AT ALL")
    )
    with pytest.raises(sqlite3.OperationalError):
        schema.migrate(conn, (*schema.MIGRATIONS, broken))
    assert schema.current_version(conn) == len(schema.MIGRATIONS)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 't'").fetchone() is None
    conn.close()


def test_background_checkpoint_copies_commits_into_the_database_file(tmp_path: Path) -> None:
    """The writer never checkpoints in a request: a background thread moves committed pages
    from the WAL into the database file (read here with the WAL ignored)."""
    path = tmp_path / "events.db"
    store = SQLiteStore(path)
    try:
        result = store.ingest([rec(key=f"m{i}", user=f"u{i}") for i in range(500)])
        assert result.stored == 500
        deadline = time.monotonic() + 10
        with store._checkpointed:
            while store._checkpoints < 1 and time.monotonic() < deadline:
                store._checkpointed.wait(deadline - time.monotonic())
        assert store._checkpoints >= 1
        main_file_only = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            assert main_file_only.execute("SELECT count(*) FROM events").fetchone()[0] == 500
        finally:
            main_file_only.close()
    finally:
        store.close()
    assert store._checkpointer is not None and not store._checkpointer.is_alive()


@pytest.mark.parametrize("odd", ["id-\x00-nul", "\ufffeid", "\ufffe", 'q"\\\x00'])
def test_ids_holding_nul_or_the_escape_mark_round_trip(store: Store, odd: str) -> None:
    record = rec(user=odd, device=odd, key=odd, event=odd, group_type=odd, group_value=odd)
    assert store.ingest([record, rec(user="plain")]) == IngestResult(2, 0)
    assert store.ingest([record]) == IngestResult(0, 1)  # the retry finds the id again
    event = store.events(user_id=odd)[0]
    assert (event.user_id, event.device_id, event.dedup_key, event.event_name) == (odd,) * 4
    user = store.user("segment", SEG_KEY, user_id=odd)
    assert user is not None and user.user_id == odd
    assert store.user("segment", SEG_KEY, device_id=odd) == user


def test_reset_forgets_everything_and_ids_start_again(store: Store) -> None:
    from trackwire.collector.routes.testing import ResettableStore

    assert isinstance(store, ResettableStore)
    store.ingest([rec(user="u1", key="k1"), rec(user="u2", event="Other")])
    assert store.event_counts() == [
        {"vendor": "segment", "source": SEG_KEY, "type": "track", "event": name, "count": 1}
        for name in ("Item Purchased", "Other")
    ]
    store.reset()
    assert store.stats() == {"total": 0, "by_source": []}
    assert store.user("segment", SEG_KEY, user_id="u1") is None
    assert store.ingest([rec(user="u1", key="k1")]) == IngestResult(1, 0)  # k1 is new again
    assert [e.amplitude_id for e in store.events()] == [1]
