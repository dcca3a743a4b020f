"""Caller cost of one FanOut call against the calls it replaces, in one run.

For N ``track`` calls from one thread, each to Segment and Amplitude (both sending in the
background to ``bench/sink_server.py``, a sink in its own process):

* ``fanout``: ``trackwire.FanOut(segment=..., amplitude=...).track(...)``;
* ``direct``: trackwire's ``Segment.track`` and ``Amplitude.track`` called one after the other
  with the payloads FanOut would build (so the difference is FanOut's own cost);
* ``official``: segment-analytics-python's ``track`` and amplitude-analytics' ``track`` (the two
  official SDKs doing the same two sends).

mParticle is left out: its official Python SDK sends synchronously in the caller's thread, so
there is no like-for-like caller cost. Variants take turns ``--repeat`` times; the report is the
median microseconds per call and the ratios, with the load average (the machine is shared).
Nothing here is a test. Run: ``.venv/bin/python bench/fanout_bench.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))

import trackwire  # noqa: E402 - after the path tweak, so the checkout is measured


def _sink() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, str(BENCH / "sink_server.py")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())["url"]


def _time_calls(call: Callable[[int], object], n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        call(i)
    return (time.perf_counter() - started) / n * 1e6


def fanout(url: str, n: int) -> float:
    out = trackwire.FanOut(
        segment=trackwire.Segment("bench", host=url, max_queue_size=4 * n),
        amplitude=trackwire.Amplitude(
            "bench-key", server_url=f"{url}/2/httpapi", max_queue_size=4 * n
        ),
    )
    cost = _time_calls(lambda i: out.track("user-123", "Played", {"i": i}), n)
    out.shutdown(timeout=60)
    return cost


def direct(url: str, n: int) -> float:
    segment = trackwire.Segment("bench", host=url, max_queue_size=4 * n)
    amplitude = trackwire.Amplitude("bench-key", server_url=f"{url}/2/httpapi",
                                    max_queue_size=4 * n)  # fmt: skip

    def call(i: int) -> None:
        segment.track("user-123", "Played", {"i": i})
        amplitude.track({"event_type": "Played", "user_id": "user-123",
                         "event_properties": {"i": i}})  # fmt: skip

    cost = _time_calls(call, n)
    segment.shutdown(timeout=60)
    amplitude.shutdown(timeout=60)
    return cost


def official(url: str, n: int) -> float:
    from segment.analytics import Client

    from amplitude import Amplitude, BaseEvent, Config

    segment = Client("bench", host=url, max_queue_size=4 * n)
    amplitude = Amplitude("bench-key", Config(server_url=f"{url}/2/httpapi"))

    def call(i: int) -> None:
        segment.track("user-123", "Played", {"i": i})
        amplitude.track(BaseEvent("Played", user_id="user-123", event_properties={"i": i}))

    cost = _time_calls(call, n)
    segment.shutdown()
    amplitude.shutdown()
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="calls per measurement")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sink, url = _sink()
    variants = {"fanout": fanout, "direct": direct, "official": official}
    results: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for _ in range(args.repeat):
            for name, run in variants.items():
                results[name].append(run(url, args.n))
    finally:
        assert sink.stdin is not None
        sink.stdin.write("quit\n")
        sink.stdin.close()
        sink.wait(10)
    median = {name: statistics.median(values) for name, values in results.items()}
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average before the report: {load}; {args.n} calls x {args.repeat} runs")
    for name, value in median.items():
        print(f"{name:9s} {value:8.1f} us per call (runs: "
              + ", ".join(f"{v:.1f}" for v in results[name]) + ")")  # fmt: skip
    print(f"fanout / direct   = {median['fanout'] / median['direct']:.2f}")
    print(f"official / fanout = {median['official'] / median['fanout']:.2f}")


if __name__ == "__main__":
    main()
