"""Issue 15: the SQLite store's de-duplication work, in µs of CPU per event, this code and another.

The scale benchmark's requests (``bench/collector_ingest.py --scale``: 400-event requests of
Segment, Amplitude and mParticle in turn, unique ids) are posted to an in-process collector on
a copy of a file built by ``bench/ingest_floor.py`` (``--db``; e.g. 1M or 2M events). The
writer thread's CPU time (``time.thread_time``: its Python and SQLite both, not the GIL waits)
is summed around the store's de-duplication calls:

- ``fresh_indexes``: the request's keys hashed, looked up in memory and in SQLite;
- ``DedupKeys.add``: the new keys appended to ``dedup_recent`` and remembered;
- ``DedupKeys.merge_if_due``: the merges into ``dedup_keys`` (every 100,000 to 400,000 keys).

A merge's pages are written to the WAL at the transaction's COMMIT, outside these calls: the
writer's whole group commits (``SQLiteStore._write_group``, COMMIT included) are summed apart.

The first ``fresh_indexes`` call (which reads the stored keys into memory) is reported apart,
as the load, with the steps that read the filter from ``dedup_keys`` (a few transactions'
worth at first, then none). Each code version runs in its own process (``--before SRC`` adds
a run of that ``src/`` directory), in turns, ``--rounds`` times; the least per version is
reported.

``python bench/dedup_work.py --db FILE [--requests 260] [--before SRC]`` prints a JSON line per
run and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SRC = BENCH.parent / "src"
PER_REQUEST = 400


def run_one(db: Path, requests: int) -> dict[str, Any]:
    """Post ``requests`` after the file's own to a collector on a copy of ``db``; the writer's
    de-duplication CPU time (this process's ``trackwire`` is the version measured)."""
    sys.path.insert(0, str(BENCH))
    import collector_ingest as scale

    from trackwire.collector.server import start_collector
    from trackwire.collector.sqlite import SQLiteStore, dedup
    from trackwire.collector.sqlite import ingest as sqlite_ingest

    totals: dict[str, float] = {"fresh_indexes": 0.0, "add": 0.0, "merge_if_due": 0.0}
    calls = {"fresh_indexes": 0, "merge": 0}
    load: list[float] = []
    steps = [0.0]  # reading the filter from dedup_keys in steps (the load, spread out)

    def timed(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            count_before = args[0]._count if name == "merge_if_due" else None
            steps_before = steps[0]
            start = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent = time.thread_time() - start - (steps[0] - steps_before)
                if name == "fresh_indexes":
                    calls["fresh_indexes"] += 1
                if name == "fresh_indexes" and calls["fresh_indexes"] == 1:
                    load.append(spent)
                else:
                    totals[name] += spent
                if count_before is not None and args[0]._count < count_before:
                    calls["merge"] += 1

        setattr(owner, name, wrapper)

    try:
        from trackwire.collector.sqlite import merged_filter
    except ImportError:
        pass  # code without the filter
    else:
        step = merged_filter.MergedFilter.step

        def timed_step(self: Any, conn: Any) -> None:
            start = time.thread_time()
            try:
                step(self, conn)
            finally:
                steps[0] += time.thread_time() - start

        merged_filter.MergedFilter.step = timed_step  # type: ignore[method-assign]

    writer = [0.0]  # the writer's whole group commits: every statement, COMMIT included
    write_group = SQLiteStore._write_group

    def timed_group(self: Any, group: Any) -> None:
        start = time.thread_time()
        try:
            write_group(self, group)
        finally:
            writer[0] += time.thread_time() - start

    SQLiteStore._write_group = timed_group  # type: ignore[method-assign]
    timed(sqlite_ingest.SQLiteIngestSQL, "fresh_indexes")
    timed(dedup.DedupKeys, "add")
    timed(dedup.DedupKeys, "merge_if_due")

    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "c.db"
        shutil.copyfile(db, path)
        conn = sqlite3.connect(path)
        stored = conn.execute("SELECT max(id) FROM events").fetchone()[0] or 0
        conn.close()
        store = SQLiteStore(path)
        try:
            running = start_collector(store)
            try:
                poster = scale.ScalePoster([running.url], stored // PER_REQUEST, requests)
                poster.start()
                poster.join()
                if poster.failures:
                    raise RuntimeError(poster.failures[0])
            finally:
                running.stop()
            filter_bytes = getattr(store._dedup, "filter_bytes", 0)
        finally:
            store.close()
    events = (requests - 1) * PER_REQUEST  # the first request's call is the load
    per_event = {name: round(spent / events * 1e6, 3) for name, spent in totals.items()}
    return {
        "file_events": stored,
        "events": events,
        "us_per_event": per_event,
        "us_per_event_total": round(sum(totals.values()) / events * 1e6, 3),
        "merges": calls["merge"],
        "writer_us_per_event": round(writer[0] / events * 1e6, 2),
        "load_s": round(load[0] + steps[0], 3) if load else None,
        "filter_bytes": filter_bytes,
    }


def _run(src: Path, db: Path, requests: int) -> dict[str, Any]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]); "
        "import dedup_work; "
        "print(json.dumps(dedup_work.run_one(__import__('pathlib').Path(sys.argv[3]), "
        "int(sys.argv[4]))))"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(src), str(BENCH), str(db), str(requests)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a file built by bench/ingest_floor.py")
    parser.add_argument("--requests", type=int, default=260, help="requests posted per run")
    parser.add_argument("--before", help="another src/ directory to measure in turns")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    versions = {"this": SRC}
    if args.before:
        versions = {"before": Path(args.before), **versions}
    best: dict[str, dict[str, Any]] = {}
    load = os.getloadavg()
    for _ in range(args.rounds):
        for name, src in versions.items():
            result = _run(src, Path(args.db), args.requests)
            print(json.dumps({"version": name, **result}), flush=True)
            if name not in best or result["us_per_event_total"] < best[name]["us_per_event_total"]:
                best[name] = result
    print(f"\nload average {load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end\n")
    print(
        "| code | file events | fresh_indexes | add | merges | total µs/event | writer µs/event "
        "| load s | MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, result in best.items():
        per = result["us_per_event"]
        print(
            f"| {name} | {result['file_events']:,} | {per['fresh_indexes']} | {per['add']} | "
            f"{per['merge_if_due']} ({result['merges']}) | {result['us_per_event_total']} | "
            f"{result.get('writer_us_per_event')} | {result['load_s']} | "
            f"{result['filter_bytes'] / 2**20:.1f} |"
        )


if __name__ == "__main__":
    main()
