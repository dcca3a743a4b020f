"""Amplitude query side over the collector: 1,000,000 stored events, 10,000 users, 30 days.

Builds (or reuses, with ``--db``) a collector database written directly through the store's
writer (``SQLiteStore.ingest``, one call per 2,000 events, receipt times spread over 30 days),
then asks a collector serving it, over HTTP with trackwire's query client:

- event segmentation: uniques per day over 30 days; totals grouped by an event property;
  totals with a user-property segment filter (goal: each under 1 s);
- export of the whole range: events/s streamed, and memory (goal: ≥ 100,000 events/s, flat);
- user activity of a user with 1,000 events (goal: under 50 ms).

Then the export path without HTTP in a fresh process per range (events/s, peak RSS for 3 and
30 days), and ingest through the store's writer into fresh databases (100,000 events each)
with this issue's segmentation index, with the index it replaced, and without the indexes only
queries read.

Run: ``python bench/query_bench.py`` (``--events``/``--users`` to scale, ``--db`` to keep and
reuse the database).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from trackwire.amplitude.query import AmplitudeQuery
from trackwire.collector.keys import fingerprint
from trackwire.collector.server import spawn_collector
from trackwire.collector.sqlite import SQLiteStore, amplitude_rollups
from trackwire.collector.store import EventRecord

KEY = "bench-project"
#: What a development-mode collector stores events sent with KEY under (and queries by).
PROJECT = fingerprint(KEY)
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000
DAYS = 30
BATCH = 2_000
HEAVY_USER = "user-heavy"
HEAVY_EVENTS = 1_000
EVENT_TYPES = (
    ("Song Played", 30), ("Page Viewed", 20), ("Search", 15), ("Add To Playlist", 10),
    ("Share", 8), ("Purchase", 5), ("Login", 7), ("Logout", 5),
)  # fmt: skip
GENRES = ("rock", "pop", "jazz", "classical", "hip-hop", "electronic")
PLANS = ("free", "pro", "team")
COUNTRIES = ("US", "FR", "DE", "NL", "JP", "BR")
QUERY_INDEXES = ("events_by_user_time", "events_by_name_time", "events_by_received")
#: A setup entry that skips the active-days rollup at ingest instead of running SQL.
NO_ROLLUP: Final = "-- no rollup"


def records(events: int, users: int, seed: int = 7) -> Iterator[tuple[int, list[EventRecord]]]:
    """(receipt time, records) per store call; times advance over 30 days."""
    rng = random.Random(seed)
    names = [name for name, _ in EVENT_TYPES]
    weights = [weight for _, weight in EVENT_TYPES]
    seen: set[int] = set()
    batches = (events + BATCH - 1) // BATCH
    heavy_every = max(1, events // HEAVY_EVENTS)
    n = 0
    for b in range(batches):
        received = START_MS + (b * DAYS * DAY_MS) // batches
        batch: list[EventRecord] = []
        for _ in range(min(BATCH, events - n)):
            n += 1
            if n % heavy_every == 0 and n // heavy_every <= HEAVY_EVENTS:
                user, user_id = -1, HEAVY_USER
            else:
                user = rng.randrange(users)
                user_id = f"user-{user}"
            name = rng.choices(names, weights)[0]
            props: dict[str, Any] = {"genre": rng.choice(GENRES), "price": rng.randrange(1, 50)}
            event = {
                "event_type": name,
                "user_id": user_id,
                "device_id": f"device-{user}",
                "time": received - rng.randrange(60_000),
                "insert_id": f"{b}-{n}",
                "event_properties": props,
                "country": COUNTRIES[user % len(COUNTRIES)],
                "platform": "Web",
            }
            ops: tuple[Any, ...] = ()
            if user not in seen:
                seen.add(user)
                plan = PLANS[user % len(PLANS)]
                event["user_properties"] = {"$set": {"plan": plan}}
                ops = (("$set", {"plan": plan}),)
            batch.append(
                EventRecord(
                    "amplitude", PROJECT, "event", name, user_id, event["device_id"], event["time"],
                    event["insert_id"], event, ops, session_id=event["time"] // 1_800_000,
                )
            )  # fmt: skip
        yield received, batch


def build(path: Path, events: int, users: int, setup: tuple[str, ...] = ()) -> float:
    """Write the database (after running ``setup`` on it); events/s through ``ingest``."""
    return build_timed(path, events, users, setup)[0]


def build_timed(
    path: Path, events: int, users: int, setup: tuple[str, ...] = ()
) -> tuple[float, float]:
    """:func:`build`, also giving events per CPU second of this process (the machine is
    shared: wall time includes waiting for a core)."""
    with SQLiteStore(path) as store:
        for statement in setup:
            if statement != NO_ROLLUP:
                store._writer.execute(statement)
        roll_up = amplitude_rollups.roll_up
        if NO_ROLLUP in setup:
            amplitude_rollups.roll_up = lambda conn, after_id: None
        started = time.perf_counter()
        cpu = time.process_time()
        for received, batch in records(events, users):
            store.ingest(batch, received_time_ms=received)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        amplitude_rollups.roll_up = roll_up
    return events / elapsed, events / cpu


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(call: Callable[[], Any], runs: int = 5, pid: int = 0) -> tuple[float, float, float, Any]:
    """(median s, best s, median CPU s of process ``pid``, last result).

    The machine is shared: wall time includes waiting for a core; the collector's CPU time per
    call is what the call costs.
    """
    times = []
    cpu = []
    result = None
    for _ in range(runs):
        before = cpu_seconds(pid) if pid else 0.0
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
        cpu.append(cpu_seconds(pid) - before if pid else 0.0)
    return statistics.median(times), min(times), statistics.median(cpu), result


def run_queries(url: str, pid: int, events: int, rows: list[tuple[str, str]], work: Path) -> None:
    """The four calls over HTTP against the collector at ``url`` (process ``pid``)."""
    with AmplitudeQuery(KEY, "secret", query_url=url, timeout=300) as query:
        start, end = "20260101", "20260130"
        cases: dict[str, Callable[[], Any]] = {
            "segmentation: uniques per day, 30 days": lambda: query.event_segmentation(
                "Song Played", start, end
            ),
            "segmentation: totals grouped by an event property": lambda: query.event_segmentation(
                "Song Played", start, end, metric="totals",
                group_by={"type": "event", "value": "genre"},
            ),
            "segmentation: totals, user-property segment filter": lambda: query.event_segmentation(
                "Song Played", start, end, metric="totals",
                segments=[{"prop": "gp:plan", "op": "is", "values": ["pro"]}],
            ),
            "segmentation: pct_dau per day (reads every active event)": (
                lambda: query.event_segmentation("Song Played", start, end, metric="pct_dau")
            ),
            "segmentation: uniques of every active user per day": (
                lambda: query.event_segmentation("_active", start, end)
            ),
            "segmentation: totals grouped by a user property": lambda: query.event_segmentation(
                "Song Played", start, end, metric="totals", group_by="gp:plan",
            ),
            "segmentation: average per user": (
                lambda: query.event_segmentation("Song Played", start, end, metric="average")
            ),
            "segmentation: sums of an event property": lambda: query.event_segmentation(
                {"event_type": "Song Played", "group_by": [{"type": "event", "value": "price"}]},
                start, end, metric="sums",
            ),
            "segmentation: uniques, contains filter on an event property": (
                lambda: query.event_segmentation(
                    {"event_type": "Song Played", "filters": [
                        {"subprop_type": "event", "subprop_key": "genre",
                         "subprop_op": "contains", "subprop_value": ["RO"]}]},
                    start, end,
                )
            ),
            "segmentation: uniques weekly, rolling average of 2": lambda: query.event_segmentation(
                "Song Played", start, end, interval="weekly", rolling_average=2,
            ),
        }  # fmt: skip
        charts: dict[str, Callable[[], Any]] = {
            "funnel: Search -> Song Played -> Purchase, 30 days": lambda: query.funnels(
                ["Search", "Song Played", "Purchase"], start, end
            ),
            "retention: Login -> Song Played, n-day": lambda: query.retention(
                "Login", "Song Played", start, end
            ),
            "users: active per day": lambda: query.users(start, end),
            "revenue LTV (ARPU)": lambda: query.revenue_ltv(start, end),
        }
        for name, call in charts.items():
            median, best, cpu, _ = timed(call, runs=3, pid=pid)
            rows.append((
                name,
                f"{median * 1000:,.0f} ms (best {best * 1000:,.0f}); collector CPU "
                f"{cpu * 1000:,.0f} ms",
            ))  # fmt: skip
            print(rows[-1])
        for name, call in cases.items():
            median, best, cpu, result = timed(call, runs=3, pid=pid)
            total = sum(result.series[0])
            rows.append((
                name,
                f"{median * 1000:,.0f} ms (best {best * 1000:,.0f}); collector CPU "
                f"{cpu * 1000:,.0f} ms; first series sums to {total:,.0f}",
            ))  # fmt: skip
            print(rows[-1])

        heavy = query.user_search(HEAVY_USER).matches[0].amplitude_id
        median, best, cpu, activity = timed(
            lambda: query.user_activity(heavy, limit=1000), runs=7, pid=pid
        )
        rows.append((
            f"user activity, {len(activity.events):,} events returned "
            f"(user has {activity.user_data.num_events:,})",
            f"{median * 1000:,.1f} ms (best {best * 1000:,.1f}); collector CPU "
            f"{cpu * 1000:,.0f} ms",
        ))  # fmt: skip
        print(rows[-1])

        run_export(query, pid, events, rows, work)


def run_export(
    query: AmplitudeQuery, pid: int, events: int, rows: list[tuple[str, str]], work: Path
) -> None:
    """The export of the whole range over HTTP: events/s, and the collector's CPU time."""
    out = work / "export.zip"
    load = load_average()
    before = cpu_seconds(pid)
    started = time.perf_counter()
    result = query.export("20260101T00", "20260131T23", out)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - before
    mib = result.bytes_written / 2**20
    rows.append((
        f"export over HTTP, {events:,} events, {mib:,.0f} MiB zip",
        f"{elapsed:,.1f} s = {events / elapsed:,.0f} events/s; collector CPU {cpu:,.1f} s "
        f"= {events / cpu:,.0f} events per CPU second; load {load}-{load_average()}",
    ))  # fmt: skip
    print(rows[-1])
    out.unlink()


