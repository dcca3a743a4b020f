"""The collector routes' Python per event, without HTTP and without a store.

Calls the Segment ``/v1/batch``, Amplitude ``/batch`` and mParticle ``/v2/bulkevents`` route
functions in-process with the request bodies of ``collector_ingest.py --scale`` (400 events a
request, unique ids, 20,000 users) and a store that keeps nothing: from the body bytes to the
records handed to ``Ingestion.write`` (parse, vendor checks, Segment's enrichment and
re-encoding, the records). Reports CPU microseconds per event (``time.thread_time``) for each
vendor, and for Segment again with the batch's ``sentAt`` that every Segment SDK sends (its
skew correction); with ``--before SRC`` the same for another copy of ``src/``, taking turns in
one run.
``--check`` compares every record both copies build (fields, payload and stored bytes) instead.

    python bench/route_work.py --before "$before/src"
    python bench/route_work.py --before "$before/src" --check
    python bench/route_work.py --profile segment   # cProfile of this checkout's route
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
VENDORS = ("segment", "amplitude", "mparticle")
START_MS = 1_767_225_600_000


def build_requests(requests: int) -> dict[str, list[tuple[bytes, dict[str, str]]]]:
    """``requests`` bodies (and headers) per vendor, as the scale benchmark sends them."""
    sys.path.insert(0, str(BENCH))
    from collector_ingest import _request

    found: dict[str, list[tuple[bytes, dict[str, str]]]] = {}
    for vendor in VENDORS:
        found[vendor] = []
        for n in range(requests):
            _path, body, headers = _request(vendor, n, START_MS + n * 400)
            found[vendor].append((body, headers))
    return found


class _Keep:
    """A store's write side that keeps nothing (or, for ``--check``, every record)."""

    def __init__(self, keep: bool) -> None:
        self.records: list[Any] = []
        self.keep = keep

    def ingest(self, records: Any, request_key: Any = None, *, max_bytes: int = 0) -> Any:
        from trackwire.collector.store import IngestResult

        if self.keep:
            self.records.extend(records)
        return IngestResult(len(records), 0)


def _flows(keep: bool) -> tuple[dict[str, Any], _Keep]:
    """Each vendor's route function, bound as the collector binds it, over one store."""
    from trackwire.collector.counters import RequestCounters
    from trackwire.collector.routes import amplitude, mparticle, segment
    from trackwire.collector.vendors import Ingestion

    store = _Keep(keep)
    if keep:
        # Segment's receivedAt is the server's clock: the same instant for both copies.
        from datetime import datetime, timezone

        class _Frozen(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> Any:
                return datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)

        segment.datetime = _Frozen  # type: ignore[misc]
    counters = RequestCounters()

    def ingestion(vendor: str) -> Any:
        return Ingestion(vendor, lambda *_: None, store, None, counters, None)  # type: ignore[arg-type]

    seg = segment._Segment(ingestion("segment"))
    amp = amplitude._Amplitude(ingestion("amplitude"))
    mp = mparticle._MParticle(ingestion("mparticle"))
    json_type = "application/json"

    def seg_flow(body: bytes, headers: dict[str, str]) -> Any:
        return seg.flow(
            body, kind=None, authorization=headers["Authorization"], content_type=json_type
        )

    def amp_flow(body: bytes, headers: dict[str, str]) -> Any:
        return amp.upload_flow(body, endpoint="batch", content_type=json_type)

    def mp_flow(body: bytes, headers: dict[str, str]) -> Any:
        return mp.flow(
            body,
            bulk=True,
            historical=False,
            authorization=headers["Authorization"],
            content_type=json_type,
        )

    return {"segment": seg_flow, "amplitude": amp_flow, "mparticle": mp_flow}, store


def _record_digest(record: Any) -> str:
    """Every field of a record, its payload's bytes and what the store would keep."""
    from trackwire.collector.store import expand

    fields = {}
    for name in type(record).__dataclass_fields__:
        value = getattr(record, name)
        fields[name] = repr(value)
    payload = record.payload
    stored = record.payload_json or orjson.dumps(payload)
    context = record.context
    full = payload if context is None else expand(context.kind, context.data, dict(payload))
    text = repr(sorted(fields.items())) + repr(stored) + repr(orjson.dumps(full))
    return hashlib.sha256(text.encode()).hexdigest()


