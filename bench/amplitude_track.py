"""Benchmark: ``trackwire.Amplitude`` against the official ``amplitude-analytics``, one run.

The workload is the Segment benchmark's (``bench/segment_track.py``): 100,000 ``track`` calls
from one thread, each an event of one of 1,000 users with six properties of mixed types, then
a flush, against a sink in another process. Only the date inside the nested property is sent
as an ISO-8601 string, because ``amplitude-analytics`` silently drops property objects that
hold a ``datetime`` (trackwire would encode it). Each SDK builds its event inside the timed
call: ``BaseEvent(...)`` for the official SDK (its only form), a dict for trackwire (the seed's
form), and ``BaseEvent`` for trackwire too, as a second row.

Run from the repository root::

    python bench/amplitude_track.py              # creates bench/.venv-amp on first use

It prints the markdown table of bench/RESULTS.md's "Amplitude" section. Internally the same
file is the sink (``amplitude_track.py sink``: the Segment benchmark's sink, answering and
counting as Amplitude's HTTP V2 API does) and the measured process
(``amplitude_track.py worker --sdk trackwire|trackwire-event|official --url URL``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV = BENCH / ".venv-amp"
OFFICIAL = "amplitude-analytics"
OFFICIAL_VERSION = "1.3.0"
API_KEY = "bench0123456789abcdef0123456789ab"
EVENT = "Order Completed"
POOL = 1_000
SDK_LABELS = {
    "trackwire": "trackwire (dict)",
    "trackwire-before": "trackwire before (dict)",
    "trackwire-event": "trackwire (BaseEvent)",
    "official": OFFICIAL,
}

sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))


# --------------------------------------------------------------------------- the sink


def run_sink() -> None:
    """The Segment benchmark's sink, counting ``events`` and answering Amplitude's 200 body."""
    import gzip

    import orjson
    from sink_server import CountingSink
    from tests.sink import Action

    ok = orjson.dumps({"code": 200, "events_ingested": 0, "payload_size_bytes": 0,
                       "server_upload_time": 0})  # fmt: skip

    class AmplitudeSink(CountingSink):
        def _record(self, handler: Any, raw: bytes, status: int | None) -> None:
            body = (
                gzip.decompress(raw) if handler.headers.get("Content-Encoding") == "gzip" else raw
            )
            decoded = orjson.loads(body) if body else None
            count = len(decoded.get("events", ())) if isinstance(decoded, dict) else 0
            now = time.monotonic_ns()
            with self.cond:
                if status is not None and 200 <= status < 300:
                    self.event_count += count
                self.request_count += 1
                self.body_bytes += len(raw)
                self.last_event_ns = max(self.last_event_ns, now)
                self.cond.notify_all()

    with AmplitudeSink() as sink:
        sink.default = Action(body=ok)
        _reply({"url": sink.url})
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == "quit":
                break
            if words[0] == "wait":
                expected = int(words[1])
                sink.wait_until(lambda n=expected: sink.event_count >= n, float(words[2]))
            _reply(sink.counters())


def _reply(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- the measured process


def make_properties(i: int) -> dict[str, Any]:
    """The Segment benchmark's six properties, the nested date as an ISO-8601 string."""
    from segment_track import make_properties as segment_properties

    properties = segment_properties(i)
    properties["shipping"]["eta"] = properties["shipping"]["eta"].isoformat()
    return properties


def make_track(
    sdk: str, url: str, max_queue_size: int | None = None
) -> tuple[Any, Callable[[str, dict[str, Any]], Any]]:
    """The client with its defaults (``max_queue_size`` aside), and a function making one
    track call."""
    if sdk.startswith("trackwire"):
        import trackwire
        from trackwire.amplitude import BaseEvent as TwEvent

        queue = {} if max_queue_size is None else {"max_queue_size": max_queue_size}
        client = trackwire.Amplitude(API_KEY, server_url=url + "/2/httpapi", **queue)
        track = client.track
        if sdk == "trackwire":
            return client, lambda user, props: track(
                {"event_type": EVENT, "user_id": user, "event_properties": props}
            )
        return client, lambda user, props: track(
            TwEvent(EVENT, user_id=user, event_properties=props)
        )
    from amplitude import Amplitude, BaseEvent, Config

    official = Amplitude(API_KEY, Config(server_url=url + "/2/httpapi"))
    official_track = official.track
    return official, lambda user, props: official_track(
        BaseEvent(event_type=EVENT, user_id=user, event_properties=props)
    )


