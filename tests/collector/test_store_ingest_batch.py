"""The store's batch paths give what the per-record ones give: one loop encoding a request
(``encode_records``), one call looking up its known users (``KnownUsers.lookup_all``), and
the short path for an event whose user the request already resolved by the same ids."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.collector.test_store import SEG_KEY, rec
from trackwire.collector.known_users import KnownUsers
from trackwire.collector.sqlite import SQLiteStore
from trackwire.collector.store import EventRecord, IngestResult, SharedContext
from trackwire.collector.store_ingest import encode_record, encode_records
from trackwire.collector.userprops import UserRow
from trackwire.errors import ValidationError


def _records() -> list[EventRecord]:
    shared = SharedContext("mparticle_batch", {"environment": "production"})
    return [
        rec(key="a"),
        rec(key="b", payload_json=b'{"type":"track","properties":{"n":1}}',
            payload={"type": "track", "properties": {"n": 1}}),
        rec(vendor="amplitude", key="c", payload={"event_type": "E", "event_properties": {"x": 1}}),
        rec(vendor="mparticle", key="d", context=shared,
            payload={"data": {"custom_attributes": {"k": "v"}}}),
        rec(vendor="mparticle", key="e", context=shared, payload={"data": {}}),
        rec(key="f", group_type="org", group_value="o1", groups={"org": "o1"}),
        rec(key="g", session_id=7, revenue=2.5, time=None),
        rec(key="h", revenue=3, payload={"properties": {"big": "x" * 600}}),
        # The properties column written out in encode_records: too long, empty, not an object,
        # missing, a whole mParticle batch.
        rec(key="i", payload={"properties": {"big": "x" * 600}}),
        rec(key="j", payload={"properties": {"fits": "x" * 490}}),
        rec(key="k", payload={"properties": {}}),
        rec(key="l", payload={"properties": ["n", 1]}),
        rec(vendor="amplitude", key="m", payload={"event_type": "E"}),
        rec(vendor="amplitude", key="n", payload={"event_properties": {"é": [1, None]}}),
        rec(vendor="mparticle", key="o", payload={"events": [], "data": {}}),
        rec(vendor="amplitude", key="p", session_id=1_767_225_600_000, revenue=4),
        rec(vendor="amplitude", key="q", session_id=-1, revenue=True),
    ]  # fmt: skip


def test_encode_records_gives_what_encode_record_gives() -> None:
    records = _records()
    one: dict[int, str] = {}
    many: dict[int, str] = {}
    expected = [encode_record(i, record, one) for i, record in enumerate(records)]
    assert encode_records(records, many) == expected
    assert many == one
    # Records sharing a context share its text, encoded once.
    assert encode_records(records, many)[3][2] is encode_records(records, many)[4][2]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"time": 2**63}, "records[1].client_time_ms"),
        ({"session_id": -(2**63) - 1}, "records[1].session_id"),
        ({"revenue": 2**64}, "records[1].revenue"),
        ({"payload": {"s": {1, 2}}}, "records[1].payload"),
        ({"context": SharedContext("mparticle_batch", {"s": {1}})}, "records[1].context"),
        ({"group_type": "org"}, "records[1].group_value"),
        ({"groups": {"s": {1}}}, "records[1].groups"),
    ],
)
def test_encode_records_refuses_what_encode_record_refuses(bad: dict[str, Any], field: str) -> None:
    records = [rec(key="a"), rec(key="b", **bad)]
    with pytest.raises(ValidationError) as single:
        for index, record in enumerate(records):
            encode_record(index, record, {})
    with pytest.raises(ValidationError) as batch:
        encode_records(records, {})
    assert str(batch.value) == str(single.value)
    assert field in str(batch.value)


def test_lookup_all_answers_as_lookup_does() -> None:
    known = KnownUsers()
    users = [
        UserRow(1, 1, "u1", "d1", "{}", 5, 9),
        UserRow(2, 1, "u2", None, "{}", 5, 9),
        UserRow(3, 1, None, "d3", "{}", 5, 9),
        UserRow(4, 1, "u4", "d4", "{}", 5, 9),
        UserRow(5, 2, "u1", "d1", "{}", 5, 9),
        UserRow(6, 1, "u6", "d6", "{}", 5, 9),
    ]
    # d4 moved to user 1 after user 4 was last seen on it; d6's user is not known yet.
    devices = [(1, "d1", 1), (1, "d3", 3), (1, "d4", 1), (2, "d1", 5), (1, "d6", 7)]
    known.learn(iter(users[:5]), iter(devices), {})
    ids = [
        (user_id, device_id)
        for user_id in ("u1", "u2", "u4", "u6", "u9", None)
        for device_id in ("d1", "d3", "d4", "d6", "d9", None)
    ]

    def expected(
        source_id: int, learned: list[UserRow], owner: dict[tuple[int, str], int]
    ) -> list[int | None]:
        # The rule itself: the user of the id (or of the device), on that device, its last user.
        found: list[int | None] = []
        for user_id, device_id in ids:
            user = (
                next(
                    (u for u in learned if u.source_id == source_id and u.user_id == user_id), None
                )
                if user_id is not None
                else next(
                    (
                        u
                        for u in learned
                        if u.amplitude_id == owner.get((source_id, device_id or ""))
                    ),
                    None,
                )
            )
            if (
                user is not None
                and device_id is not None
                and (
                    user.device_id != device_id
                    or owner.get((source_id, device_id)) != user.amplitude_id
                )
            ):
                user = None
            found.append(None if user is None else user.amplitude_id)
        return found

    def check(learned: list[UserRow], owner: dict[tuple[int, str], int]) -> None:
        for source_id in (1, 2, 3):
            answers = known.lookup_all(source_id, [u for u, _ in ids], [d for _, d in ids])
            assert answers == [known.lookup(source_id, *pair) for pair in ids]
            assert [None if u is None else u.amplitude_id for u in answers] == expected(
                source_id, learned, owner
            )
            # Requests of one shape take lookup_all's one-map paths: user ids alone, user ids
            # each with a device (all owned, or some not).
            for shape in (
                [pair for pair in ids if pair[0] is not None and pair[1] is None],
                [pair for pair in ids if pair[0] is not None and pair[1] is not None],
                [("u1", "d1"), ("u1", "d1")],
                [("u4", "d4"), ("u1", "d1")],
                # Empty ids are false but not None: the loop takes them.
                [("u1", None), ("", None)],
                [("u1", "d1"), ("u1", "")],
                [("u1", "d1"), ("u1", None)],
            ):
                users, devices = [u for u, _ in shape], [d for _, d in shape]
                assert known.lookup_all(source_id, users, devices) == [
                    known.lookup(source_id, *pair) for pair in shape
                ]

    owner = {(s, d): a for s, d, a in devices}
    check(users[:5], owner)
    # Later: user 6 arrives (d6 is user 7's), d1 moves to user 4, d4 back to user 4.
    moved = [(1, "d1", 4), (1, "d4", 4)]
    known.learn(iter(users[5:]), iter(moved), {})
    owner.update({(s, d): a for s, d, a in moved})
    check(users, owner)


def test_a_user_resolved_once_is_the_same_for_its_next_events(tmp_path: Path) -> None:
    # u1 is new: its first event is resolved in full, the next ones with the same ids take the
    # short path, the ones with another device or operations the full one again.
    records = [
        rec(key="a", device="d1", time=10),
        rec(key="b", device="d1", time=5),
        rec(key="c", device="d2", time=20),
        rec(key="d", device="d2", time=30, ops=[("$set", {"plan": "pro"})]),
        rec(key="e", device="d2", time=3),
        rec(key="f", user=None, device="d1", time=40),
        rec(key="g", user=None, device="d1", time=1),
    ]
    with SQLiteStore(tmp_path / "c.db") as store:
        assert store.ingest(records) == IngestResult(7, 0)
        events = sorted(store.events(), key=lambda event: event.dedup_key or "")
        assert len({event.amplitude_id for event in events}) == 1
        user = store.user("segment", SEG_KEY, amplitude_id=events[0].amplitude_id)
    assert user is not None
    assert (user.user_id, user.device_id) == ("u1", "d1")
    assert user.properties == {"plan": "pro"}
    # The row itself (reads also take in the events' times): every event widened its span.
    conn = sqlite3.connect(tmp_path / "c.db")
    row = conn.execute("SELECT first_seen_ms, last_seen_ms, device_id FROM users").fetchall()
    devices = conn.execute("SELECT device_id, amplitude_id FROM devices ORDER BY 1").fetchall()
    conn.close()
    assert row == [(1, 40, "d1")]
    assert devices == [("d1", user.amplitude_id), ("d2", user.amplitude_id)]


def test_shared_contexts_are_stored_once_each_in_the_order_they_first_appear(
    tmp_path: Path,
) -> None:
    # Every record of the first request carries a context (one path); in the second, one
    # record is a duplicate (the record-by-record path). Both store each context once, in the
    # order of its first record, and each event points at its own.
    a, b, c = (SharedContext("mparticle_batch", {"batch": name}) for name in "abc")
    first = [("k1", b), ("k2", b), ("k3", a), ("k4", b), ("k5", c), ("k6", a)]
    second = [("k6", a), ("k7", c), ("k8", a), ("k9", b)]
    with SQLiteStore(tmp_path / "c.db") as store:
        for request in (first, second):
            records = [
                rec(vendor="mparticle", key=key, context=context, payload={"data": {}})
                for key, context in request
            ]
            store.ingest(records)
    conn = sqlite3.connect(tmp_path / "c.db")
    contexts = conn.execute("SELECT body FROM contexts ORDER BY context_id").fetchall()
    events = conn.execute(
        "SELECT e.dedup_key, c.body FROM events e JOIN contexts c USING (context_id) ORDER BY e.id"
    ).fetchall()
    conn.close()
    assert [body for (body,) in contexts] == [
        '{"batch":"b"}', '{"batch":"a"}', '{"batch":"c"}',  # the first request
        '{"batch":"c"}', '{"batch":"a"}', '{"batch":"b"}',  # the second: k6 was stored
    ]  # fmt: skip
    expected = [*first, *second[1:]]
    assert events == [(key, f'{{"batch":"{context.data["batch"]}"}}') for key, context in expected]