def child(path: Path, rounds: int, check: bool, gc_threshold: int | None) -> dict[str, Any]:
    """Run in a process whose ``sys.path`` starts with the ``src/`` under test."""
    if gc_threshold is not None:
        import gc

        gc.set_threshold(gc_threshold, *gc.get_threshold()[1:])
    requests = orjson.loads(path.read_bytes())
    bodies = {
        vendor: [(item[0].encode("latin-1"), item[1]) for item in items]
        for vendor, items in requests.items()
    }
    flows, store = _flows(keep=check)
    # Segment's SDKs send sentAt: its skew correction is compared (and timed) too.
    bodies["segment_sent_at"] = [
        (orjson.dumps({**orjson.loads(body), "sentAt": "2026-01-01T00:00:05.250Z"}), headers)
        for body, headers in bodies["segment"]
    ]
    flows["segment_sent_at"] = flows["segment"]
    if check:
        digests = {}
        for vendor, items in bodies.items():
            store.records.clear()
            for body, headers in items:
                reply = flows[vendor](body, headers)
                assert reply.status < 300, reply
            digest = hashlib.sha256()
            for record in store.records:
                digest.update(_record_digest(record).encode())
            digests[vendor] = [len(store.records), digest.hexdigest()]
        return digests
    result: dict[str, Any] = {}
    for vendor, items in bodies.items():
        flow = flows[vendor]
        events = sum(_count(vendor, body) for body, _ in items)
        samples = []
        for _ in range(rounds):
            t0 = time.thread_time()
            for body, headers in items:
                flow(body, headers)
            samples.append((time.thread_time() - t0) * 1e6 / events)
        result[vendor] = samples
    return result


def _count(vendor: str, body: bytes) -> int:
    decoded = orjson.loads(body)
    if vendor.startswith("segment"):
        return len(decoded["batch"])
    if vendor == "amplitude":
        return len(decoded["events"])
    return sum(len(batch["events"]) for batch in decoded)


def _run_child(
    src: Path, path: Path, rounds: int, check: bool, gc_threshold: int | None = None
) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(src))
    command = [sys.executable, __file__, "--child", str(path), "--rounds", str(rounds)]
    if check:
        command.append("--check")
    if gc_threshold is not None:
        command += ["--gc-threshold", str(gc_threshold)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=50, help="requests per vendor (400 events)")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per process")
    parser.add_argument("--turns", type=int, default=3, help="processes per copy, taking turns")
    parser.add_argument("--before", type=Path, help="another src/ to compare with")
    parser.add_argument("--check", action="store_true", help="compare the records instead")
    parser.add_argument("--profile", choices=VENDORS, help="cProfile one vendor's route")
    parser.add_argument(
        "--gc-threshold", type=int, help="the garbage collector's first threshold (700)"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.rounds, args.check, args.gc_threshold)))
        return
    requests = build_requests(args.requests)
    if args.profile:
        import cProfile
        import pstats

        sys.path.insert(0, str(BENCH.parent / "src"))
        flows, _ = _flows(keep=False)
        flow = flows[args.profile]
        items = requests[args.profile]
        profiler = cProfile.Profile()
        profiler.enable()
        for body, headers in items:
            flow(body, headers)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "requests.json"
        # Bodies are ASCII JSON: latin-1 carries them through JSON text unchanged.
        path.write_bytes(
            orjson.dumps(
                {
                    vendor: [(body.decode("latin-1"), headers) for body, headers in items]
                    for vendor, items in requests.items()
                }
            )
        )
        copies = {"after": BENCH.parent / "src"}
        if args.before is not None:
            copies["before"] = args.before
        print(f"load average before: {os.getloadavg()}")
        if args.check:
            found = {name: _run_child(src, path, 1, True) for name, src in copies.items()}
            for vendor in (*VENDORS, "segment_sent_at"):
                same = len({json.dumps(found[name][vendor]) for name in copies}) == 1
                counts = {name: found[name][vendor][0] for name in copies}
                print(f"{vendor}: records {counts}, {'identical' if same else 'DIFFERENT'}")
            return
        samples: dict[str, dict[str, list[float]]] = {name: {} for name in copies}
        for _ in range(args.turns):
            for name, src in copies.items():
                found = _run_child(src, path, args.rounds, False, args.gc_threshold)
                for vendor, values in found.items():
                    samples[name].setdefault(vendor, []).extend(values)
        print(f"load average after: {os.getloadavg()}")
        print("µs of CPU per event (median of passes; min in brackets)")
        for vendor in (*VENDORS, "segment_sent_at"):
            line = f"{vendor:>15}:"
            for name in copies:
                values = samples[name][vendor]
                line += f"  {name} {statistics.median(values):6.2f} ({min(values):.2f})"
            if "before" in copies:
                ratio = statistics.median(samples["after"][vendor]) / statistics.median(
                    samples["before"][vendor]
                )
                line += f"  after/before {ratio:.2f}"
            print(line)


if __name__ == "__main__":
    main()
