"""Issue 15: the floor of this design, in µs of CPU per event, on the scale benchmark's bodies.

Four measurements, in one run, on the requests of ``bench/collector_ingest.py --scale``
(8 keep-alive clients, 400-event requests of Segment, Amplitude and mParticle, 20,000 users,
unique ids):

1. **SQLite's own work.** A 1M-event file is built through a real collector (or given with
   ``--db``). The next requests are posted to an in-process collector whose writer connection
   records every statement it runs, with its parameters (group commits, savepoints, the
   events INSERT, de-duplication, user keys, active_days, users/devices, COMMIT). Those calls
   are replayed on fresh copies of the 1M-event file with the rows already computed; only the
   SQLite calls are timed (``time.thread_time``), plus a PASSIVE checkpoint every
   ``--checkpoint-every`` events, and the bytes written (``/proc/self/io``). Three variants:
   the store as it is; without the query side (no ``events`` secondary indexes, no
   ``props`` column, no user keys, no active_days); the event rows alone (only the events
   INSERT and the transaction statements, no secondary index, no ``props``). ``--variants``
   picks others: the store's statements on a vacuumed copy with all, none, or all but one of
   the three query indexes of a version-9 file, or the segmentation index without ``props``
   (``--sqlite-only`` skips parts 2-4).
2. **The HTTP floor.** uvicorn configured as the collector runs it (h11, the header-deadline
   protocol) with a trivial ASGI app that reads the body and answers 200, then with
   Starlette's Router in front; the server process's CPU per event.
3. **The parse floor.** ``orjson.loads`` of each body plus one ``orjson.dumps`` per event.
4. **Main as it is.** ``collector_ingest.measure_scale`` (SQLite only) with its per-thread split.

``python bench/ingest_floor.py`` prints a JSON result and a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "src"))

import collector_ingest as scale  # noqa: E402  (the scale benchmark's bodies and driver)

#: The request numbers of the capture follow those that built the file, so times keep moving
#: forward and every event moves its user's last seen, as in the benchmark.
CLIENTS = scale.SCALE_CLIENTS
PER_REQUEST = scale.EVENTS_PER_REQUEST
START_MS = scale.SCALE_START_MS
#: The ``events`` indexes only the query side (issue 17) needs.
QUERY_INDEXES = ("events_by_type", "events_by_received", "events_by_name_time")
#: Variants that replay the store's statements with some of the query indexes dropped
#: (``vacuumed``: none dropped, but the copy vacuumed as the others are; ``name_time_no_props``:
#: the segmentation index rebuilt without its ``props`` column).
INDEX_VARIANTS: dict[str, tuple[str, ...]] = {
    "vacuumed": (),
    "no_type": ("events_by_type",),
    "no_received": ("events_by_received",),
    "no_name_time": ("events_by_name_time",),
    "name_time_no_props": ("events_by_name_time",),
    "no_event_indexes": QUERY_INDEXES,
}
#: Tables only the query side reads.
QUERY_TABLES = ("user_events", "active_days")


# --- posting the benchmark's requests ---------------------------------------------------------


def post_requests(url: str, first: int, count: int) -> None:
    """Post requests ``first`` .. ``first + count - 1`` from :data:`CLIENTS` keep-alive clients."""
    poster = scale.ScalePoster([url], first, count)
    poster.start()
    poster.join()


def build_file(path: Path, events: int) -> None:
    """Store ``events`` through a real collector process, then fold the WAL into the file."""
    from trackwire.collector.server import spawn_collector

    with spawn_collector(path) as collector:
        post_requests(collector.url, 0, events // PER_REQUEST)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    conn.close()


def copy_file(source: Path, target: Path) -> None:
    """Copy a checkpointed database file (its WAL is empty) and flush it to disk, so the
    bytes written afterwards are counted anew (``write_bytes`` counts a page when it is first
    dirtied)."""
    shutil.copyfile(source, target)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.sync()


# --- 1. SQLite's own work ------------------------------------------------------------------------

#: One recorded call: ``(method, sql, parameters)``; method is ``execute`` or ``executemany``.
Call = tuple[str, str, Any]


class RecordingConnection:
    """A ``sqlite3.Connection`` that records every statement run through it, then runs it."""

    def __init__(self, conn: sqlite3.Connection, calls: list[Call]) -> None:
        self._conn = conn
        self._calls = calls

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        """Record, then run, one statement."""
        if not isinstance(parameters, dict):
            parameters = tuple(parameters)
        self._calls.append(("execute", sql, parameters))
        return self._conn.execute(sql, parameters)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        """Record, then run, one statement over rows (a generator is read once, here)."""
        rows = [tuple(row) if not isinstance(row, dict) else row for row in rows]
        self._calls.append(("executemany", sql, rows))
        return self._conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def capture(source: Path, work: Path, first: int, count: int) -> list[Call]:
    """The writer's calls while requests ``first``.. are posted to an in-process collector."""
    from trackwire.collector.server import start_collector
    from trackwire.collector.sqlite import SQLiteStore

    copy_file(source, work)
    calls: list[Call] = []
    store = SQLiteStore(work)
    try:
        store._writer = RecordingConnection(store._writer, calls)  # type: ignore[assignment]
        running = start_collector(store)
        try:
            post_requests(running.url, first, count)
        finally:
            running.stop()
    finally:
        store.close()
    return calls


