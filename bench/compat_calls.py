"""Caller cost of the compat modules against the official SDKs they replace, in one run.

For each vendor the same code runs twice in this process, once with the official import and
once with ``trackwire.compat``, against one collector in a child process
(``spawn_collector``); the report is the time per call in the caller's thread and the ratio
compat/official, with the machine's load average beside them. Nothing here is a test.

    .venv/bin/python bench/compat_calls.py [--calls 5000] [--repeat 3]

* Segment: ``analytics.track(user_id, event, properties)`` then ``flush()``.
* Amplitude: ``client.track(BaseEvent(...))`` then ``flush()``.
* mParticle: ``upload_events(batch)`` (each call waits for its answer), calls / 10.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from trackwire.collector.server import spawn_collector

Run = Callable[[str, int], tuple[float, float]]  # (url, calls) -> (seconds in calls, in flush)


def segment(module: str) -> Run:
    def run(url: str, calls: int) -> tuple[float, float]:
        client = importlib.import_module(module).Client("bench-key", host=url, max_queue_size=calls)
        started = time.perf_counter()
        for n in range(calls):
            client.track("user-1", "Bench Event", {"n": n, "plan": "pro"})
        called = time.perf_counter()
        client.flush()
        flushed = time.perf_counter()
        client.shutdown()
        return called - started, flushed - called

    return run


def amplitude(module: str) -> Run:
    def run(url: str, calls: int) -> tuple[float, float]:
        lib = importlib.import_module(module)
        config = lib.Config(server_url=url + "/2/httpapi")
        client = lib.Amplitude("bench-key", config)
        started = time.perf_counter()
        for n in range(calls):
            client.track(lib.BaseEvent("Bench Event", user_id="user-12345",
                                       event_properties={"n": n, "plan": "pro"}))  # fmt: skip
        called = time.perf_counter()
        for future in client.flush():
            future.result()
        flushed = time.perf_counter()
        client.shutdown()
        return called - started, flushed - called

    return run


def mparticle(module: str) -> Run:
    def run(url: str, calls: int) -> tuple[float, float]:
        lib = importlib.import_module(module)
        config = lib.Configuration()
        config.api_key, config.api_secret, config.host = "bench-key", "bench-secret", url + "/v2"
        api = lib.EventsApi(config)
        started = time.perf_counter()
        for n in range(max(1, calls // 10)):
            batch = lib.Batch()
            batch.environment = "development"
            batch.user_identities = lib.UserIdentities(customerid=f"user-{n}")
            batch.events = [lib.AppEvent(event_name="Bench Event", custom_event_type="other")]
            api.upload_events(batch)
        called = time.perf_counter()
        return called - started, 0.0

    return run


PAIRS: dict[str, tuple[Run, Run]] = {
    "segment track": (segment("segment.analytics.client"), segment("trackwire.compat.segment")),
    "amplitude track": (amplitude("amplitude"), amplitude("trackwire.compat.amplitude")),
    "mparticle upload_events (sync)": (
        mparticle("mparticle"),
        mparticle("trackwire.compat.mparticle"),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        spawn_collector(Path(folder) / "bench.db") as collector,
    ):
        print(f"load average before: {os.getloadavg()[0]:.2f} (1 min)")
        print(f"{'calls':<32} {'official us/call':>17} {'compat us/call':>15} {'ratio':>6}")
        for name, (official, compat) in PAIRS.items():
            calls = args.calls // 10 if "mparticle" in name else args.calls
            times: dict[str, list[float]] = {"official": [], "compat": []}
            for _ in range(args.repeat):  # the two take turns, so noise hits both
                for label, run in (("official", official), ("compat", compat)):
                    times[label].append(run(collector.url, args.calls)[0] / calls * 1e6)
            mine, theirs = (
                statistics.median(times["compat"]),
                statistics.median(times["official"]),
            )
            print(f"{name:<32} {theirs:>17.1f} {mine:>15.1f} {mine / theirs:>6.2f}")
        print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
