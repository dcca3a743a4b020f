"""mParticle benchmark: trackwire.MParticle against the official ``mparticle`` package.

Two scenarios, one thread, one run each, the same sink:

* ``single``: 20,000 calls, each uploading one batch holding one custom event with 6
  attributes;
* ``bulk10``: 2,000 calls, each uploading one batch of 10 such events.

Measured per SDK: caller cost per upload (the time the call holds the caller's thread, and the
calling thread's CPU time per upload, which the machine's load hardly changes), batches
and events per second from the first call until the sink has everything, loss (events sent
minus events the sink accepted), peak RSS. The official package sends one request per batch,
synchronously, in the caller's thread; trackwire queues the batch and a worker packs up to 100
batches into each ``/v2/bulkevents`` request.

Run it from the repository root; it makes ``bench/.venv-mp`` (trackwire from this checkout and
the official package pinned below) and re-executes itself there::

    python bench/mparticle_upload.py            # both scenarios, both SDKs, a Markdown table

Each measurement is a fresh process (``--worker``) against a sink process (``--sink``, the test
suite's sink, counting mParticle batches and events), so RSS and CPU belong to one SDK only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from array import array
from pathlib import Path
from typing import IO, Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV = BENCH / ".venv-mp"
STAMP = VENV / ".installed"
OFFICIAL = "mparticle==0.16.1"
KEY, SECRET = "bench-key", "bench-secret"
POOL = 1_000
SCENARIOS = {"single": (20_000, 1), "bulk10": (2_000, 10)}
BASE_MS = 1_795_380_500_000


# --------------------------------------------------------------------------- environment


def ensure_venv() -> None:
    """Create or refresh bench/.venv-mp, then re-execute this script inside it."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        print("bench: creating bench/.venv-mp", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    digest = hashlib.sha256(OFFICIAL.encode() + (REPO / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != digest:
        print("bench: installing trackwire (editable) and the official package", flush=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-e", str(REPO), OFFICIAL], check=True)
        STAMP.write_text(digest)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


# --------------------------------------------------------------------------- the sink


def run_sink() -> None:
    """The sink process: counts mParticle batches and events, driven over stdin/stdout."""
    sys.path.insert(0, str(BENCH))
    import orjson
    from sink_server import CountingSink

    class MParticleSink(CountingSink):
        # Counts batches (a /v2/events body is one, a bulk body an array) and their events.
        def __init__(self) -> None:
            super().__init__()
            self.mp_batches = 0
            self.mp_events = 0

        def _record(self, handler: Any, raw: bytes, status: int | None) -> None:
            # One parse per body, done here instead of in the base sinks: on a 2-core machine
            # the sink's CPU competes with the SDK under test.
            decoded = orjson.loads(raw) if raw else None
            batches = decoded if isinstance(decoded, list) else [decoded]
            events = sum(len(b.get("events") or ()) for b in batches if isinstance(b, dict))
            now = time.monotonic_ns()
            with self.cond:
                self.request_count += 1
                self.body_bytes += len(raw)
                self.last_event_ns = max(self.last_event_ns, now)
                if status is not None and 200 <= status < 300:
                    self.mp_batches += len(batches)
                    self.mp_events += events
                self.cond.notify_all()

        def counters(self) -> dict[str, Any]:
            found = super().counters()
            with self.cond:
                found["batches"], found["events"] = self.mp_batches, self.mp_events
            return found

    with MParticleSink() as sink:
        print(json.dumps({"url": sink.url}), flush=True)
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == "quit":
                break
            if words[0] == "wait":
                expected = int(words[1])
                sink.wait_until(lambda n=expected: sink.mp_events >= n, float(words[2]))
            print(json.dumps(sink.counters()), flush=True)


# --------------------------------------------------------------------------- one SDK, one run


def attributes(i: int) -> dict[str, Any]:
    """Six attributes of mixed scalar types (mParticle takes no nested values)."""
    return {
        "order_id": f"order-{i:06d}",
        "quantity": 1 + i % 7,
        "revenue": round(9.99 + (i % 50) * 1.25, 2),
        "gift": i % 3 == 0,
        "channel": "web",
        "coupon": f"C{i % 10}",
    }


def make_batches(sdk: str, events_per_batch: int) -> list[Any]:
    """A pool of batches in the SDK's own model classes (made before timing starts)."""
    mp: Any
    if sdk == "official":
        import mparticle as mp
    else:
        from trackwire import mparticle as mp
    pool = []
    for i in range(POOL):
        batch = mp.Batch()
        batch.environment = "development"
        identities = mp.UserIdentities()
        identities.customerid = f"user-{i}"
        batch.user_identities = identities
        events = []
        for j in range(events_per_batch):
            event = mp.AppEvent("Order Completed", "transaction")
            event.custom_attributes = attributes(i * events_per_batch + j)
            event.timestamp_unixtime_ms = BASE_MS + i * 1000 + j
            events.append(event)
        if sdk == "official":
            batch.events = events  # the setter wraps each event in its envelope
        else:
            for event in events:
                batch.add_event(event)
        pool.append(batch)
    return pool


def peak_rss_kib() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def run_worker(sdk: str, url: str, calls: int, events_per_batch: int) -> None:
    """Upload ``calls`` batches, timing each call; print one JSON line."""
    pool = make_batches(sdk, events_per_batch)
    pc = time.perf_counter_ns
    samples = array("q", bytes(8 * calls))
    failed = 0
    if sdk == "official":
        import mparticle

        config = mparticle.Configuration()
        config.api_key, config.api_secret, config.host = KEY, SECRET, url + "/v2"
        api = mparticle.EventsApi(config)
        t_first = time.monotonic_ns()
        cpu_start = time.thread_time_ns()
        for i in range(calls):
            t0 = pc()
            try:
                api.upload_events(pool[i % POOL])
            except Exception:
                failed += 1
            samples[i] = pc() - t0
        cpu_ns = time.thread_time_ns() - cpu_start
        t_calls_done = t_flushed = time.monotonic_ns()
        stats: dict[str, Any] = {}
    else:
        import trackwire

        client = trackwire.MParticle(KEY, SECRET, environment="development", host=url)
        upload = client.upload
        t_first = time.monotonic_ns()
        cpu_start = time.thread_time_ns()
        for i in range(calls):
            t0 = pc()
            upload(pool[i % POOL])
            samples[i] = pc() - t0
        cpu_ns = time.thread_time_ns() - cpu_start
        t_calls_done = time.monotonic_ns()
        client.flush(timeout=120)
        t_flushed = time.monotonic_ns()
        stats = client.stats()
        client.shutdown()
    ordered = sorted(samples)
    result = {
        "sdk": sdk,
        "calls": calls,
        "events_per_batch": events_per_batch,
        "failed_calls": failed,
        "mean_us": sum(ordered) / calls / 1000,
        "p50_us": ordered[calls // 2] / 1000,
        "p99_us": ordered[int(calls * 0.99)] / 1000,
        # CPU time of the calling thread per upload: what the call costs, whatever the load.
        "cpu_us": cpu_ns / calls / 1000,
        "t_first_ns": t_first,
        "t_calls_done_ns": t_calls_done,
        "t_flushed_ns": t_flushed,
        "stats": stats,
    }
    print(json.dumps(result, default=str), flush=True)


# --------------------------------------------------------------------------- the runner


def _line(stream: IO[str], what: str) -> dict[str, Any]:
    text = stream.readline()
    if not text:
        raise RuntimeError(f"{what} exited without answering")
    return json.loads(text)  # type: ignore[no-any-return]


def measure(sdk: str, scenario: str, source: str | None = None) -> dict[str, Any]:
    """One sink process, one SDK process; ``source`` is another checkout's ``src`` directory
    to import trackwire from (the code before a change, for a before/after in one run)."""
    calls, per_batch = SCENARIOS[scenario]
    me = [sys.executable, str(Path(__file__).resolve())]
    sink = subprocess.Popen(
        [*me, "--sink"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert sink.stdin is not None and sink.stdout is not None
    try:
        url = _line(sink.stdout, "the sink")["url"]
        command = [*me, "--worker", sdk, "--url", url, "--scenario", scenario]
        (BENCH / "out").mkdir(exist_ok=True)
        log = open(BENCH / "out" / f"mparticle-{sdk}-{scenario}.log", "w", encoding="utf-8")  # noqa: SIM115
        env = dict(os.environ)
        if source is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
        worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        assert worker.stdout is not None
        output = worker.stdout.read()
        _, status, usage = os.wait4(worker.pid, 0)
        log.close()
        if os.waitstatus_to_exitcode(status) != 0 or not output.strip():
            raise RuntimeError(f"{sdk} {scenario} failed")
        result = json.loads(output.strip().splitlines()[-1])
        sink.stdin.write(f"wait {calls * per_batch} 5\n")
        sink.stdin.flush()
        counters = _line(sink.stdout, "the sink")
    finally:
        if sink.stdin:
            sink.stdin.close()
        sink.wait(timeout=10)
    end = max(result["t_flushed_ns"], counters["last_event_ns"])
    seconds = (end - result["t_first_ns"]) / 1e9
    return {
        **result,
        "sink": counters,
        "seconds_until_delivered": seconds,
        "batches_per_s": counters["batches"] / seconds,
        "events_per_s": counters["events"] / seconds,
        "lost_events": calls * per_batch - counters["events"],
        "requests": counters["requests"],
        "peak_rss_mib": usage.ru_maxrss / 1024,
    }


MEASURES = (
    ("caller cost per upload, mean (µs)", "mean_us", 1, True),
    ("caller cost per upload, p50 (µs)", "p50_us", 1, True),
    ("caller cost per upload, p99 (µs)", "p99_us", 1, True),
    ("caller CPU per upload (µs)", "cpu_us", 1, True),
    ("batches/s until delivered", "batches_per_s", 0, False),
    ("events/s until delivered", "events_per_s", 0, False),
    ("peak RSS (MiB)", "peak_rss_mib", 1, True),
)


def _row(name: str, a: float, b: float, digits: int, lower_is_better: bool) -> str:
    if lower_is_better:
        ratio = f"{b / a:.1f}× lower" if a else "—"
    else:
        ratio = f"{a / b:.1f}× higher" if b else "—"
    return f"| {name} | {a:,.{digits}f} | {b:,.{digits}f} | {ratio} |"


def table(rows: dict[tuple[str, str], dict[str, Any]]) -> str:
    lines = []
    for scenario, (calls, per_batch) in SCENARIOS.items():
        ours, theirs = rows[("trackwire", scenario)], rows[("official", scenario)]
        before = rows.get(("trackwire-before", scenario))
        lines += [
            f"### {scenario}: {calls:,} uploads of {per_batch} event(s) per batch",
            "",
            "| measure | trackwire | official `mparticle` 0.16.1 | ratio |"
            + (" trackwire before | ratio before |" if before else ""),
            "| --- | ---: | ---: | ---: |" + (" ---: | ---: |" if before else ""),
        ]

        for name, key, digits, lower_is_better in MEASURES:
            row = _row(name, ours[key], theirs[key], digits, lower_is_better)
            if before:
                old = _row(name, before[key], theirs[key], digits, lower_is_better)
                row += " " + " | ".join(old.split(" | ")[1:2] + old.split(" | ")[3:])
            lines.append(row)
        counts = [("HTTP requests", "requests"), ("events lost", "lost_events")]
        for name, key in counts:
            extra = f" {before[key]:,} | |" if before else ""
            lines.append(f"| {name} | {ours[key]:,} | {theirs[key]:,} | |{extra}")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=("trackwire", "official"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--scenario", choices=tuple(SCENARIOS), help="one scenario only")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--before",
        metavar="SRC",
        help="also measure trackwire imported from SRC (e.g. an exported older commit's src/)",
    )
    args = parser.parse_args()
    if args.sink:
        run_sink()
        return
    if args.worker:
        calls, per_batch = SCENARIOS[args.scenario]
        run_worker(args.worker, args.url, calls, per_batch)
        return
    ensure_venv()
    rows = {}
    for scenario in [args.scenario] if args.scenario else list(SCENARIOS):
        for sdk in ("trackwire", "trackwire-before", "official"):
            if sdk == "trackwire-before" and not args.before:
                continue
            print(f"bench: {sdk} {scenario}", file=sys.stderr, flush=True)
            source = args.before if sdk == "trackwire-before" else None
            rows[(sdk, scenario)] = measure(sdk.removesuffix("-before"), scenario, source)
    if args.json:
        args.json.write_text(json.dumps({f"{k[0]} {k[1]}": v for k, v in rows.items()}, indent=1))
    if not args.scenario:
        print(table(rows))
    else:
        print(json.dumps({f"{k[0]} {k[1]}": v for k, v in rows.items()}, indent=1, default=str))


if __name__ == "__main__":
    main()