_EXPORT_CHILD = """
import sys, time
from trackwire.collector.query.export import archive_chunks
from trackwire.collector.sqlite import SQLiteStore
try:
    from trackwire.collector.query.export_zip import COMPRESSOR
except ImportError:  # code from before the compressor was chosen: zlib
    COMPRESSOR = "zlib"
db, key, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with SQLiteStore(db) as store:
    sources = store.project_sources(key)
    began, cpu = time.perf_counter(), time.process_time()
    size = events = 0
    if hasattr(store, "export_pages"):  # pages of plain rows (code since they were added)
        def counted():
            global events
            for page in store.export_pages(sources, start, end):
                events += len(page.rows)
                yield page
    else:
        rows = store.export_rows(sources, start, end)
        def counted():
            global events
            for row in rows:
                events += 1
                yield row
    for chunk in archive_chunks(counted(), sources[0].source_id):
        size += len(chunk)
    print(events, size, time.perf_counter() - began, time.process_time() - cpu, COMPRESSOR)
"""


def load_average() -> str:
    """The machine's 1-minute load average now (the box is shared: numbers need it beside)."""
    return f"{os.getloadavg()[0]:.2f}"


def export_memory(db: Path, rows: list[tuple[str, str]]) -> None:
    """The collector's export path (store rows -> zip chunks) in a fresh process per range:
    its events/s without HTTP, and its peak RSS for 3 days and for 30 (flat: the same)."""
    for days in (3, DAYS):
        command = [sys.executable, "-c", _EXPORT_CHILD, str(db), PROJECT, str(START_MS),
                   str(START_MS + days * DAY_MS)]  # fmt: skip
        load = load_average()
        child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        assert status == 0, output
        events, size, elapsed, cpu, compressor = output.split()
        rss = usage.ru_maxrss / 1024  # KiB on Linux
        rows.append((
            f"export path without HTTP, {days} days: {int(events):,} events, "
            f"{int(size) / 2**20:,.0f} MiB zip ({compressor})",
            f"{int(events) / float(elapsed):,.0f} events/s, "
            f"{int(events) / float(cpu):,.0f} per CPU second; peak RSS {rss:,.0f} MiB; "
            f"load {load}-{load_average()}",
        ))  # fmt: skip
        print(rows[-1])


