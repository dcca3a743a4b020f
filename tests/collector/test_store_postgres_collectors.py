"""Several collector processes on one PostgreSQL database.

Two real ``trackwire collector --db postgresql://…`` processes share a database. Requests race
into both at once (each pair released by a barrier): a message id, an insert id or a
``source_request_id`` reaching both is stored once, ``$add`` operations for one user are never
lost, and a collector killed in the middle of a request leaves nothing of it behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import psycopg
import pytest
import urllib3

from tests.collector.conftest import basic
from tests.pg_server import PostgresServer
from trackwire.collector.keys import fingerprint
from trackwire.collector.postgres import PostgresStore
from trackwire.collector.server import SpawnedCollector, spawn_collector

pytestmark = pytest.mark.postgres

SEGMENT_KEY = "race-segment-key"
AMPLITUDE_KEY = "race-amplitude-key-0123456789abc"
MPARTICLE_KEY = "race-mparticle-key"
ROUNDS = 30


@pytest.fixture(scope="module")
def database(pg_server: PostgresServer) -> str:
    return pg_server.new_database()


@pytest.fixture(scope="module")
def collectors(database: str) -> Iterator[list[SpawnedCollector]]:
    """Two collector processes on the module's database."""
    started: list[SpawnedCollector] = []
    try:
        # Started together: both run the migrations on a new database at the same time.
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(spawn_collector, database) for _ in range(2)]
        failed = [f.exception() for f in futures if f.exception() is not None]
        started += [f.result() for f in futures if f.exception() is None]
        if failed:
            raise failed[0]  # type: ignore[misc]
        yield started
    finally:
        for collector in started:
            collector.stop()


@pytest.fixture
def store(database: str) -> Iterator[PostgresStore]:
    """A reader on the collectors' database."""
    with PostgresStore(database, pool_size=2) as opened:
        yield opened


_pool = urllib3.PoolManager(retries=False, timeout=30.0)