def category(sql: str) -> str:
    """The part of the store a statement belongs to, from what it writes or reads."""
    text = " ".join(sql.split()).lower()
    if text.startswith(("begin", "commit", "savepoint", "release", "rollback")):
        return "transaction"  # COMMIT writes the transaction's pages to the WAL
    if text.startswith("pragma"):
        return "pragma"
    if text.startswith(("insert into events", "insert into contexts")) or "max(id)" in text:
        return "events insert"
    if text.startswith("insert into event_counts"):
        return "event counts (per request)"
    if "event_index_state" in text or text.startswith("insert into event_"):
        return "event keys (merge)"
    if text.startswith("update users"):
        return "users update (last seen)"
    for table, name in (
        ("dedup_", "de-duplication"),
        ("user_events", "user keys"),
        ("active_days", "active_days"),
        ("requests", "requests/sources"),
        ("sources", "requests/sources"),
        ("identity_links", "users/devices"),
        ("devices", "users/devices"),
        ("users", "users/devices"),
        ("groups", "users/devices"),
    ):
        if table in text:
            return name
    return "other"


def _null_props(sql: str, parameters: Any) -> Any:
    """The parameters of an events INSERT with every ``props`` value set to NULL."""
    columns = [c.strip() for c in re.search(r"\(([^)]*)\)", sql).group(1).split(",")]  # type: ignore[union-attr]
    if "props" not in columns:
        return parameters
    at, width = columns.index("props"), len(columns)
    values = list(parameters)
    for index in range(at, len(values), width):
        values[index] = None
    return tuple(values)


def _events_in(sql: str, method: str, parameters: Any) -> int:
    columns = re.search(r"\(([^)]*)\)", sql).group(1).count(",") + 1  # type: ignore[union-attr]
    return len(parameters) if method == "executemany" else len(parameters) // columns


def _written() -> tuple[int, int]:
    """This process's (write_bytes, wchar) from /proc/self/io."""
    fields = dict(
        line.split(": ") for line in Path("/proc/self/io").read_text().splitlines() if line
    )
    return int(fields["write_bytes"]), int(fields["wchar"])


