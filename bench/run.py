"""Benchmark trackwire against segment-analytics-python; writes bench/RESULTS.md.

``make bench`` runs this with the project's interpreter. It creates (or refreshes) the
benchmark's own virtual environment, ``bench/.venv-bench``, installs trackwire from this
checkout and the pinned official SDK from ``bench/requirements.txt`` into it, and re-executes
itself there. Then, in one run:

* ``import trackwire`` and ``import segment.analytics`` time (fresh interpreters);
* for each SDK, 100,000 ``track`` calls from one thread, with default settings and with a
  queue large enough for the whole run; each measurement in a fresh process
  (``bench/segment_track.py``) against a sink in another process (``bench/sink_server.py``);
* trackwire with gzip off and at levels 1, 6 and 9, end to end and for compression alone;
* the collector's ingest rate for ~500 KB Segment batches, into SQLite and with no store
  (``bench/collector_ingest.py``).

Every measurement runs ``--repeat`` times (3 by default), the SDKs taking turns, and the
report shows the median, because a shared machine is noisy. It writes ``bench/RESULTS.md``
and ``bench/out/results.json``; nothing here is a test.
``--profile`` instead runs trackwire's call loop under cProfile and prints the top costs.
``--before-ref GIT_REF`` instead compares trackwire at an earlier commit, trackwire now and the
official SDK (big queue, taking turns, in one run) and rewrites only the before/after section.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import collector_ingest  # noqa: E402 - a sibling script, importable once BENCH is on the path

VENV = BENCH / ".venv-bench"
STAMP = VENV / ".bench-installed"
OUT = BENCH / "out"
REQUIREMENTS = BENCH / "requirements.txt"

LARGE_QUEUE = 200_000
GZIP_SETTINGS = ("off", "1", "6", "9")
TARGET_EVENTS_PER_S = 100_000  # the reference rate for the gzip table's CPU shares
# Issue 6's targets, as ratios against the official SDK measured in the same run.
TARGET_CALLER_RATIO = 15.0
TARGET_DELIVERY_RATIO = 12.0
TARGET_RSS_MIB = 100.0
TARGET_IMPORT_MS = 60.0
#: RESULTS.md keeps everything after this line: the other benchmarks' sections.
KEEP_MARKER = "<!-- Sections below are written by the other bench/ scripts; run.py keeps them. -->"
OFFICIAL = "segment-analytics-python"


# --------------------------------------------------------------------------- environment


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


INSTALL_SPEC = f"{REPO}[collector]"


def install_fingerprint() -> str:
    digest = hashlib.sha256(INSTALL_SPEC.encode())
    for path in (REQUIREMENTS, REPO / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_bench_venv() -> None:
    """Create or refresh bench/.venv-bench, then re-execute this script inside it."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = venv_python()
    if not python.exists():
        print("bench: creating bench/.venv-bench", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    fingerprint = install_fingerprint()
    if not STAMP.exists() or STAMP.read_text() != fingerprint:
        print("bench: installing trackwire (editable) and the official SDK", flush=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-e", f"{REPO}[collector]", "-r", str(REQUIREMENTS)], check=True)
        STAMP.write_text(fingerprint)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def machine() -> dict[str, Any]:
    """What the numbers were measured on: no host names, no paths."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = {}
    for name in ("trackwire", OFFICIAL, "orjson", "urllib3", "requests"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "load_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0,
        "cpu": model,
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gib": round(memory / 2**30, 1),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": versions,
    }


def child_env() -> dict[str, str]:
    """The environment of every measured process: bytecode cached, as after a wheel install.

    With ``PYTHONDONTWRITEBYTECODE`` set, an editable install recompiles trackwire's sources
    on every start and import times measure the compiler. Caches go under bench/out/.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(OUT / "pycache")
    return env


# --------------------------------------------------------------------------- measurements


def import_time(module: str, runs: int) -> dict[str, float]:
    """Median ms to import ``module`` in a fresh interpreter, two ways.

    ``wall_ms``: wall time of ``python -c "import M"`` minus that of ``python -c pass``
    (runs interleaved). ``importtime_ms``: the cumulative time ``-X importtime`` reports for
    the module itself.
    """
    python = sys.executable
    env = child_env()

    def wall(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([python, "-c", code], check=True, env=env)
        return time.perf_counter() - start

    top = module.split(".")[0]
    wall(f"import {module}")  # fill the bytecode cache once
    with_import, bare, cumulative = [], [], []
    for _ in range(runs):
        bare.append(wall("pass"))
        with_import.append(wall(f"import {module}"))
        done = subprocess.run(
            [python, "-X", "importtime", "-c", f"import {module}"],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        # "segment" is imported, and finished, before "segment.analytics" starts: add both.
        microseconds = 0
        for line in done.stderr.splitlines():
            fields = [part.strip() for part in line.split("|")]
            if len(fields) == 3 and fields[2] in {module, top}:
                microseconds += int(fields[1])
        cumulative.append(microseconds / 1000)
    return {
        "wall_ms": (statistics.median(with_import) - statistics.median(bare)) * 1000,
        "importtime_ms": statistics.median(cumulative),
        "runs": runs,
    }


@dataclass
class Measurement:
    """One measured process: what the SDK process said, the sink saw and the OS counted."""

    label: str
    sdk: str
    worker: dict[str, Any]
    sink: dict[str, Any]
    peak_rss_mib: float
    cpu_process_s: float

    def row(self) -> dict[str, Any]:
        calls = self.worker["calls"]
        received = self.sink["events"]
        end = max(self.worker["t_flushed_ns"], self.sink["last_event_ns"])
        seconds = (end - self.worker["t_first_ns"]) / 1e9
        calls_s = (self.worker["t_calls_done_ns"] - self.worker["t_first_ns"]) / 1e9
        return {
            "label": self.label,
            "sdk": self.sdk,
            "calls": calls,
            **{key: value for key, value in self.worker["per_call"].items()},
            "timer_overhead_ns": self.worker["timer_overhead_ns"],
            "calls_s": calls_s,
            "delivered_s": seconds,
            "received": received,
            "events_per_s": received / seconds if seconds > 0 else 0.0,
            "rejected": self.worker["rejected"],
            "loss": calls - received,
            "flush_ok": self.worker["flush_ok"],
            "requests": self.sink["requests"],
            "bytes_received": self.sink["bytes"],
            "bytes_sent": self.worker["stats"].get("bytes_sent"),
            "peak_rss_mib": self.peak_rss_mib,
            "cpu_process_s": self.cpu_process_s,
            "cpu_window_s": self.worker["cpu_window_s"],
            "queued_at_calls_end": self.worker.get("queued_at_calls_end", 0),
            # Garbage collections by generation while the calls ran (both threads).
            **{
                f"gc{generation}": count
                for generation, count in enumerate(self.worker.get("gc_collections", (0, 0, 0)))
            },
        }


def _read_json_line(stream: IO[str], what: str) -> dict[str, Any]:
    line = stream.readline()
    if not line:
        raise RuntimeError(f"{what} exited without answering")
    return json.loads(line)  # type: ignore[no-any-return]


def measure(
    label: str,
    sdk: str,
    calls: int,
    *,
    max_queue_size: int | None = None,
    gzip: str = "default",
    profile: bool = False,
    source: Path | None = None,
) -> Measurement:
    """Start a sink process, run one SDK process against it, collect what both saw.

    ``source``: a ``src`` directory of another checkout of trackwire, put first on the SDK
    process's path (the "before" of a before/after comparison).
    """
    OUT.mkdir(exist_ok=True)
    sdk_env = child_env()
    if source is not None:
        sdk_env["PYTHONPATH"] = str(source)
    sink = subprocess.Popen(
        [sys.executable, str(BENCH / "sink_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert sink.stdin is not None and sink.stdout is not None
    try:
        url = _read_json_line(sink.stdout, "the sink")["url"]
        command = [sys.executable, str(BENCH / "segment_track.py"), "--sdk", sdk, "--url", url]
        command += ["--calls", str(calls), "--gzip", gzip]
        if max_queue_size is not None:
            command += ["--max-queue-size", str(max_queue_size)]
        if profile:
            command.append("--profile")
        log_name = f"{label}-{sdk}.log".replace(" ", "_").replace("=", "")
        with open(OUT / log_name, "w", encoding="utf-8") as log:
            worker = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, text=True, env=sdk_env
            )
            assert worker.stdout is not None
            output = worker.stdout.read()
            _, status, usage = os.wait4(worker.pid, 0)
            worker.returncode = os.waitstatus_to_exitcode(status)
        if worker.returncode != 0 or not output.strip():
            raise RuntimeError(f"{sdk} ({label}) failed; see bench/out/{log_name}")
        result = json.loads(output.strip().splitlines()[-1])
        expected = result["calls"] - result["rejected"]
        # flush() has returned, so the sink has already answered every batch; the short wait
        # only guards against a slow bookkeeping thread in the sink.
        sink.stdin.write(f"wait {expected} 2\n")
        sink.stdin.flush()
        counters = _read_json_line(sink.stdout, "the sink")
    finally:
        if sink.stdin:
            sink.stdin.close()
        sink.wait(timeout=10)
    peak = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    return Measurement(label, sdk, result, counters, peak, usage.ru_utime + usage.ru_stime)


def compression_cost(levels: tuple[int, ...] = (1, 6, 9), repeat: int = 15) -> dict[str, Any]:
    """Compress one real, full trackwire batch body at each level, in this process.

    The body is captured with ``trackwire.testing.RecordingTransport`` (gzip off), then
    compressed as the engine does (``gzip.compress(body, level, mtime=0)``); best of
    ``repeat``. Deterministic, unlike delivery rates on a shared machine.
    """
    import gzip

    import orjson
    from segment_track import EVENT, POOL, WRITE_KEY, make_properties

    import trackwire
    from trackwire.testing import RecordingTransport

    transport = RecordingTransport()
    client = trackwire.Segment(
        WRITE_KEY,
        transport=transport,
        gzip=False,
        send_first_immediately=False,
        flush_at=100_000,
    )
    for i in range(3_000):
        client.track(user_id=f"user-{i % POOL}", event=EVENT, properties=make_properties(i % POOL))
    client.shutdown()
    body = transport.requests[0].body
    messages = len(orjson.loads(body)["batch"])
    result: dict[str, Any] = {"batch_bytes": len(body), "batch_messages": messages}
    for level in levels:
        timings = []
        for _ in range(repeat):
            start = time.perf_counter()
            compressed = gzip.compress(body, compresslevel=level, mtime=0)
            timings.append(time.perf_counter() - start)
        best = min(timings)
        result[str(level)] = {
            "compressed_bytes": len(compressed),
            "ms_per_batch": best * 1000,
            "us_per_event": best * 1e6 / messages,
        }
    return result


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each number over repeated runs, plus the spread of the key ones."""
    summary: dict[str, Any] = {}
    for key, value in rows[0].items():
        if isinstance(value, bool):
            summary[key] = all(row[key] for row in rows)
        elif isinstance(value, int | float):
            summary[key] = statistics.median(row[key] for row in rows)
        else:
            summary[key] = value
    for key in ("mean_us", "events_per_s", "loss"):
        values = [row[key] for row in rows]
        summary[f"{key}_range"] = [min(values), max(values)]
    summary["runs"] = len(rows)
    return summary


# --------------------------------------------------------------------------- report


def _ratio(ours: float, theirs: float, lower_is_better: bool) -> str:
    if ours <= 0 or theirs <= 0:
        return "—"
    factor = theirs / ours if lower_is_better else ours / theirs
    if factor >= 1:
        return f"{factor:.1f}× {'lower' if lower_is_better else 'higher'}"
    return f"{1 / factor:.1f}× {'higher' if lower_is_better else 'lower'}"


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def scenario_table(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    rows: list[tuple[str, str, str, str]] = []

    def add(name: str, key: str, digits: int, lower_is_better: bool | None) -> None:
        a, b = ours[key], theirs[key]
        ratio = "—" if lower_is_better is None else _ratio(a, b, lower_is_better)
        rows.append((name, _n(a, digits), _n(b, digits), ratio))

    def spread(name: str, key: str) -> None:
        a, b = ours[f"{key}_range"], theirs[f"{key}_range"]
        rows.append((name, f"{_n(a[0])} – {_n(a[1])}", f"{_n(b[0])} – {_n(b[1])}", "—"))

    add("caller cost, mean (µs)", "mean_us", 2, True)
    add("caller cost, p50 (µs)", "p50_us", 2, True)
    add("caller cost, p99 (µs)", "p99_us", 2, True)
    add("caller cost, max (µs)", "max_us", 0, True)
    add("time for the calls (s)", "calls_s", 2, True)
    add("time until delivered (s)", "delivered_s", 2, True)
    add("delivered events/s", "events_per_s", 0, False)
    spread("delivered events/s, slowest – fastest run", "events_per_s")
    add("events received by the sink", "received", 0, None)
    add("refused by the SDK (queue full)", "rejected", 0, None)
    add("loss (sent − received)", "loss", 0, None)
    spread("loss, best – worst run", "loss")
    add("HTTP requests", "requests", 0, None)
    add("request bytes on the wire", "bytes_received", 0, True)
    add("peak RSS (MiB)", "peak_rss_mib", 1, True)
    add("CPU s, whole process (user+sys)", "cpu_process_s", 2, True)
    add("CPU s, first call → delivered", "cpu_window_s", 2, True)
    lines = [
        f"| metric (median of {ours['runs']} runs) | trackwire | {OFFICIAL} "
        "| trackwire vs official |",
        "|---|---:|---:|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    low, high = ours["mean_us_range"]
    lines += [
        "",
        f"trackwire's mean caller cost ranged {low:.2f} – {high:.2f} µs over the runs; "
        f"the official SDK's {theirs['mean_us_range'][0]:.1f} – "
        f"{theirs['mean_us_range'][1]:.1f} µs.",
    ]
    return lines


def gzip_section(rows: dict[str, dict[str, Any]], cost: dict[str, Any], calls: int) -> list[str]:
    raw = rows["off"]["bytes_sent"]
    lines = [
        f"End to end ({calls:,} calls, `max_queue_size={LARGE_QUEUE:_}`, median of the runs):",
        "",
        "| gzip | bytes sent | bytes/event | vs uncompressed | delivered events/s "
        "| CPU s, first call → delivered |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in GZIP_SETTINGS:
        row = rows[name]
        lines.append(
            f"| {'off' if name == 'off' else 'level ' + name} | {row['bytes_sent']:,.0f} | "
            f"{row['bytes_sent'] / row['received']:.1f} | "
            f"{100 * row['bytes_sent'] / raw:.1f} % | {row['events_per_s']:,.0f} | "
            f"{row['cpu_window_s']:.2f} |"
        )
    lines += [
        "",
        f"Compression alone, on one full batch body ({cost['batch_messages']:,} messages, "
        f"{cost['batch_bytes']:,} bytes), best of 15, in one thread:",
        "",
        "| level | compressed bytes | vs uncompressed | ms per batch | µs per event "
        f"| one core's share at {TARGET_EVENTS_PER_S:,} events/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    levels = [cost[str(level)] for level in (1, 6, 9)]
    for level, entry in zip((1, 6, 9), levels, strict=True):
        lines.append(
            f"| {level} | {entry['compressed_bytes']:,} | "
            f"{100 * entry['compressed_bytes'] / cost['batch_bytes']:.1f} % | "
            f"{entry['ms_per_batch']:.2f} | {entry['us_per_event']:.2f} | "
            f"{entry['us_per_event'] * TARGET_EVENTS_PER_S / 1e4:.0f} % |"
        )
    one, six, nine = levels
    size = [100 * entry["compressed_bytes"] / cost["batch_bytes"] for entry in levels]
    text = (
        f"**Finding.** Level 1 already cuts the bytes to {size[0]:.1f} % of the JSON "
        f"({100 / size[0]:.1f}× smaller). Level 6 gets to {size[1]:.1f} % and level 9 to "
        f"{size[2]:.1f} %, another {size[0] - size[1]:.1f} and {size[0] - size[2]:.1f} points, "
        f"but compressing costs {six['us_per_event'] / one['us_per_event']:.1f}× and "
        f"{nine['us_per_event'] / one['us_per_event']:.1f}× as much CPU as level 1: at "
        f"{TARGET_EVENTS_PER_S:,} events/s that is "
        f"{one['us_per_event'] * TARGET_EVENTS_PER_S / 1e4:.0f} % of a core at level 1 against "
        f"{six['us_per_event'] * TARGET_EVENTS_PER_S / 1e4:.0f} % and "
        f"{nine['us_per_event'] * TARGET_EVENTS_PER_S / 1e4:.0f} %, in the process whose "
        "caller the SDK must not slow down. Sending uncompressed is cheapest on loopback but "
        f"needs {100 / size[0]:.1f}× the bandwidth of level 1 on a real uplink."
    )
    cheapest = one["us_per_event"] < min(six["us_per_event"], nine["us_per_event"])
    if cheapest and size[0] - size[2] <= 5:
        text += " This supports the default `gzip_level=1`."
    else:
        text += " In this run the case for `gzip_level=1` is not clear-cut; read the tables."
    return [*lines, "", text]


def write_report(results: dict[str, Any]) -> str:
    info = results["machine"]
    scenarios = results["scenarios"]
    imports = results["imports"]
    large = scenarios["large_queue"]
    default = scenarios["default"]
    runs = large["trackwire"]["runs"]
    ours, theirs = default["trackwire"], default["official"]
    caller_ratio = theirs["mean_us"] / ours["mean_us"]
    delivery_ratio = ours["events_per_s"] / theirs["events_per_s"]
    loss = ours["loss_range"][1]
    rss = max(default["trackwire"]["peak_rss_mib"], large["trackwire"]["peak_rss_mib"])
    imp = imports["trackwire"]["wall_ms"]

    def met(ok: bool) -> str:
        return "**met**" if ok else "**missed**"

    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items())
    lines = [
        "# Benchmark: trackwire vs segment-analytics-python",
        "",
        f"Generated by `bench/run.py` on {results['generated']} in {results['runtime_s']:.0f} s "
        "— do not edit by hand; run `make bench` to regenerate (it also writes "
        "`bench/out/results.json` with every run).",
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']}, {info['logical_cores']} logical cores "
        f"({info['usable_cores']} usable), {info['memory_gib']} GiB memory",
        f"- OS: {info['os']}",
        f"- Python: {info['python']}",
        f"- Packages: {versions}",
        f"- Load average (1 min) when the run started: {info['load_1min']:.2f}; anything else "
        "running on the machine shows up as noise, hence the medians and ranges below.",
        "",
        "## How to repeat",
        "",
        "```",
        "make bench",
        "```",
        "",
        "`make bench` runs `.venv/bin/python bench/run.py`, which creates `bench/.venv-bench`, "
        "installs trackwire from this checkout (editable) and the official SDK pinned in "
        "`bench/requirements.txt`, and re-runs itself there. `bench/run.py --repeat 1` is "
        "quicker; `bench/run.py --profile` prints a cProfile of trackwire's call loop.",
        "",
        "## Targets (issue #6), default settings, ratios in this run",
        "",
        "| target | measured | result |",
        "|---|---|---|",
        f"| caller cost ≥ {TARGET_CALLER_RATIO:g}× lower (mean) | "
        f"{ours['mean_us']:.2f} µs vs {theirs['mean_us']:.2f} µs: {caller_ratio:.1f}× "
        f"(p99 {ours['p99_us']:.2f} vs {theirs['p99_us']:.2f} µs) | "
        f"{met(caller_ratio >= TARGET_CALLER_RATIO)} |",
        f"| delivery ≥ {TARGET_DELIVERY_RATIO:g}× higher | {ours['events_per_s']:,.0f} vs "
        f"{theirs['events_per_s']:,.0f} events/s: {delivery_ratio:.1f}× | "
        f"{met(delivery_ratio >= TARGET_DELIVERY_RATIO)} |",
        f"| zero loss with default settings | {loss:,} lost in the worst of {runs} runs | "
        f"{met(loss == 0)} |",
        f"| peak RSS ≤ {TARGET_RSS_MIB:g} MiB | {rss:.1f} MiB (worst scenario) | "
        f"{met(rss <= TARGET_RSS_MIB)} |",
        f"| `import trackwire` < {TARGET_IMPORT_MS:g} ms | {imp:.1f} ms | "
        f"{met(imp < TARGET_IMPORT_MS)} |",
        "",
        f"Each run: {results['calls']:,} `track` calls with six properties (str, int, float, "
        "bool, list, nested dict holding a datetime) from one thread, then `flush()`; "
        f"each number is the median of {runs} runs, the SDKs taking turns.",
        "",
        "## Scenario 1: default settings",
        "",
        "Each SDK as it comes: trackwire queues up to 64 MiB (250,000 messages) and gzips at "
        "level 1; "
        f"{OFFICIAL} queues 10,000 messages, sends batches of 100, no gzip.",
        "",
        *scenario_table(default["trackwire"], default["official"]),
        "",
        f"## Scenario 2: a queue for the whole run (`max_queue_size={LARGE_QUEUE:_}`)",
        "",
        *scenario_table(large["trackwire"], large["official"]),
        "",
        "## Import time",
        "",
        f"Median of {imports['trackwire']['runs']} fresh interpreters each, bytecode cached.",
        "",
        "| | `import trackwire` | `import segment.analytics` | trackwire vs official |",
        "|---|---:|---:|---|",
    ]
    import_rows = (
        ("wall_ms", "wall time minus `python -c pass` (ms)"),
        ("importtime_ms", "`-X importtime` cumulative (ms)"),
    )
    for key, name in import_rows:
        a, b = imports["trackwire"][key], imports["official"][key]
        lines.append(f"| {name} | {a:.1f} | {b:.1f} | {_ratio(a, b, True)} |")
    lines += [
        "",
        "## gzip level (trackwire)",
        "",
        *gzip_section(results["gzip"], results["compression"], results["calls"]),
        "",
        *(collector_ingest.section(results["collector"]) if "collector" in results else []),
        "## How each number is measured",
        "",
        "- Every measurement is a fresh process running one SDK (`bench/segment_track.py`); "
        "the sink (`tests/sink.py`, bodies discarded, Nagle's algorithm off as on any real "
        "server) runs in a separate process (`bench/sink_server.py`) so its CPU and GIL are "
        "not billed to the SDK.",
        "- Caller cost: each call timed with `time.perf_counter_ns`; the median cost of two "
        "back-to-back timer reads, measured in the same process with the same loop, is "
        "subtracted.",
        "- Delivered events/s: events the sink accepted divided by the time from the first call "
        "until both `flush()` returned and the sink had them all (`time.monotonic_ns`, one clock "
        "for all processes).",
        '- Loss: calls made minus events the sink accepted; "refused by the SDK" is the part '
        "the SDK reported (trackwire: `stats()['dropped']`; the official SDK: `track` returned "
        "`False`).",
        "- Peak RSS and CPU (user+sys) of the whole SDK process from `os.wait4`, interpreter "
        'start and imports included; "first call → delivered" is the CPU of the measured '
        "window only (all threads).",
        '- Import time: `python -c "import M"` minus `python -c pass`, runs interleaved, in '
        "the benchmark's environment with bytecode cached (as after a wheel install).",
        "- The official SDK logs a warning for every call refused by a full queue; its logger "
        "is left as it comes (Python's last-resort handler writes it to stderr, captured in "
        "`bench/out/`). trackwire rate-limits that warning to one a minute.",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- before/after

#: RESULTS.md's before/after section sits between these lines; ``--before-ref`` rewrites it.
BEFORE_AFTER_START = "<!-- before/after (bench/run.py --before-ref): start -->"
BEFORE_AFTER_END = "<!-- before/after (bench/run.py --before-ref): end -->"


def export_source(ref: str, into: Path) -> Path:
    """Write ``src/`` as it was at git ``ref`` under ``into``; returns that ``src`` directory."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    source = into / "src"
    probe = subprocess.run(
        [sys.executable, "-c", "import trackwire; print(trackwire.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        env={**child_env(), "PYTHONPATH": str(source)},
    ).stdout.strip()
    if not Path(probe).resolve().is_relative_to(source.resolve()):
        raise SystemExit(f"bench: the {ref} checkout is not the trackwire that gets imported")
    return source


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def run_before_after(ref: str, calls: int, repeat: int, also_gzip: bool = False) -> dict[str, Any]:
    """trackwire at ``ref``, trackwire now and the official SDK, taking turns, in one run.

    The order rotates each round (before, after, official; then after, official, before; ...).

    ``also_gzip``: also trackwire now with ``gzip_level=1`` (``"after-gzip"``), to tell what
    compression costs apart from the rest of a change.
    """
    import tempfile

    revision = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", ref],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    names = ("before", "after", *(("after-gzip",) if also_gzip else ()), "official")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="trackwire-before-") as tmp:
        source = export_source(ref, Path(tmp))
        for round_ in range(1, repeat + 1):
            # Each round starts with another code: on a shared machine the load drifts, and a
            # fixed order would hand the same share of the drift to the same code every round.
            shift = (round_ - 1) % len(names)
            for name in names[shift:] + names[:shift]:
                load_start = _load()
                row = measure(
                    f"before-after-{name}-run{round_}",
                    "official" if name == "official" else "trackwire",
                    calls,
                    max_queue_size=LARGE_QUEUE,
                    gzip="1" if name == "after-gzip" else "default",
                    source=source if name == "before" else None,
                ).row()
                row["load_start"], row["load_end"] = load_start, _load()
                runs[name].append(row)
                print(
                    f"bench: run {round_}/{repeat} {name}: {row['mean_us']:.2f} µs/call mean, "
                    f"{row['events_per_s']:,.0f} events/s (load {load_start:.2f})",
                    flush=True,
                )
    return {
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "before": revision,
        "after": head,
        "calls": calls,
        "machine": machine(),
        "runs": runs,
    }


def _markers(section: str | None) -> tuple[str, str]:
    """The comment lines around a before/after section (the default one, or a named one)."""
    if section is None:
        return BEFORE_AFTER_START, BEFORE_AFTER_END
    return (
        f"<!-- before/after (bench/run.py --section {section!r}): start -->",
        f"<!-- before/after (bench/run.py --section {section!r}): end -->",
    )


def before_after_section(results: dict[str, Any], section: str | None = None) -> list[str]:
    """The before/after table: every run's numbers, and the ratios of each round."""
    runs = results["runs"]
    info = results["machine"]
    before, after = results["before"], results["after"]
    start, end = _markers(section)
    trackwires = [name for name in runs if name != "official"]
    labels = {"after-gzip": "trackwire after, gzip_level=1"}
    lines = [
        start,
        f"## {section or 'Segment caller cost and delivery, before and after (issue 16)'}",
        "",
        f"trackwire at `{before}` (before) and at `{after}` (after) against {OFFICIAL}, "
        f"{results['calls']:,} `track` calls with six mixed properties from one thread, "
        f"`max_queue_size={LARGE_QUEUE:_}`, each measurement a fresh process against its own "
        "sink process, all taking turns in one run of `bench/run.py` "
        f"({results['generated']}; {info['cpu']}, {info['usable_cores']} usable cores, "
        f"{info['python']}). Load average (1 min) at the start and end of each measurement.",
        "",
        "| round | code | load | mean µs | p50 µs | p99 µs | events/s | caller vs official "
        "| delivery vs official |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for index, official in enumerate(runs["official"]):
        for name in runs:
            row = runs[name][index]
            caller = official["mean_us"] / row["mean_us"] if row["mean_us"] > 0 else 0.0
            delivery = row["events_per_s"] / official["events_per_s"]
            label = OFFICIAL if name == "official" else labels.get(name, f"trackwire {name}")
            lines.append(
                f"| {index + 1} | {label} | {row['load_start']:.2f}–{row['load_end']:.2f} | "
                f"{row['mean_us']:.2f} | {row['p50_us']:.2f} | {row['p99_us']:.2f} | "
                f"{row['events_per_s']:,.0f} | "
                + ("—" if name == "official" else f"{caller:.1f}×")
                + " | "
                + ("—" if name == "official" else f"{delivery:.1f}×")
                + " |"
            )

    def median(name: str, key: str) -> float:
        return statistics.median(row[key] for row in runs[name])

    lines += [
        "",
        "| median of the rounds | "
        + " | ".join(labels.get(name, f"trackwire {name}") for name in trackwires)
        + " | official |",
        "|---|" + "---:|" * len(runs),
    ]
    for key, title, digits in (
        ("mean_us", "caller cost, mean (µs)", 2),
        ("p50_us", "caller cost, p50 (µs)", 2),
        ("p99_us", "caller cost, p99 (µs)", 2),
        ("events_per_s", "delivered events/s", 0),
        ("cpu_window_s", "CPU s, first call → delivered", 2),
        ("queued_at_calls_end", "messages still queued when the calls ended", 0),
        ("loss", "loss (sent − received)", 0),
    ):
        values = [_n(median(name, key), digits) for name in runs]
        lines.append(f"| {title} | {' | '.join(values)} |")
    if all("gc2" in runs[name][0] for name in runs):
        collections = [
            " / ".join(_n(median(name, f"gc{generation}"), 0) for generation in range(3))
            for name in runs
        ]
        lines.append(
            f"| garbage collections during the calls, gen 0 / 1 / 2 | {' | '.join(collections)} |"
        )
    ratios = {
        name: (
            median("official", "mean_us") / median(name, "mean_us"),
            median(name, "events_per_s") / median("official", "events_per_s"),
        )
        for name in trackwires
    }
    lines += [
        "",
        f"Ratios of the medians: caller cost {ratios['before'][0]:.1f}× before, "
        f"{ratios['after'][0]:.1f}× after (target ≥ {TARGET_CALLER_RATIO:g}×); delivery "
        f"{ratios['before'][1]:.1f}× before, {ratios['after'][1]:.1f}× after (target ≥ "
        f"{TARGET_DELIVERY_RATIO:g}×)"
        + (
            f"; with gzip_level=1 after: caller {ratios['after-gzip'][0]:.1f}×, delivery "
            f"{ratios['after-gzip'][1]:.1f}×."
            if "after-gzip" in ratios
            else "."
        ),
        "",
        "Repeat with (`--calls` and `--repeat` as you like; it needs the git history):",
        "",
        "```",
        f"python bench/run.py --before-ref {before} --repeat {len(runs['official'])}"
        + (" --also-gzip" if "after-gzip" in runs else "")
        + (f" --section {section!r}" if section else ""),
        "```",
        end,
    ]
    return lines


def write_before_after(results: dict[str, Any], section_title: str | None = None) -> None:
    """Put the before/after section into RESULTS.md, replacing the previous one.

    A named section (``--section``) replaces its own earlier version, or is added at the end.
    """
    report = BENCH / "RESULTS.md"
    text = report.read_text(encoding="utf-8") if report.exists() else ""
    section = "\n".join(before_after_section(results, section_title))
    start, end = _markers(section_title)
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    elif section_title is not None:
        text = f"{text.rstrip()}\n\n{section}\n"
    elif KEEP_MARKER in text:
        head, rest = text.split(KEEP_MARKER, 1)
        text = f"{head}{KEEP_MARKER}\n\n{section}\n{rest}"
    else:
        text = f"{text.rstrip()}\n\n{KEEP_MARKER}\n\n{section}\n"
    report.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- main


def run_all(calls: int, import_runs: int, repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "calls": calls,
        "machine": machine(),
    }
    print("bench: import time", flush=True)
    results["imports"] = {
        "trackwire": import_time("trackwire", import_runs),
        "official": import_time("segment.analytics", import_runs),
    }
    print("bench: gzip compression cost", flush=True)
    results["compression"] = compression_cost()
    plan: list[tuple[str, str, str, int | None, str]] = []
    for label, queue in (("default", None), ("large_queue", LARGE_QUEUE)):
        for sdk in ("trackwire", "official"):
            plan.append(("scenarios", label, sdk, queue, "default"))
    for setting in GZIP_SETTINGS:
        plan.append(("gzip", setting, "trackwire", LARGE_QUEUE, setting))
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for round_ in range(1, repeat + 1):
        for group, label, sdk, queue, gzip in plan:
            name = f"{label if group == 'scenarios' else 'gzip-' + label}-run{round_}"
            row = measure(name, sdk, calls, max_queue_size=queue, gzip=gzip).row()
            runs.setdefault((group, label, sdk), []).append(row)
            print(
                f"bench: run {round_}/{repeat} {group} {label} {sdk}: "
                f"{row['mean_us']:.2f} µs/call mean, {row['events_per_s']:,.0f} events/s, "
                f"loss {row['loss']:,}",
                flush=True,
            )
    results["scenarios"] = {}
    results["gzip"] = {}
    for (group, label, sdk), rows in runs.items():
        summary = aggregate(rows)
        if group == "gzip":
            results["gzip"][label] = summary
        else:
            results["scenarios"].setdefault(label, {})[sdk] = summary
    results["runs"] = {"/".join(key): rows for key, rows in runs.items()}
    print("bench: collector ingest", flush=True)
    results["collector"] = collector_ingest.measure(repeat=repeat)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000, help="track calls per measurement")
    parser.add_argument("--import-runs", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    parser.add_argument(
        "--profile", action="store_true", help="profile trackwire's call loop and print it"
    )
    parser.add_argument(
        "--before-ref",
        metavar="GIT_REF",
        help="only compare trackwire at GIT_REF, trackwire now and the official SDK "
        "(big queue), and write the before/after section of RESULTS.md",
    )
    parser.add_argument(
        "--also-gzip",
        action="store_true",
        help="with --before-ref: also measure trackwire now with gzip_level=1",
    )
    parser.add_argument(
        "--section",
        metavar="TITLE",
        help="with --before-ref: write a section of this title (added at the end of "
        "RESULTS.md the first time) instead of the default before/after section",
    )
    args = parser.parse_args()
    ensure_bench_venv()
    OUT.mkdir(exist_ok=True)
    if args.before_ref:
        compared = run_before_after(args.before_ref, args.calls, args.repeat, args.also_gzip)
        (OUT / "before_after.json").write_text(json.dumps(compared, indent=2) + "\n")
        write_before_after(compared, args.section)
        print("bench: wrote the before/after section of bench/RESULTS.md")
        return
    if args.profile:
        row = measure("profile", "trackwire", args.calls, max_queue_size=LARGE_QUEUE, profile=True)
        text = row.worker["profile"]
        (OUT / "profile.txt").write_text(text, encoding="utf-8")
        print(text)
        return
    started = time.monotonic()
    results = run_all(args.calls, args.import_runs, args.repeat)
    results["runtime_s"] = round(time.monotonic() - started, 1)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    report = BENCH / "RESULTS.md"
    kept = ""
    if report.exists():
        previous = report.read_text(encoding="utf-8")
        if KEEP_MARKER in previous:
            kept = previous[previous.index(KEEP_MARKER) + len(KEEP_MARKER) :]
    report.write_text(f"{write_report(results).rstrip()}\n\n{KEEP_MARKER}{kept}", encoding="utf-8")
    print(f"bench: wrote bench/RESULTS.md and bench/out/results.json in {results['runtime_s']} s")


if __name__ == "__main__":
    main()