def run_worker(sdk: str, url: str, calls: int, max_queue_size: int | None = None) -> None:
    from segment_track import cpu_seconds, peak_rss_kib, summarize, timer_overhead_ns

    overhead = timer_overhead_ns(calls)
    client, track = make_track(sdk, url, max_queue_size)
    users = [f"user-{i}" for i in range(POOL)]
    props = [make_properties(i) for i in range(POOL)]
    samples = array("q", bytes(8 * calls))
    rss_before = peak_rss_kib()
    pc = time.perf_counter_ns
    cpu_start = cpu_seconds()
    t_first = time.monotonic_ns()
    for i in range(calls):
        user = users[i % POOL]
        properties = props[i % POOL]
        t0 = pc()
        track(user, properties)
        samples[i] = pc() - t0
    t_calls_done = time.monotonic_ns()
    if sdk.startswith("trackwire"):
        flushed = client.flush()
        stats = client.stats()
        rejected = sum(stats["dropped"].values())
    else:
        client.flush()
        flushed, stats, rejected = True, {}, 0
    t_flushed = time.monotonic_ns()
    cpu_window = cpu_seconds() - cpu_start
    client.shutdown()
    _reply({
        "sdk": sdk, "calls": calls, "rejected": rejected, "timer_overhead_ns": overhead,
        "per_call": summarize(samples, overhead), "t_first_ns": t_first,
        "t_calls_done_ns": t_calls_done, "t_flushed_ns": t_flushed, "flush_ok": flushed,
        "cpu_window_s": cpu_window, "rss_before_run_kib": rss_before, "stats": stats,
    })  # fmt: skip


# --------------------------------------------------------------------------- the runner


