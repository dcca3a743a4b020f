"""Collector ingest benchmark: ~500 KB Segment batches over keep-alive, as fast as they go.

A tight client (one thread, urllib3, one keep-alive connection) posts pre-encoded
``/v1/batch`` bodies of about 500 KB (1,200 messages each, unique message ids) to a collector
running in its own process, one request after the other. Measured for the real SQLite store
and for the same application with a store that keeps nothing (the parse ceiling): events
stored per second, and request latency (p50, p99). The SQLite run is checked: the collector's
``/stats`` must count every event sent.

Run on its own with ``python bench/collector_ingest.py``; ``bench/run.py`` includes it.

``python bench/collector_ingest.py --scale`` runs the several-vendors scenario of issue 15
instead (:func:`measure_scale`): 8 concurrent clients post Segment, Amplitude and mParticle
requests (unique ids, 20,000 users) to real ``trackwire collector`` processes — SQLite, then
PostgreSQL with one and with two collectors — and it reports events stored per second of the
collectors' own CPU time (the load generator shares the cores), per tenth of the run as the
database grows, and where a store's CPU goes (:func:`cpu_split`). ``--write`` appends the
section to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import functools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
MESSAGES_PER_BATCH = 1_200
WRITE_KEY = "bench-write-key"


def make_bodies(batches: int, messages: int = MESSAGES_PER_BATCH) -> list[bytes]:
    """Segment batch bodies shaped like trackwire's, each message with 6 properties."""
    bodies = []
    start = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.timezone.utc)
    for b in range(batches):
        batch = [
            {
                "type": "track",
                "event": "Item Purchased",
                "properties": {
                    "revenue": 39.95 + i,
                    "sku": f"sku-{i % 97}",
                    "quantity": i % 5,
                    "gift": i % 2 == 0,
                    "tags": ["summer", "sale"],
                    "shipping": {"method": "2-day", "country": "NL"},
                },
                "userId": f"user-{(b * messages + i) % 5_000}",
                "context": {"library": {"name": "trackwire", "version": "0.1.0"}},
                # Times advance and ids are random, as from real traffic: a constant time or
                # ordered ids would flatter the user-row updates and the dedup index.
                "timestamp": (start + dt.timedelta(milliseconds=b * messages + i)).isoformat(
                    timespec="milliseconds"
                ),
                "messageId": str(uuid.uuid4()),
            }
            for i in range(messages)
        ]
        bodies.append(
            orjson.dumps(
                {"batch": batch, "sentAt": "2026-11-22T20:48:07.000Z", "writeKey": WRITE_KEY}
            )
        )
    return bodies