def replay(
    source: Path, work: Path, calls: list[Call], variant: str, warm: int, checkpoint_every: int
) -> dict[str, Any]:
    """Run the recorded calls on a copy of ``source``; time the SQLite calls after ``warm``
    transactions (they fill the page cache, as a running collector's is).

    ``variant``: ``store`` (as recorded), ``no_query_side`` (without the query-side indexes,
    ``props``, user keys and active_days) or ``rows_alone`` (the events INSERT and the
    transaction statements only, no secondary index on ``events``, no ``props``).
    """
    from trackwire.collector.sqlite import SQLiteStore

    copy_file(source, work)
    dropped = INDEX_VARIANTS.get(variant, QUERY_INDEXES)
    if variant != "store":
        conn = sqlite3.connect(work)
        for name in dropped:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        if variant == "name_time_no_props":
            conn.execute(
                "CREATE INDEX events_by_name_time "
                "ON events (source_id, event_name, client_time_ms, amplitude_id)"
            )
        # As a file that never had them: no freelist of the dropped pages for the inserts to
        # reuse (each reuse rewrites a freelist trunk page too).
        conn.execute("VACUUM")
        conn.close()
    if variant in INDEX_VARIANTS:
        variant = "indexes"  # the store's statements, only the indexes differ
    store = SQLiteStore(work)  # the writer's pragmas and SQL functions, as the collector has
    conn = store._writer
    by_part: dict[str, float] = {}
    transactions = events = since_checkpoint = 0
    timing = False
    written0 = _written()
    try:
        for method, sql, parameters in calls:
            part = category(sql)
            if variant == "no_query_side" and part in (
                "user keys",
                "active_days",
                "event keys (merge)",
            ):
                continue
            if variant == "rows_alone" and part not in ("events insert", "transaction"):
                continue
            if part == "events insert" and sql.lstrip().startswith("INSERT INTO events"):
                if variant in ("no_query_side", "rows_alone"):
                    parameters = (
                        [_null_props(sql, row) for row in parameters]
                        if method == "executemany"
                        else _null_props(sql, parameters)
                    )
                if timing:
                    count = _events_in(sql, method, parameters)
                    events += count
                    since_checkpoint += count
            t0 = time.thread_time()
            if method == "executemany":
                conn.executemany(sql, parameters).fetchall()
            else:
                conn.execute(sql, parameters).fetchall()
            spent = time.thread_time() - t0
            if timing:
                by_part[part] = by_part.get(part, 0.0) + spent
            if sql.lstrip().upper().startswith("COMMIT"):
                transactions += 1
                if not timing and transactions >= warm:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                    os.sync()  # every page dirtied from here on is counted
                    timing, written0 = True, _written()
                elif timing and since_checkpoint >= checkpoint_every:
                    by_part["checkpoint"] = by_part.get("checkpoint", 0.0) + _checkpoint(conn)
                    since_checkpoint = 0
        by_part["checkpoint"] = by_part.get("checkpoint", 0.0) + _checkpoint(conn)
        written1 = _written()
    finally:
        store.close()
    per_event = 1e6 / max(events, 1)
    parts = {part: round(spent * per_event, 2) for part, spent in sorted(by_part.items())}
    return {
        "events": events,
        "transactions": transactions - warm,
        "us_per_event": round(sum(by_part.values()) * per_event, 2),
        "by_part": parts,
        "write_bytes_per_event": round((written1[0] - written0[0]) / max(events, 1)),
        "wchar_per_event": round((written1[1] - written0[1]) / max(events, 1)),
    }


def _checkpoint(conn: sqlite3.Connection) -> float:
    t0 = time.thread_time()
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    return time.thread_time() - t0


# --- 2. the HTTP floor ---------------------------------------------------------------------------


async def trivial_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read the whole body, answer 200 ``{}``: what any ASGI ingest endpoint does at least."""
    if scope["type"] != "http":
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    assert body
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"{}"})


def router_app() -> Any:
    """Starlette's Router with the three vendor paths, each endpoint reading the body."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route, Router

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        assert body
        return Response(b"{}", media_type="application/json")

    paths = ("/v1/batch", "/batch", "/v2/bulkevents")
    return Router(routes=[Route(path, endpoint, methods=["POST"]) for path in paths])


