"""Collector ingest benchmark: ~500 KB Segment batches over keep-alive, as fast as they go.

A tight client (one thread, urllib3, one keep-alive connection) posts pre-encoded
``/v1/batch`` bodies of about 500 KB (1,200 messages each, unique message ids) to a collector
running in its own process, one request after the other. Measured for the real SQLite store
and for the same application with a store that keeps nothing (the parse ceiling): events
stored per second, and request latency (p50, p99). The SQLite run is checked: the collector's
``/stats`` must count every event sent.

Run on its own with ``python bench/collector_ingest.py``; ``bench/run.py`` includes it.
"""

from __future__ import annotations

import base64
import datetime as dt
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


if __name__ == "__main__":
    outcome = measure()
    print("\n".join(section(outcome)))
