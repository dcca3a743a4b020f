"""One benchmark measurement: N Segment ``track`` calls from one thread, then a flush.

Run by ``bench/run.py`` as a fresh process per measurement (so peak RSS and CPU time belong
to this SDK and this scenario only), against a sink running in another process::

    python bench/segment_track.py --sdk trackwire --url http://127.0.0.1:PORT --calls 100000

Every call is timed with ``time.perf_counter_ns``; the cost of the timer itself is measured
in the same process with the same loop minus the call, and subtracted. Timestamps that the
runner compares with the sink's are ``time.monotonic_ns()``, one clock for all processes.
The result is one JSON object on standard output.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import resource
import sys
import time
from array import array
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

WRITE_KEY = "bench0123456789abcdef0123456789ab"
EVENT = "Order Completed"
POOL = 1_000
_BASE_TIME = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


def make_properties(i: int) -> dict[str, Any]:
    """Six properties of mixed types: str, int, float, bool, list, nested dict with a datetime."""
    return {
        "order_id": f"order-{i:06d}",
        "quantity": 1 + i % 7,
        "revenue": round(9.99 + (i % 50) * 1.25, 2),
        "gift": i % 3 == 0,
        "tags": ["summer", "sale", f"batch-{i % 10}"],
        "shipping": {
            "method": "ground",
            "days": 2 + i % 4,
            "eta": _BASE_TIME + timedelta(hours=i % 48),
        },
    }


def make_client(
    sdk: str, url: str, max_queue_size: int | None, gzip: str, hold: bool = False
) -> Any:
    """The SDK's client with its defaults, except for the options a scenario sets.

    ``hold`` (trackwire only): nothing is sent until the calls end, so they are measured
    without the worker thread sharing the GIL (the caller's own cost).
    """
    options: dict[str, Any] = {}
    if hold:
        if sdk != "trackwire":
            raise SystemExit("--hold applies to trackwire only")
        options.update(flush_at=10**9, flush_interval=3600.0, send_first_immediately=False)
    if max_queue_size is not None:
        options["max_queue_size"] = max_queue_size
    if sdk == "trackwire":
        import trackwire

        if gzip == "off":
            options["gzip"] = False
        elif gzip != "default":
            # A level turns gzip on (whatever the default is).
            options["gzip"] = True
            options["gzip_level"] = int(gzip)
        return trackwire.Segment(WRITE_KEY, host=url, **options)
    from segment.analytics import Client

    if gzip != "default":
        raise SystemExit("--gzip applies to trackwire only")
    return Client(WRITE_KEY, host=url, **options)


def timer_overhead_ns(calls: int) -> int:
    """Median ns between two back-to-back ``perf_counter_ns`` reads, in the timing loop's shape."""
    pc = time.perf_counter_ns
    samples = array("q", bytes(8 * calls))
    users = [f"user-{i}" for i in range(POOL)]
    for i in range(calls):
        user = users[i % POOL]  # noqa: F841 - same work as the real loop, outside the timer
        t0 = pc()
        samples[i] = pc() - t0
    return sorted(samples)[calls // 2]


def run_calls(
    track: Callable[..., Any],
    calls: int,
    samples: array[int],
    count_rejected: bool,
) -> int:
    """Make ``calls`` track calls, timing each into ``samples``; return how many were refused."""
    pc = time.perf_counter_ns
    users = [f"user-{i}" for i in range(POOL)]
    props = [make_properties(i) for i in range(POOL)]
    rejected = 0
    for i in range(calls):
        user = users[i % POOL]
        properties = props[i % POOL]
        t0 = pc()
        result = track(user_id=user, event=EVENT, properties=properties)
        samples[i] = pc() - t0
        # segment-analytics-python answers (success, message); trackwire's refusals are
        # read from stats() afterwards, so its loop does no extra work per call.
        if count_rejected and not result[0]:
            rejected += 1
    return rejected


class CollectionCounter:
    """Counts the garbage collector's collections per generation while installed (a
    ``gc.callbacks`` entry: observing only, the collector's settings are untouched)."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.collected_objects = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            self.collections[info["generation"]] += 1
            self.collected_objects += info["collected"]

    def __enter__(self) -> CollectionCounter:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)


def peak_rss_kib() -> int:
    """This process's peak resident set size so far, in KiB (macOS reports bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summarize(samples: array[int], overhead: int) -> dict[str, float]:
    """Mean, p50, p99 and max per call in µs, with the timer's own cost taken out."""
    ordered = sorted(samples)
    n = len(ordered)

    def at(q: float) -> float:
        return max(0, ordered[min(n - 1, int(q * n))] - overhead) / 1000

    return {
        "mean_us": max(0.0, sum(ordered) / n - overhead) / 1000,
        "p50_us": at(0.50),
        "p99_us": at(0.99),
        "max_us": at(1.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdk", choices=("trackwire", "official"), required=True)
    parser.add_argument("--url", required=True, help="the sink's base URL")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--max-queue-size", type=int, default=None, help="default: the SDK's")
    parser.add_argument("--gzip", default="default", choices=("default", "off", "1", "6", "9"))
    parser.add_argument("--profile", action="store_true", help="cProfile the call loop")
    parser.add_argument(
        "--hold",
        action="store_true",
        help="trackwire: send nothing until the calls end (the caller alone, no worker)",
    )
    args = parser.parse_args()

    overhead = timer_overhead_ns(args.calls)
    client = make_client(args.sdk, args.url, args.max_queue_size, args.gzip, args.hold)
    samples = array("q", bytes(8 * args.calls))
    rss_before = peak_rss_kib()
    profiler = cProfile.Profile() if args.profile else None

    cpu_start = cpu_seconds()
    t_first = time.monotonic_ns()
    if profiler is not None:
        profiler.enable()
    with CollectionCounter() as gc_counter:
        rejected = run_calls(
            client.track, args.calls, samples, count_rejected=args.sdk == "official"
        )
    if profiler is not None:
        profiler.disable()
    t_calls_done = time.monotonic_ns()
    cpu_calls = cpu_seconds() - cpu_start
    # How much the background thread got done while the calls ran: what it left is the
    # tail of "time until delivered".
    waiting = client.stats()["queued"] if args.sdk == "trackwire" else client.queue.qsize()
    flushed = client.flush()
    t_flushed = time.monotonic_ns()
    cpu_window = cpu_seconds() - cpu_start

    stats: dict[str, Any] = {}
    if args.sdk == "trackwire":
        stats = client.stats()
        rejected = sum(stats["dropped"].values())
    client.shutdown()

    result: dict[str, Any] = {
        "sdk": args.sdk,
        "calls": args.calls,
        "rejected": rejected,
        "timer_overhead_ns": overhead,
        "per_call": summarize(samples, overhead),
        "t_first_ns": t_first,
        "t_calls_done_ns": t_calls_done,
        "t_flushed_ns": t_flushed,
        "flush_ok": flushed is not False,
        "cpu_window_s": cpu_window,
        "cpu_calls_s": cpu_calls,
        "queued_at_calls_end": waiting,
        # Collections by generation (0, 1, 2) during the calls, in every thread.
        "gc_collections": gc_counter.collections,
        "rss_before_run_kib": rss_before,
        "stats": stats,
    }
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(25)
        result["profile"] = out.getvalue()
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
