"""Query latency on a scale-benchmark file: segmentation, a listing page, export pages.

Reads a file built by ``bench/ingest_floor.py`` (the scale benchmark's requests: Segment,
Amplitude and mParticle, 12 event names, 20,000 users, one request a second from 2026-01-01)
through the store's own read methods in this process, and prints the median wall time of each
query over ``--runs`` runs (after one untimed run that warms the page cache). Run it with the
``src/`` of the code to measure first on ``sys.path`` (``PYTHONPATH=BEFORE/src``) to compare
two versions on copies of one file.

``python bench/event_keys_latency.py --db FILE``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import collector_ingest as scale  # noqa: E402  (the scale benchmark's keys and times)

from trackwire.amplitude.query.params import segmentation_params  # noqa: E402
from trackwire.collector.keys import fingerprint  # noqa: E402
from trackwire.collector.query.segmentation import plan  # noqa: E402
from trackwire.collector.sqlite import SQLiteStore  # noqa: E402


def _timed(call: Callable[[], Any], runs: int) -> tuple[float, Any]:
    result = call()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1000, 1), result


def measure(path: str, runs: int, only: str = "") -> dict[str, Any]:
    """Median milliseconds of each query on the file at ``path``."""
    store = SQLiteStore(path)
    # Receipt times are the building collector's clock: the export starts an hour before.
    with store._reading() as conn:
        (start,) = conn.execute(
            "SELECT received_time_ms - 3600000 FROM events ORDER BY id LIMIT 1"
        ).fetchone()
    try:
        # Sources are stored under their keys' fingerprints.
        amplitude_key, segment_key = fingerprint(scale.AMPLITUDE_KEY), fingerprint(scale.WRITE_KEY)
        amplitude = store.project_sources(amplitude_key)
        segment = store.project_sources(segment_key)
        queries: dict[str, Callable[[], Any]] = {
            "segmentation: Amplitude 'Event 3' uniques, hourly": lambda: store.segmentation(
                amplitude,
                plan(
                    segmentation_params(
                        "Event 3", "20260101", "20260101", metric="uniques", interval="hourly"
                    )
                ),
            ),
            "segmentation: Amplitude 'Event 3' totals by sku": lambda: store.segmentation(
                amplitude,
                plan(
                    segmentation_params(
                        {"event_type": "Event 3", "group_by": [{"type": "event", "value": "sku"}]},
                        "20260101",
                        "20260101",
                        metric="totals",
                    )
                ),
            ),
            "segmentation: Segment 'Event 3' totals, daily": lambda: store.segmentation(
                segment,
                plan(segmentation_params("Event 3", "20260101", "20260101", metric="totals")),
            ),
            "listing: newest 50 of a source and type": lambda: store.events(
                source=segment_key, type="track", limit=50
            ),
            "listing: newest 50 of a source and event name": lambda: store.events(
                source=amplitude_key, event_name="Event 3", limit=50
            ),
            "stats()": store.stats,
            "export: first page (5,000 events) of one source": lambda: next(
                iter(store.export_pages(amplitude, start, start + 10 * 86_400_000))
            ),
            "export: 100,000 events of one source": lambda: sum(
                len(rows)
                for _, (_, rows) in zip(
                    range(20),
                    store.export_pages(amplitude, start, start + 10 * 86_400_000),
                    strict=False,
                )
            ),
        }
        result = {}
        for name, call in queries.items():
            if only not in name:
                continue
            result[name], answer = _timed(call, runs)
            assert answer, f"{name}: nothing found, nothing measured"
        return result
    finally:
        store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a file built by bench/ingest_floor.py")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="", help="only the queries whose name holds this")
    args = parser.parse_args(argv)
    result = {"load_before": os.getloadavg(), **measure(args.db, args.runs, args.only)}
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