def ensure_venv() -> None:
    """Create bench/.venv-amp (trackwire editable + the official SDK), re-run inside it."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        print("bench: creating bench/.venv-amp", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-e", str(REPO), f"{OFFICIAL}=={OFFICIAL_VERSION}"], check=True)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def _read(stream: IO[str], what: str) -> dict[str, Any]:
    line = stream.readline()
    if not line:
        raise RuntimeError(f"{what} exited without answering")
    return json.loads(line)  # type: ignore[no-any-return]


def measure(
    sdk: str, calls: int, source: str | None = None, max_queue_size: int | None = None
) -> dict[str, Any]:
    """One sink process, one SDK process: what both saw, as one row.

    ``source`` is another checkout's ``src`` directory to import trackwire from (the code
    before a change, for a before/after table measured in the same run).
    """
    this = str(Path(__file__).resolve())
    sink = subprocess.Popen([sys.executable, this, "sink"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert sink.stdin is not None and sink.stdout is not None
    try:
        url = _read(sink.stdout, "the sink")["url"]
        command = [
            sys.executable,
            this,
            "worker",
            "--sdk",
            sdk,
            "--url",
            url,
            "--calls",
            str(calls),
        ]
        if max_queue_size is not None:
            command += ["--max-queue-size", str(max_queue_size)]
        env = dict(os.environ)
        if source is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
        worker = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        assert worker.stdout is not None
        output = worker.stdout.read()
        _, status, usage = os.wait4(worker.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0 or not output.strip():
            raise RuntimeError(f"{sdk} failed")
        result = json.loads(output.strip().splitlines()[-1])
        # The official SDK's flush() returns before its pool threads are done; its events may
        # still arrive after the process ends, so the sink waits for them (up to 5 minutes).
        sink.stdin.write(f"wait {result['calls'] - result['rejected']} 300\n")
        sink.stdin.flush()
        counters = _read(sink.stdout, "the sink")
    finally:
        if sink.stdin:
            sink.stdin.close()
        sink.wait(timeout=30)
    received = counters["events"]
    end = max(result["t_flushed_ns"], counters["last_event_ns"])
    seconds = (end - result["t_first_ns"]) / 1e9
    return {
        **result["per_call"],
        "calls_s": (result["t_calls_done_ns"] - result["t_first_ns"]) / 1e9,
        "delivered_s": seconds,
        "received": received,
        "events_per_s": received / seconds if seconds > 0 else 0.0,
        "rejected": result["rejected"],
        "loss": result["calls"] - received,
        "requests": counters["requests"],
        "bytes": counters["bytes"],
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "cpu_process_s": usage.ru_utime + usage.ru_stime,
    }


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as file:
            return file.read().split()[0]
    except OSError:
        return "unknown"


def _ratio(ours: float, theirs: float, lower_is_better: bool) -> str:
    if ours <= 0 or theirs <= 0:
        return "—"
    factor = theirs / ours if lower_is_better else ours / theirs
    if factor >= 1:
        return f"{factor:.1f}× {'lower' if lower_is_better else 'higher'}"
    return f"{1 / factor:.1f}× {'higher' if lower_is_better else 'lower'}"


METRICS: list[tuple[str, str, int, bool | None]] = [
    ("caller cost, mean (µs)", "mean_us", 2, True),
    ("caller cost, p50 (µs)", "p50_us", 2, True),
    ("caller cost, p99 (µs)", "p99_us", 2, True),
    ("caller cost, max (µs)", "max_us", 0, True),
    ("time for the calls (s)", "calls_s", 2, True),
    ("time until delivered (s)", "delivered_s", 2, True),
    ("delivered events/s", "events_per_s", 0, False),
    ("events received by the sink", "received", 0, None),
    ("refused by the SDK", "rejected", 0, None),
    ("loss (sent − received)", "loss", 0, None),
    ("HTTP requests", "requests", 0, None),
    ("request bytes on the wire", "bytes", 0, True),
    ("peak RSS (MiB)", "peak_rss_mib", 1, True),
    ("CPU s, whole process (user+sys)", "cpu_process_s", 2, True),
]


def table(rows: dict[str, dict[str, Any]]) -> str:
    official = rows["official"]
    ours = [sdk for sdk in rows if sdk != "official"]
    head = ["metric (one run)", *(SDK_LABELS[s] for s in ours), OFFICIAL,
            *(f"{SDK_LABELS[s]} vs official" for s in ours)]  # fmt: skip
    lines = [
        "| " + " | ".join(head) + " |",
        "|---" + "|---:" * (len(ours) + 1) + "|---" * len(ours) + "|",
    ]
    for name, key, digits, lower in METRICS:
        cells = [f"{rows[s][key]:,.{digits}f}" for s in [*ours, "official"]]
        ratios = [
            "—" if lower is None else _ratio(rows[s][key], official[key], lower) for s in ours
        ]
        lines.append("| " + " | ".join([name, *cells, *ratios]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="run", choices=("run", "sink", "worker"))
    parser.add_argument("--sdk", choices=tuple(SDK_LABELS), default="trackwire")
    parser.add_argument("--url", default="")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument(
        "--before",
        metavar="SRC",
        help="also measure trackwire imported from SRC (e.g. an exported older commit's src/)",
    )
    parser.add_argument(
        "--max-queue-size",
        type=int,
        help="trackwire's queue bound (default the SDK's 16,000); the official SDK has none",
    )
    args = parser.parse_args()
    if args.mode == "sink":
        run_sink()
        return
    if args.mode == "worker":
        run_worker(args.sdk, args.url, args.calls, args.max_queue_size)
        return
    ensure_venv()
    load = _loadavg()
    queue = args.max_queue_size
    rows = {"trackwire": measure("trackwire", args.calls, max_queue_size=queue)}
    if args.before:
        rows["trackwire-before"] = measure("trackwire", args.calls, args.before, queue)
    rows["trackwire-event"] = measure("trackwire-event", args.calls, max_queue_size=queue)
    rows["official"] = measure("official", args.calls)
    print(f"load average: {load} at the start, {_loadavg()} at the end", file=sys.stderr)
    print(json.dumps(rows, indent=1), file=sys.stderr)
    print(table(rows))


if __name__ == "__main__":
    main()
