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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
MESSAGES_PER_BATCH = 1_200
WRITE_KEY = "bench-write-key"


def make_bodies(batches: int, messages: int = MESSAGES_PER_BATCH) -> list[bytes]:
    """Segment batch bodies shaped like trackwire's, each message with 6 properties."""
    bodies = []
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
                "timestamp": "2026-11-22T20:48:06.393Z",
                "messageId": f"bench-{b:05d}-{i:05d}-0000-000000000000",
            }
            for i in range(messages)
        ]
        bodies.append(
            orjson.dumps(
                {"batch": batch, "sentAt": "2026-11-22T20:48:07.000Z", "writeKey": WRITE_KEY}
            )
        )
    return bodies


def run_mode(mode: str, bodies: list[bytes]) -> dict[str, Any]:
    """Start a collector in ``mode``, post every body, return rate and latencies."""
    import urllib3

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
            pool = urllib3.PoolManager(maxsize=1)
            token = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
            headers = {"Content-Type": "application/json", "Authorization": f"Basic {token}"}
            pool.request("GET", f"{url}/health")  # connect before the clock starts
            latencies = []
            started = time.perf_counter()
            for body in bodies:
                t0 = time.perf_counter()
                response = pool.request("POST", f"{url}/v1/batch", body=body, headers=headers)
                latencies.append(time.perf_counter() - t0)
                if response.status != 200:
                    raise RuntimeError(f"{mode}: HTTP {response.status}: {response.data[:200]!r}")
            elapsed = time.perf_counter() - started
            stored = None
            if mode == "sqlite":
                stats = orjson.loads(pool.request("GET", f"{url}/stats").data)
                stored = stats.get("store", stats).get("total")
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(30)
    events = len(bodies) * MESSAGES_PER_BATCH
    latencies.sort()
    return {
        "mode": mode,
        "requests": len(bodies),
        "events": events,
        "body_bytes_mean": int(statistics.mean(len(b) for b in bodies)),
        "seconds": round(elapsed, 3),
        "events_per_s": round(events / elapsed),
        "latency_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "latency_p99_ms": round(
            latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1
        ),
        "stored": stored,
    }


def measure(batches: int = 60, repeat: int = 3) -> dict[str, Any]:
    """Both modes, ``repeat`` times each, alternating; the median run of each is reported."""
    bodies = make_bodies(batches)
    runs: dict[str, list[dict[str, Any]]] = {"sink": [], "sqlite": []}
    for _ in range(repeat):
        for mode in ("sink", "sqlite"):
            runs[mode].append(run_mode(mode, bodies))
    best = {
        mode: sorted(rows, key=lambda row: row["events_per_s"])[len(rows) // 2]
        for mode, rows in runs.items()
    }
    return {"median": best, "runs": runs}


def section(result: dict[str, Any]) -> list[str]:
    """The RESULTS.md section for the collector."""
    sink, sqlite = result["median"]["sink"], result["median"]["sqlite"]
    ok = sqlite["stored"] == sqlite["events"]
    return [
        "## Collector ingest (issue #3)",
        "",
        f"A tight client posts {sink['requests']} Segment batches of {MESSAGES_PER_BATCH:,} "
        f"messages (~{sink['body_bytes_mean'] // 1000} KB each, uncompressed) one after the "
        "other over one keep-alive connection to a collector in its own process "
        '(`bench/collector_ingest.py`). "Parse ceiling" is the same application with a store '
        "that keeps nothing. Median of the runs.",
        "",
        "| | parse ceiling (no store) | SQLite store | SQLite vs ceiling |",
        "|---|---:|---:|---|",
        f"| events stored/s | {sink['events_per_s']:,} | {sqlite['events_per_s']:,} | "
        f"{sqlite['events_per_s'] / sink['events_per_s']:.0%} |",
        f"| request latency p50 (ms) | {sink['latency_p50_ms']} | {sqlite['latency_p50_ms']} | |",
        f"| request latency p99 (ms) | {sink['latency_p99_ms']} | {sqlite['latency_p99_ms']} | |",
        f"| events counted by `/stats` | — | {sqlite['stored']:,} of {sqlite['events']:,} | "
        f"{'all stored' if ok else 'MISSING EVENTS'} |",
        "",
        f"Target: ≥ 50,000 events/s stored into SQLite — "
        f"**{'met' if sqlite['events_per_s'] >= 50_000 else 'missed'}** "
        f"({sqlite['events_per_s']:,}/s).",
        "",
    ]


if __name__ == "__main__":
    outcome = measure()
    print("\n".join(section(outcome)))