def serve(kind: str) -> None:
    """Run uvicorn as the collector configures it, on a free loopback port; print the URL."""
    import uvicorn

    from trackwire.collector._deadlines import header_deadline_protocol
    from trackwire.collector.server import DEFAULT_HEADER_TIMEOUT

    app = trivial_app if kind == "trivial" else router_app()
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        log_level="warning",
        access_log=False,
        http=header_deadline_protocol(DEFAULT_HEADER_TIMEOUT),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


@contextmanager
def http_floor_server(kind: str) -> Iterator[tuple[str, int]]:
    """A :func:`serve` child process: its URL and PID."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        deadline = time.monotonic() + 30
        while True:  # the socket is bound before the URL is printed; wait for the accept loop
            try:
                socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(10)


def http_floor(kind: str, events: int) -> dict[str, Any]:
    """CPU per event of a :func:`serve` process driven like the benchmark."""
    with http_floor_server(kind) as (url, pid):
        run = scale._drive([url], events, [pid])
    return {
        "us_per_event": round(1e6 / run["per_cpu_s"], 2),
        "by_thread": run["us_per_event_by_thread"],
    }


# --- 3. the parse floor --------------------------------------------------------------------------


def _events_of(vendor: str, envelope: Any) -> list[Any]:
    if vendor == "segment":
        return list(envelope["batch"])
    if vendor == "amplitude":
        return list(envelope["events"])
    return [event for batch in envelope for event in batch["events"]]


def parse_floor(requests: int) -> dict[str, dict[str, float]]:
    """µs of CPU per event for ``orjson.loads`` of each body and one ``dumps`` per event.

    ``gc_off``: the garbage collector disabled while timing (the collector's own settings,
    ``collector/_gc.py``, leave it ~0.2 µs/event); ``gc_default``: Python's default thresholds,
    whose young collections walk each request's thousands of new dicts.
    """
    found: dict[str, dict[str, float]] = {"gc_off": {}, "gc_default": {}}
    for vendor in ("segment", "amplitude", "mparticle"):
        bodies = [scale._request(vendor, n, START_MS + n * 1_000)[1] for n in range(requests)]
        # Untimed first pass: counts the events and brings the allocator's arenas up.
        events = sum(len(_events_of(vendor, orjson.loads(body))) for body in bodies)
        for setting, found_here in found.items():
            if setting == "gc_off":
                gc.disable()
            try:
                t0 = time.thread_time()
                for body in bodies:
                    for event in _events_of(vendor, orjson.loads(body)):
                        orjson.dumps(event)
                found_here[vendor] = round((time.thread_time() - t0) * 1e6 / events, 2)
            finally:
                gc.enable()
    for found_here in found.values():
        found_here["mean"] = round(sum(found_here.values()) / 3, 2)
    return found


# --- the run -------------------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every part, in this order: file, capture, replays, HTTP, parse, main."""
    result: dict[str, Any] = {"load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.db) if args.db else Path(tmp) / "base.db"
        if not base.exists():
            t0 = time.perf_counter()
            build_file(base, args.file_events)
            result["build_s"] = round(time.perf_counter() - t0)
        conn = sqlite3.connect(base)
        stored = conn.execute("SELECT max(id) FROM events").fetchone()[0]
        conn.close()
        result["file"] = {"events": stored, "mb": round(base.stat().st_size / 1e6)}
        first = stored // PER_REQUEST
        calls = capture(base, Path(tmp) / "capture.db", first, args.capture_requests)
        result["captured_calls"] = len(calls)
        for variant in args.variants.split(","):
            result[f"sqlite_{variant}"] = replay(
                base, Path(tmp) / f"{variant}.db", calls, variant, args.warm, args.checkpoint_every
            )
            Path(tmp, f"{variant}.db").unlink()
    if args.sqlite_only:
        result["load_after"] = os.getloadavg()
        return result
    result["http_trivial"] = http_floor("trivial", args.http_events)
    result["http_router"] = http_floor("router", args.http_events)
    result["parse"] = parse_floor(args.parse_requests)
    if args.main_events:
        main_run = scale.measure_scale(args.main_events, postgres=False)["sqlite"]
        result["main"] = {
            "us_per_event": round(1e6 / main_run["per_cpu_s"], 2),
            "per_cpu_s": main_run["per_cpu_s"],
            "by_thread": main_run["us_per_event_by_thread"],
        }
    result["load_after"] = os.getloadavg()
    return result


def table(result: dict[str, Any]) -> list[str]:
    """The Markdown table of a :func:`measure` result."""
    store, lean, rows = (result[f"sqlite_{v}"] for v in ("store", "no_query_side", "rows_alone"))
    pf, pd = result["parse"]["gc_off"], result["parse"]["gc_default"]
    http, parse = result["http_router"]["us_per_event"], result["parse"]["gc_off"]["mean"]
    lines = [
        "| part | µs CPU/event | bytes per event: write() / disk |",
        "|---|---:|---:|",
        f"| SQLite, the store's statements as today | {store['us_per_event']} "
        f"| {store['wchar_per_event']} / {store['write_bytes_per_event']} |",
    ]
    lines += [f"| &nbsp;&nbsp;{part} | {us} | |" for part, us in store["by_part"].items()]
    lines += [
        f"| SQLite, without the query side | {lean['us_per_event']} "
        f"| {lean['wchar_per_event']} / {lean['write_bytes_per_event']} |",
        f"| SQLite, event rows alone | {rows['us_per_event']} "
        f"| {rows['wchar_per_event']} / {rows['write_bytes_per_event']} |",
        f"| HTTP: uvicorn h11 + trivial ASGI app | {result['http_trivial']['us_per_event']} | |",
        f"| HTTP: uvicorn h11 + Starlette Router | {http} | |",
        "| parse: orjson.loads + one dumps per event, GC off (segment / amplitude / mparticle) | "
        f"{pf['segment']} / {pf['amplitude']} / {pf['mparticle']} (mean {parse}) | |",
        f"| &nbsp;&nbsp;same with Python's default GC thresholds | {pd['mean']} | |",
        f"| **sum: SQLite today + HTTP (Router) + parse** | "
        f"**{round(store['us_per_event'] + http + parse, 1)}** | |",
        f"| sum without the query side | {round(lean['us_per_event'] + http + parse, 1)} | |",
        f"| sum, event rows alone | {round(rows['us_per_event'] + http + parse, 1)} | |",
    ]
    if "main" in result:
        main = result["main"]
        lines.append(
            f"| main today (`collector_ingest --scale`) | {main['us_per_event']} "
            f"({main['per_cpu_s']} events/CPU-s; {main['by_thread']}) | |"
        )
    lines.append("| target | 25 | |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a file built by this script (reused; built there if absent)")
    parser.add_argument("--file-events", type=int, default=1_000_000, help="events in the file")
    parser.add_argument("--capture-requests", type=int, default=300, help="requests replayed")
    parser.add_argument("--warm", type=int, default=10, help="transactions replayed untimed")
    parser.add_argument(
        "--variants",
        default="store,no_query_side,rows_alone",
        help="SQLite replays, comma-separated: store, no_query_side, rows_alone, "
        + ", ".join(INDEX_VARIANTS),
    )
    parser.add_argument("--sqlite-only", action="store_true", help="skip HTTP, parse and main")
    parser.add_argument("--checkpoint-every", type=int, default=20_000, help="events")
    parser.add_argument("--http-events", type=int, default=200_000)
    parser.add_argument("--parse-requests", type=int, default=100, help="per vendor")
    parser.add_argument("--main-events", type=int, default=300_000, help="0: skip")
    parser.add_argument("--serve", choices=("trivial", "router"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return
    result = measure(args)
    print(json.dumps(result, indent=1))
    if not args.sqlite_only:
        print("\n".join(table(result)))


if __name__ == "__main__":
    main()