def _post(url: str, path: str, body: Any, headers: dict[str, str] | None = None) -> int:
    response = _pool.request(
        "POST",
        url + path,
        body=orjson.dumps(body),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    return response.status


def _race(collectors: list[SpawnedCollector], send: Callable[[str, int], int]) -> list[int]:
    """Send round ``n`` to both collectors at the same instant, for every round; the statuses."""
    barrier = threading.Barrier(len(collectors))
    statuses: list[int] = []

    def run(collector: SpawnedCollector) -> list[int]:
        out = []
        for number in range(ROUNDS):
            barrier.wait(30)
            out.append(send(collector.url, number))
        return out

    with ThreadPoolExecutor(len(collectors)) as pool:
        for result in pool.map(run, collectors):
            statuses += result
    return statuses


def test_both_collectors_migrated_one_schema(database: str, collectors: Any) -> None:
    with psycopg.connect(database) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_migrations")]
    assert sorted(versions) == list(range(1, len(versions) + 1))


def test_raced_message_ids_are_stored_once(
    collectors: list[SpawnedCollector], store: PostgresStore
) -> None:
    def send(url: str, number: int) -> int:
        batch = [
            {"type": "track", "userId": f"racer-{number % 3}", "event": "Raced",
             "messageId": f"seg-{number}-{index}"}
            for index in range(5)
        ]  # fmt: skip
        return _post(url, "/v1/batch", {"batch": batch}, {"Authorization": basic(SEGMENT_KEY)})

    assert set(_race(collectors, send)) == {200}
    stored = store.events(source=fingerprint(SEGMENT_KEY), limit=1000)
    keys = sorted(event.dedup_key or "" for event in stored)
    assert keys == sorted(f"seg-{n}-{i}" for n in range(ROUNDS) for i in range(5))


def test_raced_insert_ids_and_request_ids_are_stored_once(
    collectors: list[SpawnedCollector], store: PostgresStore
) -> None:
    def amplitude(url: str, number: int) -> int:
        event = {"event_type": "Raced", "device_id": "racing-device", "insert_id": f"i{number}"}
        return _post(url, "/2/httpapi", {"api_key": AMPLITUDE_KEY, "events": [event]})

    def mparticle(url: str, number: int) -> int:
        body = {
            "environment": "development",
            "source_request_id": f"req-{number}",
            "user_identities": {"customerid": f"c{number % 2}"},
            "events": [{"event_type": "custom_event",
                        "data": {"event_name": "Raced", "custom_event_type": "other"}}],
        }  # fmt: skip
        auth = {"Authorization": basic(MPARTICLE_KEY, "secret")}
        return _post(url, "/v2/events", body, auth)

    assert set(_race(collectors, amplitude)) == {200}
    assert set(_race(collectors, mparticle)) == {202}
    amp = store.events(source=fingerprint(AMPLITUDE_KEY), limit=1000)
    assert sorted(e.dedup_key or "" for e in amp) == sorted(f"i{n}" for n in range(ROUNDS))
    mp = store.events(vendor="mparticle", source=fingerprint(MPARTICLE_KEY), limit=1000)
    assert len(mp) == ROUNDS


def test_raced_user_operations_all_apply(
    collectors: list[SpawnedCollector], store: PostgresStore
) -> None:
    def send(url: str, number: int) -> int:
        # Distinct insert ids: every request is new, so each $add must count.
        event = {
            "event_type": "$identify",
            "user_id": "counted-user",
            "insert_id": f"{url}-{number}",
            "user_properties": {"$add": {"logins": 1}, "$append": {"seen": number}},
        }
        return _post(url, "/2/httpapi", {"api_key": AMPLITUDE_KEY, "events": [event]})

    statuses = _race(collectors, send)
    assert set(statuses) == {200}
    user = store.user("amplitude", fingerprint(AMPLITUDE_KEY), user_id="counted-user")
    assert user is not None
    assert user.properties["logins"] == len(statuses)
    assert sorted(user.properties["seen"]) == sorted([*range(ROUNDS), *range(ROUNDS)])


def test_raced_anonymous_then_known_user_is_one_user(
    collectors: list[SpawnedCollector], store: PostgresStore
) -> None:
    def send(url: str, number: int) -> int:
        # Both collectors see device D's first events and its login at the same moment.
        user = "logged-in" if number % 2 else None
        event = {"event_type": "Step", "device_id": f"merge-device-{number // 2}",
                 "user_id": user, "insert_id": f"{url}-{number}"}  # fmt: skip
        return _post(url, "/2/httpapi", {"api_key": AMPLITUDE_KEY, "events": [event]})

    assert set(_race(collectors, send)) == {200}
    source = fingerprint(AMPLITUDE_KEY)
    stored = store.events(source=source, event_name="Step", limit=1000)
    for number in range(0, ROUNDS, 2):
        device = f"merge-device-{number // 2}"
        owners = {e.amplitude_id for e in stored if e.device_id == device}
        # The anonymous events and the login of each device resolved to one user each time.
        assert len(owners) <= 2
        found = store.user("amplitude", source, device_id=device)
        assert found is not None and found.user_id == "logged-in"
    ids = {e.amplitude_id for e in stored if e.user_id == "logged-in"}
    assert len(ids) == 1


KILLED_KEY = "killed-mid-request-key"
LOST = [{"type": "track", "userId": "k", "event": "Lost", "messageId": f"m{i}"} for i in range(20)]


def test_collector_killed_mid_request_leaves_nothing_and_the_retry_lands(
    database: str, collectors: list[SpawnedCollector], store: PostgresStore
) -> None:
    auth = {"Authorization": basic(KILLED_KEY)}
    with spawn_collector(database) as victim:
        answer = _kill_mid_request(victim, database, auth)
    assert answer and not isinstance(answer[0], int), "the killed request was not acknowledged"
    source = fingerprint(KILLED_KEY)
    assert [e.event_name for e in store.events(source=source)] == ["Kept"]
    # The client retries on the other collector: the whole request lands, once.
    assert _post(collectors[0].url, "/v1/batch", {"batch": LOST}, auth) == 200
    assert _post(collectors[1].url, "/v1/batch", {"batch": LOST}, auth) == 200
    assert len(store.events(source=source, event_name="Lost", limit=100)) == 20


def _kill_mid_request(
    victim: SpawnedCollector, database: str, auth: dict[str, str]
) -> list[BaseException | int]:
    """Post LOST to ``victim`` while its source's lock is held, kill it while the request
    waits inside its transaction; what the client saw."""
    batch = {"batch": [{"type": "track", "userId": "k", "event": "Kept", "messageId": "first"}]}
    assert _post(victim.url, "/v1/batch", batch, auth) == 200
    answer: list[BaseException | int] = []

    def post() -> None:
        try:
            answer.append(_post(victim.url, "/v1/batch", {"batch": LOST}, auth))
        except Exception as exc:  # the victim dies under it: the connection drops
            answer.append(exc)

    with psycopg.connect(database, autocommit=True) as blocker:
        row = blocker.execute(
            "SELECT source_id FROM sources WHERE vendor = 'segment' AND source = %s",
            (fingerprint(KILLED_KEY),),
        ).fetchone()
        assert row is not None
        # Hold the source's write lock: the victim's next request waits inside its transaction.
        blocker.execute("SELECT pg_advisory_lock(%s)", ((1 << 40) + row[0],))
        sender = threading.Thread(target=post)
        sender.start()
        try:
            _wait_for_lock_waiter(blocker)
            victim.process.kill()
            victim.process.wait(30)
        finally:
            blocker.execute("SELECT pg_advisory_unlock_all()")
            sender.join(30)
    return answer


def _wait_for_lock_waiter(conn: psycopg.Connection[Any], deadline_s: float = 30.0) -> None:
    """Wait until another session waits on an advisory lock (the victim's request)."""
    import time

    end = time.monotonic() + deadline_s
    while True:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()
        if row is not None and row[0] > 0:
            return
        if time.monotonic() > end:
            raise AssertionError(f"no request waited on the source lock within {deadline_s} s")
        time.sleep(0.02)


def test_stores_opening_a_new_database_at_once_migrate_it_once(pg_server: PostgresServer) -> None:
    url = pg_server.new_database()
    barrier = threading.Barrier(4)

    def open_one(_: int) -> int:
        barrier.wait(30)
        with PostgresStore(url, pool_size=1) as opened:
            return opened.schema_version

    with ThreadPoolExecutor(4) as pool:
        versions = set(pool.map(open_one, range(4)))
    with psycopg.connect(url) as conn:
        applied = [v for (v,) in conn.execute("SELECT version FROM schema_migrations")]
    assert len(versions) == 1
    assert sorted(applied) == list(range(1, versions.pop() + 1))


def test_lost_database_connections_answer_503_then_recover(pg_url: str) -> None:
    from trackwire.collector.server import start_collector

    auth = {"Authorization": basic("lost-connection-key")}
    batch = {"batch": [{"type": "track", "userId": "u", "event": "E", "messageId": "one"}]}
    with start_collector(db=pg_url) as running, psycopg.connect(pg_url, autocommit=True) as admin:
        assert _post(running.url, "/v1/batch", batch, auth) == 200
        # The database drops every connection of the collector (a restart, a failover).
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        again = {"batch": [{"type": "track", "userId": "u", "event": "E", "messageId": "two"}]}
        statuses = [_post(running.url, "/v1/batch", again, auth) for _ in range(3)]
        stats = orjson.loads(urllib3.request("GET", running.url + "/stats").data)
    assert statuses[0] == 503, statuses  # nothing stored, and said so: the SDKs retry
    assert 200 in statuses
    assert set(statuses) <= {200, 503}
    assert stats["total"] == 2
    assert stats["rejected"]["segment"]["store_unavailable"] >= 1