def run_mode(mode: str, bodies: list[bytes], clients: int = 1) -> dict[str, Any]:
    """Start a collector in ``mode``, post every body over ``clients`` keep-alive connections
    (each sending its share one request after the other), return rate and latencies."""
    import urllib3

    token = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {token}"}
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "ingest.db")
        server = subprocess.Popen(
            [sys.executable, str(BENCH / "collector_server.py"), "--mode", mode, "--db", db],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            if not url.startswith("http://"):
                raise RuntimeError(f"the {mode} collector did not start (see its stderr above)")
            pools = [urllib3.PoolManager(maxsize=1) for _ in range(clients)]
            for pool in pools:
                pool.request("GET", f"{url}/health")  # connect before the clock starts
            latencies: list[float] = []
            failures: list[str] = []

            def post_share(pool: urllib3.PoolManager, share: list[bytes]) -> None:
                for body in share:
                    t0 = time.perf_counter()
                    response = pool.request("POST", f"{url}/v1/batch", body=body, headers=headers)
                    latencies.append(time.perf_counter() - t0)
                    if response.status != 200:
                        failures.append(f"HTTP {response.status}: {response.data[:200]!r}")

            threads = [
                threading.Thread(target=post_share, args=(pool, bodies[index::clients]))
                for index, pool in enumerate(pools)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            if failures:
                raise RuntimeError(f"{mode}: {failures[0]}")
            stored = None
            if mode == "sqlite":
                stats = orjson.loads(pools[0].request("GET", f"{url}/stats").data)
                stored = stats.get("store", stats).get("total")
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(30)
    events = len(bodies) * MESSAGES_PER_BATCH
    latencies.sort()
    return {
        "mode": mode,
        "clients": clients,
        "requests": len(bodies),
        "events": events,
        "body_bytes_mean": int(statistics.mean(len(b) for b in bodies)),
        "seconds": round(elapsed, 3),
        "events_per_s": round(events / elapsed),
        "latency_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "latency_p99_ms": round(latencies[int((len(latencies) - 1) * 0.99)] * 1000, 1),
        "stored": stored,
    }


CASES = (("sink", 1), ("sqlite", 1), ("sqlite", 2))


def measure(batches: int = 60, repeat: int = 3) -> dict[str, Any]:
    """Every case ``repeat`` times, taking turns; the median run of each is reported."""
    bodies = make_bodies(batches)
    runs: dict[str, list[dict[str, Any]]] = {f"{mode}-{n}": [] for mode, n in CASES}
    for _ in range(repeat):
        for mode, clients in CASES:
            runs[f"{mode}-{clients}"].append(run_mode(mode, bodies, clients))
    median = {
        case: sorted(rows, key=lambda row: row["events_per_s"])[len(rows) // 2]
        for case, rows in runs.items()
    }
    return {"median": median, "runs": runs}


def section(result: dict[str, Any]) -> list[str]:
    """The RESULTS.md section for the collector."""
    sink, one, two = (result["median"][f"{mode}-{n}"] for mode, n in CASES)
    ok = all(row["stored"] == row["events"] for row in (one, two))
    rows = [
        ("events stored/s", "events_per_s", "{:,}"),
        ("request latency p50 (ms)", "latency_p50_ms", "{}"),
        ("request latency p99 (ms)", "latency_p99_ms", "{}"),
    ]
    table = [
        "| | parse ceiling (no store), 1 connection | SQLite, 1 connection "
        "| SQLite, 2 connections |",
        "|---|---:|---:|---:|",
    ]
    for label, key, fmt in rows:
        table.append(
            f"| {label} | {fmt.format(sink[key])} | {fmt.format(one[key])} | "
            f"{fmt.format(two[key])} |"
        )
    table.append(
        f"| events counted by `/stats` | — | {one['stored']:,} of {one['events']:,} | "
        f"{two['stored']:,} of {two['events']:,} |"
    )
    met = one["events_per_s"] >= 50_000
    return [
        "## Collector ingest (issue #3)",
        "",
        f"A tight client posts {sink['requests']} Segment batches of {MESSAGES_PER_BATCH:,} "
        f"messages (~{sink['body_bytes_mean'] // 1000} KB each, uncompressed; 5,000 distinct "
        "users, random message ids, advancing timestamps) one after the other over a "
        "keep-alive connection to a collector in its own process (`bench/collector_ingest.py`). "
        '"Parse ceiling" is the same application with a store that keeps nothing. The '
        "2-connection column splits the same requests over two connections. Median of the runs.",
        "",
        *table,
        "",
        f"Target: ≥ 50,000 events/s stored into SQLite by one tight client — "
        f"**{'met' if met else 'missed'}** ({one['events_per_s']:,}/s; "
        f"{one['events_per_s'] / sink['events_per_s']:.0%} of the parse ceiling). "
        f"{'Every event sent was stored.' if ok else '**Events are missing.**'}",
        "",
    ]


# --- issue 15: three vendors, 8 clients, SQLite and PostgreSQL, CPU-time rates ---------------

SCALE_CLIENTS = 8
SCALE_USERS = 20_000
EVENTS_PER_REQUEST = 400
#: The first request's time (each next request a second later), as the file is built.
SCALE_START_MS = 1_767_225_600_000
AMPLITUDE_KEY = "bench-amplitude-key-0123456789ab"
MPARTICLE_KEY, MPARTICLE_SECRET = "bench-mparticle-key", "bench-mparticle-secret"
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int], children_of: int | None = None) -> float:
    """User + system CPU seconds of the processes (all their threads), from /proc; for
    ``children_of`` also its reaped children's (PostgreSQL's parallel workers exit after each
    query)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if pid == children_of:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / _TICK


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds of each live thread of ``pid`` (thread id -> seconds)."""
    found: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").glob("[0-9]*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[int(task.name)] = (int(fields[11]) + int(fields[12])) / _TICK
    return found


def thread_split(
    pid: int, before: dict[int, float], total_s: float, events: int
) -> dict[str, float]:
    """Microseconds of a collector's CPU per event, by thread, from two looks at its threads.

    ``before`` is :func:`thread_cpu_seconds` taken before the first request and ``total_s``
    the process's CPU seconds over the run. The event loop is the main thread (uvicorn, HTTP,
    Starlette, the middlewares, the hand-off to workers); the background threads are those
    already running before the first request (SQLite's WAL checkpoint, PostgreSQL's pool
    workers); the worker threads (AnyIO's, started by the first requests: parsing, checking,
    storing) get the rest, including threads that ended during the run.
    """
    after = thread_cpu_seconds(pid)
    loop = after.get(pid, 0.0) - before.get(pid, 0.0)
    background = sum(after.get(tid, cpu) - cpu for tid, cpu in before.items() if tid != pid)
    per_event = 1e6 / max(events, 1)
    return {
        "event_loop": round(loop * per_event, 2),
        "workers": round((total_s - loop - background) * per_event, 2),
        "background": round(background * per_event, 2),
    }


def _children(pid: int) -> list[int]:
    """``pid`` and its direct children (a PostgreSQL server: the postmaster and backends)."""
    found = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _request(vendor: str, number: int, time_ms: int) -> tuple[str, bytes, dict[str, str]]:
    """Request ``number`` of a vendor: path, body, headers; every id unique."""
    rnd = random.Random(number)
    users = [f"user-{rnd.randrange(SCALE_USERS)}" for _ in range(EVENTS_PER_REQUEST)]
    props = [
        {"sku": f"sku-{rnd.randrange(97)}", "price": rnd.randrange(100) + 0.99,
         "gift": rnd.random() < 0.5, "tags": ["summer", "sale"]}
        for _ in range(EVENTS_PER_REQUEST)
    ]  # fmt: skip
    if vendor == "segment":
        token = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
        batch = [
            {"type": "track", "event": f"Event {i % 12}", "userId": user, "properties": p,
             "messageId": str(uuid.uuid4()),
             "timestamp": dt.datetime.fromtimestamp((time_ms + i) / 1000, dt.timezone.utc)
             .isoformat(timespec="milliseconds"),
             "context": {"library": {"name": "trackwire", "version": "0.1.0"}}}
            for i, (user, p) in enumerate(zip(users, props, strict=True))
        ]  # fmt: skip
        return "/v1/batch", orjson.dumps({"batch": batch}), {"Authorization": f"Basic {token}"}
    if vendor == "amplitude":
        events = [
            {"event_type": f"Event {i % 12}", "user_id": user, "device_id": f"d-{user}",
             "insert_id": str(uuid.uuid4()), "time": time_ms + i, "event_properties": p,
             "platform": "Web", "country": "NL"}
            for i, (user, p) in enumerate(zip(users, props, strict=True))
        ]  # fmt: skip
        return "/batch", orjson.dumps({"api_key": AMPLITUDE_KEY, "events": events}), {}
    batches = []
    for b in range(EVENTS_PER_REQUEST // 20):
        events = [
            {"event_type": "custom_event",
             "data": {"event_name": f"Event {i % 12}", "custom_event_type": "other",
                      # mParticle attributes are scalars: the list is left out.
                      "custom_attributes": {k: v for k, v in props[b * 20 + i].items()
                                            if k != "tags"},
                      "timestamp_unixtime_ms": time_ms + i,
                      "source_message_id": str(uuid.uuid4())}}
            for i in range(20)
        ]  # fmt: skip
        batches.append(
            {"environment": "production", "source_request_id": str(uuid.uuid4()),
             "user_identities": {"customer_id": users[b * 20]},
             "device_info": {"platform": "Android"}, "events": events}
        )  # fmt: skip
    token = base64.b64encode(f"{MPARTICLE_KEY}:{MPARTICLE_SECRET}".encode()).decode()
    return "/v2/bulkevents", orjson.dumps(batches), {"Authorization": f"Basic {token}"}


class ScalePoster:
    """Posts the scale benchmark's requests ``first`` .. ``first + count - 1`` (taking turns
    between the three vendors) from :data:`SCALE_CLIENTS` keep-alive clients spread over
    ``urls``; :meth:`start`, then :meth:`join`. ``done`` counts the requests answered."""

    def __init__(self, urls: list[str], first: int, count: int) -> None:
        self.done = 0
        self.failures: list[str] = []
        self._urls = urls
        self._next = first
        self._stop = first + count
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._client, args=(i,)) for i in range(SCALE_CLIENTS)
        ]

    def _client(self, index: int) -> None:
        import urllib3

        pool = urllib3.PoolManager(maxsize=1, retries=False, timeout=120.0)
        url = self._urls[index % len(self._urls)]
        while True:
            with self._lock:
                number = self._next
                if number >= self._stop or self.failures:
                    return
                self._next += 1
            vendor = ("segment", "amplitude", "mparticle")[number % 3]
            path, body, headers = _request(vendor, number, SCALE_START_MS + number * 1_000)
            response = pool.request(
                "POST", url + path, body=body,
                headers={"Content-Type": "application/json", **headers},
            )  # fmt: skip
            if response.status not in (200, 202):
                self.failures.append(f"{vendor} HTTP {response.status}: {response.data[:200]!r}")
            with self._lock:
                self.done += 1

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def join(self) -> None:
        """Wait for every client; raise the first failure."""
        for thread in self._threads:
            thread.join()
        if self.failures:
            raise RuntimeError(self.failures[0])


