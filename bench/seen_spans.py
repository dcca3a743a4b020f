"""Seen spans on SQLite: what a known user's event costs the store when it moves the user's
last-seen time, and what the spans' fold and reads cost (issue 15, fifth round).

A file of 20,000 users and ``--base`` requests of 400 Segment events is built once; each code
tree (``--src``, the first is the "after") then stores ``--requests`` more requests into its
own copy of it, from 4 threads (group commit gathers them), after 50 requests that make every
user known. Every event is later than every stored one, so each moves its user's last seen, as
in ``collector_ingest.py --scale``. Printed per tree: the store's CPU (the whole process,
checkpoints included) and bytes written (``/proc/self/io``) per event. Then, with the first
tree: 50,000 events left pending (no merge), the reads of a user's span with them and after the
fold, and the fold itself.

``python bench/seen_spans.py --src src --src BEFORE/src`` (``BEFORE`` from ``git archive``).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

USERS, PER_REQUEST, T0 = 20_000, 400, 1_767_225_600_000


def request(number: int) -> list[Any]:
    """Request ``number``: 400 Segment track records of random users, times after every
    earlier request's."""
    from trackwire.collector.store import EventRecord

    rnd = random.Random(number)
    records = []
    for i in range(PER_REQUEST):
        user = f"user-{rnd.randrange(USERS)}"
        key = f"m-{number}-{i}"
        props = {"sku": f"sku-{rnd.randrange(97)}", "price": rnd.randrange(100) + 0.99,
                 "gift": rnd.random() < 0.5, "tags": ["summer", "sale"]}  # fmt: skip
        records.append(
            EventRecord(
                vendor="segment", source="bench", type="track", event_name=f"Event {i % 12}",
                user_id=user, device_id=None, client_time_ms=T0 + number * PER_REQUEST + i,
                dedup_key=key, user_ops=(),
                payload={"type": "track", "event": f"Event {i % 12}", "userId": user,
                         "properties": props, "messageId": key},
            )
        )  # fmt: skip
    return records


def written() -> int:
    """Bytes this process has written to storage so far."""
    with open("/proc/self/io") as io:
        return int(next(line for line in io if line.startswith("write_bytes")).split()[1])


def build(path: Path, requests: int) -> None:
    """The base file, written by the tree on ``sys.path``."""
    from trackwire.collector.sqlite import SQLiteStore

    with SQLiteStore(path) as store:
        for number in range(requests):
            store.ingest(request(number), received_time_ms=T0 + number * PER_REQUEST)


def ingest(path: Path, first: int, requests: int) -> dict[str, float]:
    """CPU and bytes written per event of ``requests`` requests from 4 threads."""
    from trackwire.collector.sqlite import SQLiteStore

    batches = [request(first + number) for number in range(requests + 50)]
    store = SQLiteStore(path)
    for batch in batches[:50]:  # every user becomes known, as in a running collector
        store.ingest(batch)
    todo = batches[:49:-1]
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not todo:
                    return
                batch = todo.pop()
            store.ingest(batch)

    cpu, io = time.process_time(), written()
    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    events = requests * PER_REQUEST
    return {
        "us_per_event": round((time.process_time() - cpu) * 1e6 / events, 2),
        "bytes_per_event": round((written() - io) / events),
    }


def pending(path: Path, first: int) -> dict[str, float]:
    """Reads with 50,000 recent keys pending, the fold, and the same reads after it."""
    from trackwire.amplitude.query.params import segmentation_params
    from trackwire.collector.query.segmentation import plan
    from trackwire.collector.sqlite import SQLiteStore, user_index

    store = SQLiteStore(path)
    store._user_events = user_index.UserEvents(merge_at=10**9)  # nothing is folded
    for number in range(first, first + 125):
        store.ingest(request(number))
    project = store.project_sources("bench")
    query = plan(segmentation_params({"event_type": "Event 3"}, "20260101", "20260102"))
    reads = {
        "user": lambda: store.user("segment", "bench", user_id="user-17"),
        "search_exact": lambda: store.search_users(project, "user-17"),
        "search_prefix_1000": lambda: store.search_users(project, "user-1"),
        "hits_first_seen": lambda: store.event_hits(project, query, first_seen=True),
    }
    out: dict[str, float] = {}

    def timed(label: str) -> None:
        for name, read in reads.items():
            runs = []
            for _ in range(5):
                start = time.perf_counter()
                read()
                runs.append(time.perf_counter() - start)
            out[f"{name}_ms_{label}"] = round(sorted(runs)[2] * 1e3, 1)

    timed("pending")
    conn = store._writer
    keys = conn.execute("SELECT count(*) FROM user_events_recent").fetchone()[0]
    cpu, io = time.process_time(), written()
    conn.execute("BEGIN IMMEDIATE")
    out["fold_rows"] = conn.execute(user_index.FOLD_SPANS).rowcount
    conn.execute("DELETE FROM user_events_recent")  # as the merge does after the fold
    conn.execute("COMMIT")
    out["fold_us_per_key"] = round((time.process_time() - cpu) * 1e6 / keys, 2)
    out["fold_bytes_per_key"] = round((written() - io) / keys)
    timed("folded")
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", default=[], help="a tree's src folder")
    parser.add_argument("--base", type=int, default=500, help="requests in the base file")
    parser.add_argument("--requests", type=int, default=500, help="requests measured")
    parser.add_argument("--rounds", type=int, default=2, help="runs of every tree, alternated")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one measurement in a fresh process, on the tree given
        src, kind, path, first = args.child
        sys.path.insert(0, src)
        work = {"build": lambda: build(Path(path), int(first)),
                "ingest": lambda: ingest(Path(path), int(first), args.requests),
                "pending": lambda: pending(Path(path), int(first))}  # fmt: skip
        print(json.dumps(work[kind]()))
        return
    if not args.src:
        parser.error("--src: give at least one tree's src folder")

    def child(src: str, kind: str, path: Path, first: int) -> Any:
        command = [sys.executable, __file__, "--requests", str(args.requests), "--child"]
        done = subprocess.run(
            [*command, src, kind, str(path), str(first)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return json.loads(done.stdout or "null")

    with tempfile.TemporaryDirectory() as tmp:
        base, copy = Path(tmp) / "base.db", Path(tmp) / "copy.db"
        child(args.src[-1], "build", base, args.base)  # the oldest tree writes the base file
        for _ in range(args.rounds):
            for src in args.src:
                shutil.copy(base, copy)
                print(src, child(src, "ingest", copy, args.base), flush=True)
        shutil.copy(base, copy)
        print(args.src[0], child(args.src[0], "pending", copy, args.base), flush=True)


if __name__ == "__main__":
    main()
