"""Event segmentation on PostgreSQL at 10M events, over HTTP, every kind the seeds ask for.

What it does, end to end:

1. Starts a PostgreSQL server (``initdb`` in a folder, 127.0.0.1, an ephemeral port, as a
   non-root user under root; the settings are :data:`SERVER_SETTINGS`) and a real
   ``trackwire collector --db postgresql://...`` process.
2. Sends ``--events`` Amplitude events (default 1,000,000; ``--users`` users, default 15,000;
   30 days from 2026-01-16 across a month boundary; 8 event types; properties ``genre`` (one
   value non-ASCII), ``price``; a ``plan`` user property set on each user's first event)
   through the collector's ``/batch`` API from 4 client threads.
3. Times every segmentation kind (:func:`cases`) over HTTP with trackwire's query client:
   median of ``--runs``, wall time and the server's CPU time (the collector process plus every
   PostgreSQL process), and the load average beside them.
4. Multiplies the rows in SQL to ``--copies`` times as many (default 10: 10M events), see
   :func:`multiply`: copy ``k`` is the first month's events, users and devices shifted ``k`` x
   30 days later, with new event ids, user ids, device ids and Amplitude ids (``user-7`` becomes
   ``user-7.k``), insert ids suffixed, and the payloads rewritten to match — so the months
   1..k are new users' events of the same shape, the ``active_days`` rollup is filled by its
   trigger, and ``VACUUM ANALYZE`` runs after the load. It checks that the collector's
   ``/stats`` and a monthly ``_all`` totals query count every row made.
5. Times every kind again over the first month (still ~1M events, now in a 10M table), then a
   few over the whole ten months (10M events).

Run from the checkout: ``nice -n 10 python bench/pg_segmentation.py`` (about 20 minutes on
2 shared cores). ``--folder DIR`` keeps the server's data in DIR and reuses a loaded one on the
next run (the queries are then timed against the code of that run: a new migration applies
when the collector starts); ``--copies 1`` stops at 1M.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import orjson
import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector_ingest import cpu_seconds  # a sibling script (bench/ is on the path)
from tests.pg_server import PostgresServer, find_binaries

from trackwire.amplitude.query import AmplitudeQuery
from trackwire.collector.server import spawn_collector
from trackwire.collector.sqlite.amplitude_rollups import INACTIVE

KEY: Final = "bench-project"
START_MS: Final = 1_768_521_600_000  # 2026-01-16T00:00:00Z
DAY_MS: Final = 86_400_000
DAYS: Final = 30
#: The first month (the events sent over HTTP) and the whole range after multiplying.
FIRST: Final = ("20260116", "20260214")
#: Every event made, after multiplying (the last ones are a minute into the 301st day).
WHOLE: Final = ("20260116", "20261112")
EVENT_TYPES: Final = (
    ("Song Played", 30), ("Page Viewed", 20), ("Search", 15), ("Add To Playlist", 10),
    ("Share", 8), ("Purchase", 5), ("Login", 7), ("Logout", 5),
)  # fmt: skip
GENRES: Final = ("rock", "pop", "jazz", "classical", "hip-hop", "électro")
PLANS: Final = ("free", "pro", "team")
COUNTRIES: Final = ("US", "FR", "DE", "NL", "JP", "BR")
PER_REQUEST: Final = 1_000
CLIENTS: Final = 4
#: The server's settings beyond the tests' (durability off as there: a benchmark's data).
SERVER_SETTINGS: Final = (
    "fsync=off", "synchronous_commit=off", "full_page_writes=off", "shared_buffers=512MB",
    "max_wal_size=4GB", "checkpoint_timeout=30min", "max_connections=50",
)  # fmt: skip


class Server(PostgresServer):
    """The tests' PostgreSQL server with the benchmark's settings, its data in ``folder``
    (initialised on first use, kept), and a ``bench`` database."""

    def __init__(self, folder: Path) -> None:
        binaries, missing = find_binaries()
        if binaries is None:
            sys.exit(f"cannot run: {missing}")
        super().__init__(binaries, folder, SERVER_SETTINGS)
        with self.connect("postgres") as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'bench'").fetchone():
                conn.execute("CREATE DATABASE bench TEMPLATE template0")

    def url(self, database: str = "bench") -> str:
        return super().url(database)

    def connect(self, database: str = "bench") -> Any:
        import psycopg

        return psycopg.connect(self.url(database), autocommit=True)

    def pids(self) -> list[int]:
        """The postmaster and its children (backends, parallel workers, autovacuum)."""
        found = [self.process.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found


def _bodies(events: int, users: int, seed: int = 7) -> list[bytes]:
    """``/batch`` bodies of :data:`PER_REQUEST` events, times spread over 30 days in order."""
    rng = random.Random(seed)
    names = [name for name, _ in EVENT_TYPES]
    weights = [weight for _, weight in EVENT_TYPES]
    seen: set[int] = set()
    bodies = []
    for start in range(0, events, PER_REQUEST):
        batch = []
        for n in range(start, min(events, start + PER_REQUEST)):
            user = rng.randrange(users)
            at = START_MS + (n * DAYS * DAY_MS) // events + rng.randrange(60_000)
            event: dict[str, Any] = {
                "event_type": rng.choices(names, weights)[0],
                "user_id": f"user-{user}",
                "device_id": f"device-{user}",
                "time": at,
                "session_id": at // 1_800_000 * 1_800_000,
                "insert_id": f"i-{n}",
                "event_properties": {"genre": rng.choice(GENRES), "price": rng.randrange(1, 50)},
                "country": COUNTRIES[user % len(COUNTRIES)],
                "platform": "Web",
            }
            if user not in seen:
                seen.add(user)
                event["user_properties"] = {"$set": {"plan": PLANS[user % len(PLANS)]}}
            batch.append(event)
        bodies.append(orjson.dumps({"api_key": KEY, "events": batch}))
    return bodies


def send(url: str, bodies: list[bytes]) -> float:
    """Post every body from :data:`CLIENTS` threads; the wall seconds."""
    lock = threading.Lock()
    queue = list(reversed(bodies))
    failures: list[str] = []

    def client() -> None:
        pool = urllib3.PoolManager(maxsize=1, retries=False, timeout=300.0)
        while True:
            with lock:
                if not queue or failures:
                    return
                body = queue.pop()
            response = pool.request(
                "POST", url + "/batch", body=body, headers={"Content-Type": "application/json"}
            )
            if response.status != 200:
                failures.append(f"HTTP {response.status}: {response.data[:300]!r}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(failures[0])
    return time.perf_counter() - started


def multiply(server: Server, copies: int) -> tuple[int, float]:
    """Copies 1..copies-1 of the first month, ``k`` x 30 days later, with new users; the
    events stored after and the seconds it took (one transaction per copy)."""
    shift = DAYS * DAY_MS
    started = time.perf_counter()
    with server.connect() as conn:
        (base_events,) = conn.execute("SELECT max(id) FROM events").fetchone()
        (base_users,) = conn.execute("SELECT max(amplitude_id) FROM users").fetchone()
        # The built-in properties column (PostgreSQL migration 6) when the code has it.
        kept = conn.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'events' AND column_name = 'builtins'"
        ).fetchone()[0]
        builtins = ", builtins" if kept else ""
        for k in range(1, copies):
            dt, da, tag = k * shift, k * base_users, f".{k}"
            with conn.transaction():
                conn.execute(
                    "INSERT INTO users (amplitude_id, source_id, user_id, device_id, properties, "
                    "first_seen_ms, last_seen_ms) SELECT amplitude_id + %s, source_id, "
                    "user_id || %s, device_id || %s, properties, first_seen_ms + %s, "
                    "last_seen_ms + %s FROM users WHERE amplitude_id <= %s",
                    (da, tag, tag, dt, dt, base_users),
                )
                conn.execute(
                    "INSERT INTO devices (source_id, device_id, amplitude_id) "
                    "SELECT source_id, device_id || %s, amplitude_id + %s FROM devices "
                    "WHERE amplitude_id <= %s",
                    (tag, da, base_users),
                )
                # The payload says what the columns say: user, device, time, ids.
                conn.execute(
                    "INSERT INTO events (source_id, type, event_name, user_id, device_id, "
                    "amplitude_id, session_id, client_time_ms, received_time_ms, dedup_key, "
                    f"revenue, groups, payload, context_id, dedup_scope, props{builtins}) "
                    "SELECT source_id, type, event_name, user_id || %(tag)s, "
                    "device_id || %(tag)s, amplitude_id + %(da)s, session_id + %(dt)s, "
                    "client_time_ms + %(dt)s, received_time_ms + %(dt)s, dedup_key || %(tag)s, "
                    "revenue, groups, (p || jsonb_build_object('user_id', user_id || %(tag)s, "
                    "'device_id', device_id || %(tag)s, 'time', client_time_ms + %(dt)s, "
                    "'session_id', session_id + %(dt)s, 'insert_id', dedup_key || %(tag)s, "
                    "'amplitude_id', amplitude_id + %(da)s))::text, context_id, dedup_scope, props"
                    f"{builtins} "
                    "FROM events, LATERAL (SELECT payload::jsonb AS p) j "
                    "WHERE id <= %(base)s ORDER BY id",
                    {"tag": tag, "da": da, "dt": dt, "base": base_events},
                )
                conn.execute(
                    "SELECT setval('amplitude_ids', (SELECT max(amplitude_id) FROM users))"
                )
            print(f"  copy {k}: {time.perf_counter() - started:,.0f} s", flush=True)
        conn.execute("VACUUM ANALYZE")
        (total,) = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(total), time.perf_counter() - started


def check_tables(server: Server) -> dict[str, int]:
    """The counts that must agree after :func:`multiply`; raises when they do not: every
    event's user and device exist, and the active-days rollup (kept by triggers) holds what
    recomputing it from the events gives."""
    with server.connect() as conn:
        counts = {
            name: int(conn.execute(sql).fetchone()[0])
            for name, sql in {
                "events": "SELECT count(*) FROM events",
                "users": "SELECT count(*) FROM users",
                "devices": "SELECT count(*) FROM devices",
                "events without their user": "SELECT count(*) FROM events e WHERE NOT EXISTS "
                "(SELECT 1 FROM users u WHERE u.amplitude_id = e.amplitude_id)",
                "active_days rows": "SELECT count(*) FROM active_days",
                "active days recomputed": "SELECT count(*) FROM (SELECT DISTINCT source_id, "
                "coalesce(client_time_ms, received_time_ms) / 86400000, amplitude_id "
                "FROM events WHERE amplitude_id IS NOT NULL "
                f"AND type NOT IN ({', '.join(repr(t) for t in sorted(INACTIVE))})) d",
            }.items()
        }  # fmt: skip
    if counts["events without their user"] or (
        counts["active_days rows"] != counts["active days recomputed"]
    ):
        raise RuntimeError(f"the tables disagree: {counts}")
    return counts


def cases(query: AmplitudeQuery, start: str, end: str) -> dict[str, Callable[[], Any]]:
    """Every segmentation kind of the seeds' client the collector answers, over one range."""
    genre = {"type": "event", "value": "genre"}
    price = {"type": "event", "value": "price"}

    def seg(event: Any, **options: Any) -> Callable[[], Any]:
        return lambda: query.event_segmentation(event, start, end, **options)

    def filtered(
        op: str, values: list[str], kind: str = "event", key: str = "genre", **options: Any
    ) -> Callable[[], Any]:
        event = {"event_type": "Song Played", "filters": [
            {"subprop_type": kind, "subprop_key": key, "subprop_op": op,
             "subprop_value": values}]}  # fmt: skip
        return seg(event, **options)

    return {
        "uniques, Song Played, daily": seg("Song Played"),
        "totals, Song Played, daily": seg("Song Played", metric="totals"),
        "pct_dau, Song Played": seg("Song Played", metric="pct_dau"),
        "average, Song Played": seg("Song Played", metric="average"),
        "sums of price, Song Played": seg(
            {"event_type": "Song Played", "group_by": [price]}, metric="sums"
        ),
        "value_avg of price, Song Played": seg(
            {"event_type": "Song Played", "group_by": [price]}, metric="value_avg"
        ),
        "uniques, _active, daily": seg("_active"),
        "totals, _all, daily": seg("_all", metric="totals"),
        "uniques, _all, daily": seg("_all"),
        "pct_dau, _all": seg("_all", metric="pct_dau"),
        "totals by event property genre": seg(
            {"event_type": "Song Played", "group_by": [genre]}, metric="totals"
        ),
        "uniques by event property genre": seg({"event_type": "Song Played", "group_by": [genre]}),
        "totals by user property gp:plan": seg("Song Played", metric="totals", group_by="gp:plan"),
        "uniques by built-in country": seg("Song Played", group_by="country"),
        "uniques, filter built-in country is FR": filtered("is", ["FR"], "user", "country"),
        "totals by country, filter genre is rock": filtered(
            "is", ["rock"], metric="totals", group_by="country"
        ),
        "totals, filter genre is rock": filtered("is", ["rock"], metric="totals"),
        "uniques, filter genre contains 'ÉLEC'": filtered("contains", ["ÉLEC"]),
        "uniques, segment gp:plan is pro": seg(
            "Song Played", segments=[{"prop": "gp:plan", "op": "is", "values": ["pro"]}]
        ),
        "uniques, Song Played, weekly (i=7)": seg("Song Played", interval="weekly"),
        "totals, Song Played, monthly (i=30)": seg(
            "Song Played", metric="totals", interval="monthly"
        ),
        "uniques, _active, weekly (i=7)": seg("_active", interval="weekly"),
    }