def _drive(urls: list[str], events: int, server_pids: list[int]) -> dict[str, Any]:
    """Post ``events`` from :data:`SCALE_CLIENTS` threads spread over ``urls``; the rates."""
    requests = events // EVENTS_PER_REQUEST
    marks: list[tuple[int, float, float]] = []
    poster = ScalePoster(urls, 0, requests)
    by_thread = {pid: thread_cpu_seconds(pid) for pid in server_pids}
    process_cpu0 = {pid: cpu_seconds([pid]) for pid in server_pids}
    cpu0, wall0 = cpu_seconds(server_pids), time.perf_counter()
    poster.start()
    step = max(1, requests // 10)
    next_mark = step
    while poster.running():
        time.sleep(0.2)  # a benchmark's progress sampling, not a test
        if poster.done >= next_mark:
            marks.append((poster.done, time.perf_counter(), cpu_seconds(server_pids)))
            next_mark += step
    wall, cpu = time.perf_counter() - wall0, cpu_seconds(server_pids) - cpu0
    # The first collector's threads (the others run the same code).
    first = server_pids[0]
    split = thread_split(
        first,
        by_thread[first],
        cpu_seconds([first]) - process_cpu0[first],
        requests * EVENTS_PER_REQUEST // len(server_pids),
    )
    poster.join()
    tenths = []
    previous = (0, wall0, cpu0)
    for mark in marks:
        done = (mark[0] - previous[0]) * EVENTS_PER_REQUEST
        tenths.append(round(done / max(mark[2] - previous[2], 1e-9)))
        previous = mark
    return {
        "events": requests * EVENTS_PER_REQUEST,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "per_wall_s": round(requests * EVENTS_PER_REQUEST / wall),
        "per_cpu_s": round(requests * EVENTS_PER_REQUEST / cpu),
        "per_cpu_s_by_tenth": tenths,
        "us_per_event_by_thread": split,
    }


def _stored(url: str) -> int:
    import urllib3

    stats = orjson.loads(urllib3.request("GET", f"{url}/stats").data)
    return int(stats.get("store", stats).get("total", 0))


def measure_scale(
    events: int, before: str | None = None, *, postgres: bool = True, turns: int = 1
) -> dict[str, Any]:
    """SQLite (one collector), PostgreSQL (one collector, then two) over the same load; with
    ``before`` (a ``src`` folder of an earlier trackwire), SQLite with that code too, in the
    same run, ``turns`` times each, the order swapped every turn.

    Why turns: on this project's 2-core machines the first collector of a back-to-back pair
    measured slower than the second in 10 of 11 pairs of 1-2M events (by 1-11 %, whichever
    code ran first), so one pair favours the code run second. With several turns each version
    reports the run with its median rate (the table's row) and every rate (``*_turns``).
    """
    sys.path.insert(0, str(BENCH.parent))
    from tests.pg_server import PostgresServer, find_binaries

    from trackwire.collector.server import spawn_collector

    results: dict[str, Any] = {"load_before": os.getloadavg()}
    versions: list[tuple[str, dict[str, str] | None]] = [("sqlite", None)]
    if before is not None:
        versions.append(("sqlite_before", {**os.environ, "PYTHONPATH": before}))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in versions}
    for turn in range(turns):
        for name, env in versions if turn % 2 == 0 else versions[::-1]:
            with (
                tempfile.TemporaryDirectory() as tmp,
                spawn_collector(Path(tmp) / "scale.db", env=env) as one,
            ):
                run = _drive([one.url], events, [one.process.pid])
                run["stored"] = _stored(one.url)
                run["file_mb"] = round((Path(tmp) / "scale.db").stat().st_size / 1e6)
                run["load_after"] = os.getloadavg()
                runs[name].append(run)
    for name, done in runs.items():
        ranked = sorted(done, key=lambda run: run["per_cpu_s"])
        results[name] = ranked[(len(ranked) - 1) // 2]  # the median (the lower of two)
        if turns > 1:
            results[f"{name}_turns"] = [run["per_cpu_s"] for run in done]
    binaries, missing = find_binaries()
    if not postgres:
        return results
    if binaries is None:
        results["postgres_missing"] = missing
        return results
    server = PostgresServer(binaries)
    try:
        for count in (1, 2):
            url = server.new_database()
            collectors = [spawn_collector(url) for _ in range(count)]
            try:
                pids = [c.process.pid for c in collectors]
                run = _drive([c.url for c in collectors], events, pids)
                run["server_cpu_s"] = round(cpu_seconds(_children(server.process.pid)), 1)
                run["stored"] = _stored(collectors[0].url)
                results[f"postgres_{count}"] = run
            finally:
                for collector in collectors:
                    collector.stop()
    finally:
        server.stop()
    results["load_after"] = os.getloadavg()
    return results


class _NoUserKeys:
    """Stands in for the store's user keys in :func:`cpu_split`: records none."""

    def add(self, conn: Any, after_id: int) -> None:
        """Record nothing."""

    def move(self, conn: Any, merges: Any) -> None:
        """Move nothing (the split's requests have no alias)."""

    def merge_if_due(self, conn: Any) -> None:
        """Merge nothing."""

    def forget(self) -> None:
        """Nothing to forget."""


def cpu_split(events: int = 60_000) -> dict[str, float]:
    """Microseconds of CPU per event, by part, measured in this process on SQLite.

    Each part is the difference between two runs of the same requests: parsing and
    enrichment (the vendor's checks, Segment's enrichment, building records, re-encoding) is
    the record builders alone; user resolution is the store with and without user ids;
    de-duplication with and without message ids; index maintenance with and without the
    query indexes and the user keys.
    """
    sys.path.insert(0, str(BENCH.parent))
    import sqlite3

    from trackwire.collector.records import segment_record
    from trackwire.collector.sqlite import SQLiteStore
    from trackwire.segment import wire as segment_wire

    bodies = [_request("segment", n, 1_767_225_600_000 + n) for n in range(events // 400)]
    received = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)

    def parse() -> list[list[Any]]:
        out = []
        for _, body, _ in bodies:
            envelope = orjson.loads(body)
            records = []
            for message in envelope["batch"]:
                enriched = segment_wire.enrich(message, received_at=received, sent_at=None)
                records.append(segment_record(enriched, "track", "bench", payload_json=None))
            out.append(records)
        return out

    def timed(work: Any) -> float:
        t0 = time.process_time()
        work()
        return (time.process_time() - t0) * 1e6 / events

    split = {"parse_enrich_records": timed(parse)}
    prepared = parse()

    def store_run(mutate: Any = None, drop_indexes: bool = False) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "split.db"
            store = SQLiteStore(path)
            if drop_indexes:
                # Each user's event keys live in tables of their own (sqlite/user_index.py).
                store._user_events = _NoUserKeys()
                conn = sqlite3.connect(path)
                # De-duplication keys live in tables of their own (sqlite/dedup.py).
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
                    "AND sql IS NOT NULL"
                ).fetchall():
                    conn.execute(f"DROP INDEX {name}")
                conn.close()
            batches = [[mutate(r) if mutate else r for r in rs] for rs in prepared]
            try:
                return timed(lambda: [store.ingest(b) for b in batches])
            finally:
                store.close()

    import dataclasses

    full = store_run()
    split["store_total"] = full
    split["user_resolution"] = full - store_run(
        lambda r: dataclasses.replace(r, user_id=None, device_id=None)
    )
    split["deduplication"] = full - store_run(lambda r: dataclasses.replace(r, dedup_key=None))
    split["index_maintenance"] = full - store_run(drop_indexes=True)
    return {key: round(value, 2) for key, value in split.items()}


#: The title of the section ``--write`` appends (``--title`` names its topic).
SCALE_TITLE = "Issue 15, ingest speed: {topic}"


def scale_section(
    result: dict[str, Any],
    split: dict[str, float],
    topic: str = "SQLite de-duplication keys and group commit",
) -> list[str]:
    """The RESULTS.md section for issue 15."""
    rows = [("SQLite, 1 collector", result.get("sqlite"))]
    if "sqlite_before" in result:
        rows.append(("SQLite, 1 collector, before (`--before`)", result["sqlite_before"]))
    rows += [
        (f"PostgreSQL 15, {n} collector{'s' if n > 1 else ''}", result.get(f"postgres_{n}"))
        for n in (1, 2)
    ]
    table = [
        "| store | events | stored | events/s (wall) | collectors' CPU s | events per "
        "collector CPU-second | same, by tenth of the run | PostgreSQL server CPU s |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for label, run in rows:
        if run is None:
            continue
        table.append(
            f"| {label} | {run['events']:,} | {run['stored']:,} | {run['per_wall_s']:,} | "
            f"{run['cpu_s']} | **{run['per_cpu_s']:,}** | "
            f"{' '.join(f'{t / 1000:.0f}k' for t in run['per_cpu_s_by_tenth'])} | "
            f"{run.get('server_cpu_s', '—')} |"
        )
    sqlite = result.get("sqlite", {})
    met = sqlite.get("per_cpu_s", 0) >= 40_000
    lost = [label for label, run in rows if run is not None and run["stored"] != run["events"]]
    load = ", ".join(f"{x:.2f}" for x in result["load_before"])
    after = ", ".join(f"{x:.2f}" for x in result.get("load_after", result["load_before"]))
    before = " --before BEFORE/src" if "sqlite_before" in result else ""
    turns = result.get("sqlite_turns", [])
    if turns:
        before += f" --turns {len(turns)}"
    return [
        "## " + SCALE_TITLE.format(topic=topic),
        "",
        f"{SCALE_CLIENTS} concurrent clients post requests of {EVENTS_PER_REQUEST} events, "
        "taking turns between Segment `/v1/batch`, Amplitude `/batch` and mParticle "
        f"`/v2/bulkevents` (unique ids, {SCALE_USERS:,} users), to real `trackwire collector` "
        "processes. Rates are per second of the collectors' own CPU time (user + system, all "
        "threads, from /proc), so the load generator sharing the 2 cores does not blur them. "
        f"Load average (1, 5, 15 min) before the run: {load}; after it: {after}. Command: "
        f"`python bench/collector_ingest.py --scale --events {sqlite.get('events', 0)}"
        f"{before}`.",
        "",
        *table,
        "",
        *_turn_lines(result),
        *thread_table(rows),
        f"Target ≥ 40,000 events per collector CPU-second into SQLite: "
        f"**{'met' if met else 'missed'}** ({sqlite.get('per_cpu_s', 0):,}). "
        + (f"**Events missing: {', '.join(lost)}.**" if lost else "Every event sent was stored."),
        "",
        "Where one SQLite collector's CPU goes, microseconds per event (Segment events, "
        "measured in-process by differences, `cpu_split`):",
        "",
        "| part | µs/event |",
        "|---|---:|",
        *(f"| {name.replace('_', ' ')} | {value} |" for name, value in split.items()),
        "",
    ]


def _turn_lines(result: dict[str, Any]) -> list[str]:
    """Every SQLite run's rate when the versions ran several turns (the table shows each
    version's median run)."""
    turns = {name: result.get(f"{name}_turns") for name in ("sqlite", "sqlite_before")}
    if not turns["sqlite"]:
        return []
    said = [
        f"{label}: {', '.join(f'{rate:,}' for rate in rates)}"
        f" (mean {round(sum(rates) / len(rates)):,})"
        for label, rates in (("this code", turns["sqlite"]), ("before", turns["sqlite_before"]))
        if rates
    ]
    return [
        f"SQLite runs, events per collector CPU-second, in turns (the order swapped every "
        f"turn; the table shows each version's median run): {'; '.join(said)}.",
        "",
    ]


def thread_table(rows: list[tuple[str, dict[str, Any] | None]]) -> list[str]:
    """Where each run's collector CPU went by thread, µs per event (see :func:`thread_split`);
    nothing for runs without the split (results of older versions of this script)."""
    lines = [
        "Collector CPU by thread, µs per event (the first collector of a run; event loop: "
        "uvicorn, HTTP, Starlette, middlewares, the hand-off; workers: parsing, checks, the "
        "store; background: threads running before the first request, SQLite's checkpoint):",
        "",
        "| store | event loop | workers | background | all threads |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, run in rows:
        split = (run or {}).get("us_per_event_by_thread")
        if split:
            total = round(sum(split.values()), 2)
            lines.append(
                f"| {label} | {split['event_loop']} | {split['workers']} | "
                f"{split['background']} | {total} |"
            )
    return [*lines, ""] if len(lines) > 4 else []


def scan_rates(events: int = 300_000) -> dict[str, dict[str, float]]:
    """Rows per second one segmentation query reads, on SQLite and on PostgreSQL.

    ``events`` Amplitude events over 30 days are stored in each (through the store API), then
    three queries over the whole range are timed, best of three: totals of one event type
    per day, the same grouped by an event property, and uniques of every event per day. The
    rate is the events the query covers divided by its time: the figure that says how far a
    row store's raw-event queries go (docs/collector-at-scale.md).
    """
    sys.path.insert(0, str(BENCH.parent))
    from tests.pg_server import PostgresServer, find_binaries

    from trackwire.amplitude.query.params import segmentation_params
    from trackwire.collector.query.segmentation import plan
    from trackwire.collector.store import EventRecord
    from trackwire.collector.store_factory import open_store

    rnd = random.Random(1)
    start = 1_767_225_600_000
    requests = []
    for number in range(events // 1000):
        requests.append(
            [
                EventRecord(
                    "amplitude", "scan", "event", f"Event {rnd.randrange(12)}",
                    f"user-{rnd.randrange(SCALE_USERS)}", None,
                    start + rnd.randrange(30 * 86_400_000), f"{number}-{i}",
                    {"event_type": "x", "event_properties": {"sku": f"sku-{rnd.randrange(97)}"}},
                )
                for i in range(1000)
            ]
        )  # fmt: skip
    queries = {
        "totals, one event, by day": segmentation_params(
            "Event 3", "20260101", "20260130", metric="totals"
        ),
        "totals by event property": segmentation_params(
            "Event 3",
            "20260101",
            "20260130",
            metric="totals",
            group_by={"type": "event", "value": "sku"},
        ),
        "uniques of every event, by day": segmentation_params(
            "_all", "20260101", "20260130", metric="uniques"
        ),
    }
    covered = {"totals, one event, by day": events / 12, "totals by event property": events / 12}
    covered["uniques of every event, by day"] = events
    out: dict[str, dict[str, float]] = {}
    binaries, _ = find_binaries()
    server = PostgresServer(binaries) if binaries else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            urls = {"SQLite": str(Path(tmp) / "scan.db")}
            if server is not None:
                urls["PostgreSQL"] = server.new_database()
            for name, url in urls.items():
                store = open_store(url)
                try:
                    for records in requests:
                        store.ingest(records, received_time_ms=start)
                    sources = store.project_sources("scan")
                    rates = {}
                    for label, params in queries.items():
                        query = functools.partial(store.segmentation, sources, plan(params))
                        best = min(_timed(query) for _ in range(3))
                        rates[label] = round(covered[label] / best)
                    out[name] = rates
                finally:
                    store.close()
    finally:
        if server is not None:
            server.stop()
    return out


def _timed(work: Any) -> float:
    t0 = time.perf_counter()
    work()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="the issue-15 scenario")
    parser.add_argument("--events", type=int, default=2_000_000, help="events per store run")
    parser.add_argument("--write", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--scan", action="store_true", help="segmentation rows/s per store")
    parser.add_argument(
        "--sqlite-only", action="store_true", help="with --scale: SQLite runs only, no report"
    )
    parser.add_argument(
        "--before", help="with --scale: a src folder of an earlier trackwire, measured too"
    )
    parser.add_argument(
        "--turns",
        type=int,
        default=1,
        help="with --scale: SQLite runs per version, the order swapped every turn",
    )
    parser.add_argument(
        "--title",
        default="SQLite de-duplication keys and group commit",
        help="with --scale --write: the topic in the section's title",
    )
    args = parser.parse_args(argv)
    if args.scan:
        print(json.dumps(scan_rates(), indent=1))
        return
    if not args.scale:
        print("\n".join(section(measure())))
        return
    result = measure_scale(
        args.events, args.before, postgres=not args.sqlite_only, turns=args.turns
    )
    if args.sqlite_only:
        print(json.dumps(result, indent=1))
        return
    split = cpu_split()
    print(json.dumps({"result": result, "split": split}, indent=1))
    lines = scale_section(result, split, args.title)
    print("\n".join(lines))
    if args.write:
        with (BENCH / "RESULTS.md").open("a", encoding="utf-8") as out:
            out.write("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