#: Index variants compared for ingest: this issue's segmentation index (migration 3), the
#: index it replaced, and none of the indexes only the query side reads.
_INDEX_VARIANTS: Final = (
    ("with the query side's indexes (after)", ()),
    ("with the segmentation index as before this issue", (
        "DROP INDEX events_by_name_time",
        "CREATE INDEX events_by_name_time ON events (source_id, event_name, client_time_ms)",
    )),
    ("without the 3 indexes only queries read", tuple(f"DROP INDEX {i}" for i in QUERY_INDEXES)),
    # The rollup's statement is skipped (see build_timed): what it costs ingest.
    ("without the active-days rollup", (NO_ROLLUP,)),
)  # fmt: skip


def ingest_cost(
    work: Path, events: int, users: int, rows: list[tuple[str, str]], runs: int = 5
) -> None:
    """Ingest into fresh databases with each index variant, interleaved, median of ``runs``."""
    rates: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in _INDEX_VARIANTS}
    for run in range(runs):
        # Rotated order: no variant always runs first (or right after the same neighbour).
        shift = run % len(_INDEX_VARIANTS)
        for label, setup in _INDEX_VARIANTS[shift:] + _INDEX_VARIANTS[:shift]:
            path = work / f"ingest-{run}.db"
            rates[label].append(build_timed(path, events, users, setup))
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    for label, found in rates.items():
        wall = statistics.median(rate for rate, _ in found)
        cpu = statistics.median(rate for _, rate in found)
        rows.append((
            f"ingest through the store's writer, {label}",
            f"{wall:,.0f} events/s, {cpu:,.0f} per CPU second "
            f"(medians of {runs} x {events:,}, interleaved)",
        ))  # fmt: skip
        print(rows[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--db", type=Path, help="database to build or reuse")
    parser.add_argument("--ingest-events", type=int, default=100_000)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--ingest-runs", type=int, default=5)
    parser.add_argument(
        "--export-only", action="store_true",
        help="only the export, over HTTP and without (run it with another checkout's src on "
             "PYTHONPATH to compare code versions; the collector inherits it)",
    )  # fmt: skip
    parser.add_argument(
        "--ingest-only", action="store_true",
        help="only the ingest measurement (run it with another checkout's src on PYTHONPATH "
             "to compare code versions)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.ingest_only:
        work = Path(tempfile.mkdtemp(prefix="tw-query-bench-"))
        only: list[tuple[str, str]] = []
        ingest_cost(work, args.ingest_events, args.users, only, args.ingest_runs)
        work.rmdir()
        return
    work = Path(tempfile.mkdtemp(prefix="tw-query-bench-"))
    db = args.db or work / "query.db"
    rows: list[tuple[str, str]] = []
    if not db.exists():
        rate = build(db, args.events, args.users)
        rows.append((f"build: {args.events:,} events through the store's writer",
                     f"{rate:,.0f} events/s"))  # fmt: skip
        print(rows[-1])
    rows.append(("database size", f"{db.stat().st_size / 2**20:,.0f} MiB"))
    # The collector in its own process, as deployed: the client's work is not billed to it.
    spawned = spawn_collector(db)
    try:
        if args.export_only:
            with AmplitudeQuery(KEY, "secret", query_url=spawned.url, timeout=300) as query:
                run_export(query, spawned.process.pid, args.events, rows, work)
        else:
            run_queries(spawned.url, spawned.process.pid, args.events, rows, work)
    finally:
        spawned.stop()
    export_memory(db, rows)
    if not args.skip_ingest and not args.export_only:
        ingest_cost(work, args.ingest_events, args.users, rows, args.ingest_runs)

    print()
    print("| measurement | result |")
    print("|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    for name in os.listdir(work):
        Path(work, name).unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
