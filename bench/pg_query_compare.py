"""The query side on SQLite and PostgreSQL, side by side: one run, the same events in both.

Stores ``--events`` Amplitude events (``--events / 100`` users, 30 days, properties of several
JSON types and a non-ASCII value) in a new SQLite file and a new database of a throwaway
PostgreSQL server (the tests' ``tests/pg_server.py``: needs the server binaries and
``trackwire[postgres]``), then times each store's segmentation kinds (best of 3), a funnel and
the export's row reading (no HTTP, no JSON writing), and prints PostgreSQL's time as a ratio of
SQLite's with the load average: on a shared machine only the ratios mean much.

Run from the checkout: ``python bench/pg_query_compare.py --events 200000``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.pg_server import PostgresServer, find_binaries

from trackwire.amplitude.query.charts import funnel_params
from trackwire.amplitude.query.params import segmentation_params
from trackwire.collector.query import charts
from trackwire.collector.query.segmentation import plan
from trackwire.collector.store import EventRecord, Store
from trackwire.collector.store_factory import open_store

START_MS = 1_767_225_600_000  # 2026-01-01 UTC
DAY_MS = 86_400_000
EVENTS = ("Song Played", "Search", "Purchase", "Login")


def _records(count: int) -> list[EventRecord]:
    rnd = random.Random(1)
    users = max(1, count // 100)
    return [
        EventRecord(
            vendor="amplitude", source="p", type="event", event_name=rnd.choice(EVENTS),
            user_id=f"user-{rnd.randrange(users)}", device_id=None,
            client_time_ms=START_MS + rnd.randrange(30 * DAY_MS), dedup_key=None,
            payload={"event_type": "x", "event_properties": {
                "genre": rnd.choice(["rock", "Pop", "jazz", "Élan"]),
                "price": rnd.choice([1, 2.5, 3.0, True]),
            }},
            user_ops=[("$set", {"plan": rnd.choice(["free", "pro"])})]
            if rnd.random() < 0.01 else [],
        )
        for _ in range(count)
    ]  # fmt: skip


def _filter(op: str, values: list[Any]) -> dict[str, Any]:
    return {"event_type": "_all", "filters": [
        {"subprop_type": "event", "subprop_key": "genre", "subprop_op": op,
         "subprop_value": values}
    ]}  # fmt: skip


QUERIES = {
    "uniques of _active by day": segmentation_params("_active", "20260101", "20260130"),
    "totals grouped by an event property": segmentation_params(
        {"event_type": "Song Played", "group_by": [{"type": "event", "value": "genre"}]},
        "20260101", "20260130", metric="totals",
    ),
    "totals, contains filter (non-ASCII)": segmentation_params(
        _filter("contains", ["é"]), "20260101", "20260130", metric="totals"
    ),
    "uniques with a user-property segment": segmentation_params(
        "Search", "20260101", "20260130",
        segments=[{"prop": "gp:plan", "op": "is", "values": ["pro"]}],
    ),
    "pct_dau": segmentation_params("Search", "20260101", "20260130", metric="pct_dau"),
}  # fmt: skip


def _best(work: Any, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    binaries, missing = find_binaries()
    if binaries is None:
        sys.exit(f"cannot run: {missing}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    records = _records(args.events)
    server = PostgresServer(binaries)
    stores: dict[str, Store] = {}
    try:
        stores["sqlite"] = open_store(str(Path(tempfile.mkdtemp()) / "compare.db"))
        stores["postgres"] = open_store(server.new_database())
        timings: dict[str, dict[str, float]] = {}
        for name, store in stores.items():
            started = time.perf_counter()
            for i in range(0, len(records), 2000):
                store.ingest(records[i : i + 2000], received_time_ms=START_MS + i)
            timings.setdefault("ingest (s)", {})[name] = time.perf_counter() - started
        for label, params in QUERIES.items():
            for name, store in stores.items():
                sources = store.project_sources("p")
                query = plan(params)
                timings.setdefault(label, {})[name] = _best(
                    lambda s=store, q=query, at=sources: s.segmentation(at, q)
                )
        funnel = funnel_params(["Search", "Purchase"], "20260101", "20260130")
        for name, store in stores.items():
            sources = store.project_sources("p")
            timings.setdefault("funnel Search -> Purchase", {})[name] = _best(
                lambda s=store, at=sources: charts.funnel(s, at, funnel)
            )
            timings.setdefault("export rows (all)", {})[name] = _best(
                lambda s=store, at=sources: sum(1 for _ in s.export_rows(at, 0, 2**62)),
                1,
            )
        print(f"{args.events:,} events; seconds, best of 3 (ingest and export: one run)")
        for label, by_store in timings.items():
            sqlite, postgres = by_store["sqlite"], by_store["postgres"]
            print(f"{label:40} sqlite {sqlite:8.3f}  postgres {postgres:8.3f}  "
                  f"ratio {postgres / sqlite:6.2f}")  # fmt: skip
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    finally:
        for store in stores.values():
            store.close()
        server.stop()


if __name__ == "__main__":
    main()