def whole_range(query: AmplitudeQuery) -> dict[str, Callable[[], Any]]:
    """A few kinds over every event made (ten months, monthly): beyond the target's month."""
    genre = {"type": "event", "value": "genre"}
    return {
        "10 months: totals, _all, monthly": lambda: query.event_segmentation(
            "_all", *WHOLE, metric="totals", interval="monthly"
        ),
        "10 months: uniques, Song Played, monthly": lambda: query.event_segmentation(
            "Song Played", *WHOLE, interval="monthly"
        ),
        "10 months: totals by genre, monthly": lambda: query.event_segmentation(
            {"event_type": "Song Played", "group_by": [genre]}, *WHOLE, metric="totals",
            interval="monthly",
        ),
    }  # fmt: skip


def time_cases(
    url: str,
    server: Server,
    collector_pid: int,
    make: Callable[[AmplitudeQuery], dict[str, Callable[[], Any]]],
    runs: int,
    only: set[str] | None = None,
) -> list[tuple[str, float, float, float]]:
    """(name, median wall s, median server CPU s, first series' sum) per case of ``make``."""
    results = []
    with AmplitudeQuery(KEY, "secret", query_url=url, timeout=600) as query:
        for name, call in make(query).items():
            if only is not None and name not in only:
                continue
            walls, cpus = [], []
            answer = None
            for _ in range(runs):
                pids = [collector_pid, *server.pids()]
                cpu0 = cpu_seconds(pids, server.process.pid)
                started = time.perf_counter()
                answer = call()
                walls.append(time.perf_counter() - started)
                cpus.append(cpu_seconds(pids, server.process.pid) - cpu0)
            assert answer is not None
            total = float(sum(v for v in answer.series[0] if v is not None))
            results.append((name, statistics.median(walls), statistics.median(cpus), total))
            print(
                f"  {name:42} {results[-1][1]:7.3f} s  server CPU {results[-1][2]:6.2f} s  "
                f"series[0] sum {total:,.6g}  load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    return results


def stored(url: str) -> int:
    stats = orjson.loads(urllib3.request("GET", f"{url}/stats").data)
    return int(stats["total"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=15_000)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--folder", type=Path, help="keep (and reuse) the server's data here")
    parser.add_argument("--only", action="append", help="time only this case (repeatable)")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="trackwire-pgseg-"))
    only = set(args.only) if args.only else None
    print(f"load average at start: {os.getloadavg()}", flush=True)
    server = Server(folder)
    try:
        with server.connect() as conn:
            loaded = conn.execute("SELECT to_regclass('events')").fetchone()[0] is not None
        started = time.perf_counter()
        with spawn_collector(server.url(), timeout=3600) as collector:
            print(f"collector up (migrations) after {time.perf_counter() - started:,.0f} s")
            url, pid = collector.url, collector.process.pid
            if not loaded or stored(url) == 0:
                bodies = _bodies(args.events, args.users)
                pids = [pid, *server.pids()]
                cpu = cpu_seconds(pids, server.process.pid)
                wall = send(url, bodies)
                cpu = cpu_seconds(pids, server.process.pid) - cpu
                print(f"sent {args.events:,} events over HTTP in {wall:,.0f} s "
                      f"({args.events / wall:,.0f}/s); server CPU {cpu:,.0f} s "
                      f"({cpu / args.events * 1e6:,.0f} us an event)", flush=True)  # fmt: skip
                with server.connect() as conn:
                    conn.execute("VACUUM ANALYZE")
            count = stored(url)
            if count < args.events * args.copies:
                print(f"{count:,} events stored; timing the first month", flush=True)
                time_cases(url, server, pid, lambda q: cases(q, *FIRST), args.runs, only)
        if count < args.events * args.copies:
            print(f"multiplying to {args.copies} x {count:,} events in SQL", flush=True)
            total, seconds = multiply(server, args.copies)
            print(f"{total:,} events after {seconds:,.0f} s", flush=True)
        started = time.perf_counter()
        with spawn_collector(server.url(), timeout=3600) as collector:
            print(f"collector up (migrations) after {time.perf_counter() - started:,.0f} s")
            url, pid = collector.url, collector.process.pid
            total = stored(url)
            counts = check_tables(server)
            print(f"tables agree: {counts}", flush=True)
            assert counts["events"] == total, (counts, total)
            with AmplitudeQuery(KEY, "secret", query_url=url, timeout=600) as query:
                months = query.event_segmentation(
                    "_all", *WHOLE, metric="totals", interval="monthly"
                )
                counted = sum(v for v in months.series[0] if v is not None)
            assert counted == total, (counted, total)
            print(f"{total:,} events stored; the collector counts {counted:,.0f} over "
                  f"{'-'.join(WHOLE)}, as made; timing the first month", flush=True)  # fmt: skip
            time_cases(url, server, pid, lambda q: cases(q, *FIRST), args.runs, only)
            if total > args.events:
                time_cases(url, server, pid, whole_range, args.runs, only)
    finally:
        server.stop()
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)
        print(f"load average at end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
