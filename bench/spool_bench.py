"""What the durable spool costs the caller: ``track`` with ``spool=`` against the memory queue.

Each measurement is a fresh process (this script with ``--child``) making ``--calls`` Segment
``track`` calls (the same six mixed properties as ``bench/segment_track.py``), each timed with
``time.perf_counter_ns`` (the timer's own cost subtracted), against the benchmark's sink in a
process of its own (``bench/sink_server.py``). Modes: the in-memory queue, and the spool with
``spool_fsync`` ``"never"``, ``"interval"`` (the default) and ``"always"``. Every mode runs
``--repeat`` times, taking turns; the report shows the median of the runs and replaces the
``## Spool`` section at the end of ``bench/RESULTS.md``. The goal: the spool costs the caller at
most 3× the in-memory queue. Nothing here is a test.

    .venv/bin/python bench/spool_bench.py [--calls 50000] [--repeat 3] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "RESULTS.md"
MODES = ("memory", "never", "interval", "always", "idle")
GOAL = 3.0
#: fdatasync per call is the device's latency: fewer calls keep the run short.
ALWAYS_CALLS = 5_000


def child(mode: str, url: str, calls: int) -> dict[str, Any]:
    """One measurement in this process: per-call cost of ``calls`` track calls."""
    sys.path.insert(0, str(BENCH))
    import segment_track  # the same payloads, timer and summary as the main benchmark

    import trackwire

    options: dict[str, Any] = {"max_queue_size": calls + 1, "handle_sigterm": False}
    spool_dir = None
    if mode != "memory":
        spool_dir = tempfile.mkdtemp(prefix="tw-spool-bench-")
        options.update(spool=spool_dir, spool_fsync="interval" if mode == "idle" else mode)
    if mode == "idle":  # the worker sends nothing until flush(): no thread competes
        options.update(flush_at=calls + 1, flush_interval=3600, send_first_immediately=False)
    client = trackwire.Segment("bench-key", host=url, **options)
    overhead = segment_track.timer_overhead_ns(calls)
    samples = array("q", bytes(8 * calls))
    # CPU time of the calling thread: what the calls cost it, whatever else the machine runs
    # (wall-clock times on a shared machine include every preemption).
    cpu_start = time.thread_time_ns()
    segment_track.run_calls(client.track, calls, samples, False)
    cpu_ns = time.thread_time_ns() - cpu_start
    summary = segment_track.summarize(samples, overhead)
    summary["cpu_us"] = cpu_ns / calls / 1000
    delivered = client.flush(timeout=120)
    stats = client.stats()
    client.shutdown(timeout=10)
    summary.update(mode=mode, delivered_all=delivered, dropped=sum(stats["dropped"].values()))
    return summary


def _sink() -> tuple[subprocess.Popen[str], str]:
    sink = subprocess.Popen(
        [sys.executable, str(BENCH / "sink_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    return sink, json.loads(sink.stdout.readline())["url"]


def measure(calls: int, repeat: int) -> dict[str, list[dict[str, Any]]]:
    sink, url = _sink()
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    try:
        for _ in range(repeat):
            for mode in MODES:
                n = min(calls, ALWAYS_CALLS) if mode == "always" else calls
                output = subprocess.run(
                    [sys.executable, __file__, "--child", mode, url, str(n)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "PYTHONPATH": str(REPO / "src")},
                )
                runs[mode].append(json.loads(output.stdout.splitlines()[-1]))
                print(mode, runs[mode][-1], file=sys.stderr)
    finally:
        assert sink.stdin is not None
        sink.stdin.write("quit\n")
        sink.stdin.close()
        sink.wait(10)
    return runs


def report(runs: dict[str, list[dict[str, Any]]], calls: int, repeat: int) -> str:
    def median(mode: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[mode])

    memory = median("memory", "cpu_us")
    lines = [
        "## Spool",
        "",
        f"Caller cost of `track` with the durable spool (`spool=`) against the in-memory queue: "
        f"{calls:,} calls per process, a fresh process per measurement, {repeat} runs per mode "
        f"taking turns, median of the runs (`bench/spool_bench.py`; {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, shared machine). Each "
        "spooled call frames the message (length + CRC32) and appends it with one `os.writev`; "
        f'`"always"` makes {min(calls, ALWAYS_CALLS):,} calls (one `fdatasync` each).',
        "",
        "| queue | caller CPU µs/call | × memory | p50 µs | p99 µs | mean µs | all delivered |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    names = {
        "memory": "in memory",
        "never": 'spool, `spool_fsync="never"`',
        "interval": 'spool, `spool_fsync="interval"` (default)',
        "always": 'spool, `spool_fsync="always"`',
        "idle": "spool (default), worker idle during the calls",
    }
    for mode in MODES:
        cpu = median(mode, "cpu_us")
        delivered = all(run["delivered_all"] and not run["dropped"] for run in runs[mode])
        lines.append(
            f"| {names[mode]} | {cpu:.1f} | {cpu / memory:.2f}× | {median(mode, 'p50_us'):.1f} | "
            f"{median(mode, 'p99_us'):.1f} | {median(mode, 'mean_us'):.1f} | "
            f"{'yes' if delivered else 'NO'} |"
        )
    default = median("interval", "cpu_us") / memory
    verdict = "met" if default <= GOAL else "**missed**"
    lines += [
        "",
        f"Goal: the default spool costs the caller at most {GOAL:.0f}× the in-memory queue — "
        f"{verdict} ({default:.2f}×, by the CPU time of the calling thread per call; the "
        "wall-clock columns also hold every preemption by the other processes of a shared "
        'machine). `"always"` waits for an `fdatasync` per call (the device\'s write latency, '
        "not CPU) and is for data that must survive power loss with no window at all.",
        "",
        f"**Finding.** The median spooled call pays "
        f"{median('interval', 'p50_us') - median('memory', 'p50_us'):.0f} µs more (framing, "
        f"one `writev`). Its p99 is {median('interval', 'p99_us'):.0f} µs against "
        f"{median('memory', 'p99_us'):.0f} µs in memory: the write system call releases the "
        "GIL, and while the worker thread is busy sending, the caller then waits for its turn "
        f"(up to the 5 ms switch interval). With the worker idle the p99 is "
        f"{median('idle', 'p99_us'):.0f} µs.",
        "",
    ]
    return "\n".join(lines)


def write(section: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else ""
    start = text.find("## Spool\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + (text[end + 1 :] if end >= 0 else "")
    RESULTS.write_text(text.rstrip("\n") + "\n\n" + section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    parser.add_argument(
        "--child", nargs=3, metavar=("MODE", "URL", "CALLS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        mode, url, calls = args.child
        print(json.dumps(child(mode, url, int(calls))))
        return
    runs = measure(args.calls, args.repeat)
    section = report(runs, args.calls, args.repeat)
    print(section)
    if not args.no_write:
        write(section)


if __name__ == "__main__":
    main()
