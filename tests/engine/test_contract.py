"""The engine's contract, run over every destination and every queue implementation.

Each test drives an :class:`~trackwire._engine.worker.Engine` directly (no vendor client) with
a scripted :class:`~trackwire.testing.RecordingTransport` or a real HTTP server on 127.0.0.1,
once per (destination, queue) pair from ``tests/engine/destinations.py`` and ``queues.py``.
Nothing sleeps to wait for a thread: tests wait on receipts, flush() or the sink's condition.
"""

from __future__ import annotations

import gzip
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.helpers import timed
from tests.engine.destinations import DESTINATIONS
from tests.engine.queues import ENGINE_QUEUES
from tests.engine.transports import GatedTransport
from tests.sink import Action, Sink
from trackwire._engine import delivery
from trackwire._engine.batcher import BatchLimits
from trackwire._engine.destination import Destination
from trackwire._engine.receipts import BatchReport, Hooks, Receipt
from trackwire._engine.retry import Delivered, Outcome, Throttled
from trackwire._engine.transport import HTTPRequest, HTTPResult, Transport
from trackwire._engine.worker import Engine
from trackwire.config import DeliveryConfig, RetryConfig
from trackwire.testing import RecordingTransport

FAST_RETRY = RetryConfig(max_retries=5, initial_backoff=0.01, max_backoff=0.02, jitter=0.0)


@dataclass
class Rig:
    """An engine under test and what it talks to."""

    engine: Engine
    transport: Transport
    hooks: Hooks
    reports: list[BatchReport]

    def send(self, n: int, prefix: str = "m") -> list[Receipt]:
        receipts = []
        for i in range(n):
            receipt = Receipt(f"{prefix}{i}")
            data = orjson.dumps(
                {"type": "track", "event": f"{prefix}{i}", "messageId": f"{prefix}{i}"}
            )
            receipts.append(self.engine.submit(data, receipt))
        return receipts


def batches(transport: RecordingTransport) -> list[list[str]]:
    """The event names of each request, in order."""
    out = []
    for request in transport.requests:
        body = request.body
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        decoded = orjson.loads(body)
        messages = decoded if isinstance(decoded, list) else decoded["batch"]
        out.append([message["event"] for message in messages])
    return out


RigFactory = Callable[..., Rig]


@pytest.fixture(params=sorted(DESTINATIONS))
def destination_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=sorted(ENGINE_QUEUES))
def queue_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rig(destination_name: str, queue_name: str, tmp_path: Path) -> Iterator[RigFactory]:
    made: list[Engine] = []

    def make(
        transport: Transport | None = None,
        url: str = "http://127.0.0.1:9",
        retry: RetryConfig = FAST_RETRY,
        destination: Destination | None = None,
        on_error: Any = None,
        **config: Any,
    ) -> Rig:
        config.setdefault("send_first_immediately", False)
        config.setdefault("flush_at", 1000)
        config.setdefault("flush_interval", 30.0)
        delivery = DeliveryConfig(**config)
        hooks = Hooks()
        reports: list[BatchReport] = []
        for name in ("flush", "retry", "error", "drop"):
            hooks.add(name, reports.append)
        queue = ENGINE_QUEUES[queue_name]
        engine = Engine(
            destination or DESTINATIONS[destination_name](url),
            delivery,
            retry,
            transport or RecordingTransport(),
            hooks,
            on_error,
            queue_factory=lambda c: queue(c.max_queue_size, c.max_queue_bytes, tmp_path),
        )
        made.append(engine)
        return Rig(engine, engine._transport, hooks, reports)

    yield make
    for engine in made:
        engine.shutdown(1)


# ---------------------------------------------------------------- batching triggers


def test_flush_at_sends_one_full_batch(rig: RigFactory) -> None:
    transport = RecordingTransport()
    r = rig(transport, flush_at=5)
    receipts = r.send(5)
    assert all(receipt.wait(5) for receipt in receipts)
    assert batches(transport) == [[f"m{i}" for i in range(5)]]


def test_flush_interval_sends_a_lone_message(rig: RigFactory) -> None:
    transport = RecordingTransport()
    r = rig(transport, flush_interval=0.05)
    (receipt,) = r.send(1)
    assert receipt.wait(5)
    assert batches(transport) == [["m0"]]


def test_first_message_goes_at_once_when_asked(rig: RigFactory) -> None:
    transport = RecordingTransport()
    r = rig(transport, send_first_immediately=True)
    (receipt,) = r.send(1)
    assert receipt.wait(5)


def test_flush_sends_everything_queued_in_order(rig: RigFactory) -> None:
    transport = RecordingTransport()
    r = rig(transport)
    r.send(7)
    assert r.engine.flush(5)
    assert [name for batch in batches(transport) for name in batch] == [f"m{i}" for i in range(7)]


# ---------------------------------------------------------------- responses


def test_transient_failures_are_retried_with_the_retry_count(rig: RigFactory) -> None:
    transport = RecordingTransport([HTTPResult(503), HTTPResult(status=None, error="timeout")])
    r = rig(transport)
    receipts = r.send(3)
    assert r.engine.flush(5)
    assert all(receipt.ok for receipt in receipts)
    assert len(transport.requests) == 3
    assert [req.headers.get("X-Retry-Count") for req in transport.requests] == [None, "1", "2"]
    retries = [report for report in r.reports if report.kind == "retry"]
    assert [report.attempt for report in retries] == [1, 2]
    assert retries[0].response is not None and retries[0].response.status == 503
    assert receipts[0].response is not None and receipts[0].response.status == 200
    assert r.engine.stats()["retries"] == 2


def test_retry_after_replaces_the_backoff(rig: RigFactory) -> None:
    # A 60 s backoff would outlast the flush; Retry-After: 0 says try again now.
    transport = RecordingTransport([HTTPResult(429, headers={"retry-after": "0"})])
    r = rig(transport, retry=RetryConfig(initial_backoff=60, jitter=0))
    receipts = r.send(2)
    assert r.engine.flush(5)
    assert all(receipt.ok for receipt in receipts)


def test_retries_give_up_and_report_retry_exhausted(rig: RigFactory) -> None:
    transport = RecordingTransport(default=HTTPResult(503))
    errors: list[Any] = []
    r = rig(
        transport,
        retry=RetryConfig(max_retries=2, initial_backoff=0.0, jitter=0),
        on_error=lambda error, messages: errors.append((error.reason, len(messages))),
    )
    receipts = r.send(2)
    assert r.engine.flush(5)
    assert len(transport.requests) == 3
    assert {receipt.error.reason for receipt in receipts if receipt.error} == {"retry_exhausted"}
    assert errors == [("retry_exhausted", 2)]
    (report,) = [report for report in r.reports if report.kind == "error"]
    assert report.last_attempt and report.status == 503


def test_a_retry_schedule_sets_the_number_of_retries(rig: RigFactory) -> None:
    transport = RecordingTransport(default=HTTPResult(503))
    r = rig(transport, retry=RetryConfig(delays=(0.0, 0.01, 0.0), jitter=0))
    (receipt,) = r.send(1)
    assert r.engine.flush(5)
    assert len(transport.requests) == 4
    assert receipt.error is not None and receipt.error.reason == "retry_exhausted"


def test_a_client_error_rejects_the_batch_without_retry(rig: RigFactory) -> None:
    transport = RecordingTransport([HTTPResult(400, body=b'{"message":"bad"}')])
    r = rig(transport)
    receipts = r.send(3)
    assert r.engine.flush(5)
    assert len(transport.requests) == 1
    assert all(receipt.error and receipt.error.reason == "rejected" for receipt in receipts)
    assert r.engine.stats()["failed"] == {"rejected": 3}


def test_413_splits_and_later_batches_stay_small(rig: RigFactory) -> None:
    transport = RecordingTransport([HTTPResult(413)])
    r = rig(transport)
    first = r.send(8, "a")
    assert r.engine.flush(5)
    assert all(receipt.ok for receipt in first)
    second = r.send(8, "b")
    assert r.engine.flush(5)
    assert all(receipt.ok for receipt in second)
    sizes = [len(batch) for batch in batches(transport)]
    assert sizes[:3] == [8, 4, 4]
    assert max(sizes[3:]) <= 4 and sum(sizes[3:]) == 8


def test_throttled_messages_wait_while_the_others_flow(
    rig: RigFactory, destination_name: str
) -> None:
    base = DESTINATIONS[destination_name]("http://127.0.0.1:9")
    answered = threading.Event()

    class ThrottleFirst:
        """The base destination, but the first response throttles the batch's first message."""

        name = base.name
        limits = BatchLimits(max_count=100, max_bytes=100_000, overhead=200)

        def request(self, messages: Any, retry_count: int) -> HTTPRequest:
            return base.request(messages, retry_count)

        def outcome(self, result: HTTPResult, messages: Any) -> Outcome:
            if not answered.is_set():
                answered.set()
                return Throttled("HTTP 429: throttled", after=0.2, deferred=[0], rejected=[1])
            return Delivered()

    transport = RecordingTransport()
    r = rig(transport, destination=ThrottleFirst())
    receipts = r.send(4)
    assert r.engine.flush(5)
    assert receipts[0].ok and receipts[2].ok and receipts[3].ok
    assert receipts[1].error is not None and receipts[1].error.reason == "rejected"
    assert batches(transport) == [["m0", "m1", "m2", "m3"], ["m2", "m3"], ["m0"]]


# ---------------------------------------------------------------- deadlines


def test_flush_returns_false_by_its_deadline_when_the_server_hangs(rig: RigFactory) -> None:
    transport = GatedTransport()
    r = rig(transport)
    r.send(1)
    ok, _ = timed(lambda: r.engine.flush(0.2), limit=2)
    assert ok is False
    transport.gate.set()
    assert r.engine.flush(5)


def test_shutdown_returns_by_its_deadline_and_fails_what_is_left(rig: RigFactory) -> None:
    transport = RecordingTransport(default=HTTPResult(503))
    r = rig(transport, retry=RetryConfig(initial_backoff=30, jitter=0))
    receipts = r.send(3)
    timed(lambda: r.engine.shutdown(0.3), limit=2)
    assert all(receipt.error and receipt.error.reason == "shutdown" for receipt in receipts)
    after = r.send(1, "late")[0]
    assert after.error is not None and after.error.reason == "after_close"


def test_a_batch_in_backoff_tries_again_early_when_messages_pile_up(
    rig: RigFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An outage ends while the batch sleeps in a 60 s backoff: with the queue filling up, the
    # batch probes again (without spending a retry) and delivery resumes.
    monkeypatch.setattr(delivery, "_PROBE_SECONDS", 0.05)
    transport = RecordingTransport([HTTPResult(503)])
    r = rig(transport, retry=RetryConfig(initial_backoff=60, jitter=0), max_queue_size=10)
    first = r.send(1, "a")
    assert r.engine.flush(0.05) is False  # sent once, now sleeping in its backoff
    more = r.send(6, "b")
    assert r.engine.flush(5)
    assert first[0].ok and all(receipt.ok for receipt in more)
    assert r.engine.stats()["retries"] == 1


# ---------------------------------------------------------------- full queue


def test_reject_refuses_calls_over_the_bound(rig: RigFactory) -> None:
    r = rig(max_queue_size=3)
    receipts = r.send(5)
    assert [receipt.done for receipt in receipts] == [False, False, False, True, True]
    assert receipts[4].error is not None and receipts[4].error.reason == "queue_full"
    assert r.engine.stats()["dropped"] == {"queue_full": 2}


def test_drop_oldest_makes_room_for_the_newest(rig: RigFactory) -> None:
    transport = RecordingTransport()
    r = rig(transport, max_queue_size=3, on_full="drop_oldest")
    receipts = r.send(5)
    assert r.engine.flush(5)
    assert [receipt.ok for receipt in receipts] == [False, False, True, True, True]
    assert [name for batch in batches(transport) for name in batch] == ["m2", "m3", "m4"]


def test_block_waits_for_room_and_loses_nothing(rig: RigFactory) -> None:
    transport = RecordingTransport()
    r = rig(transport, max_queue_size=2, flush_at=2, on_full="block", block_timeout=5)
    receipts, _ = timed(lambda: r.send(20), limit=5)
    assert r.engine.flush(5)
    assert all(receipt.ok for receipt in receipts)


# ---------------------------------------------------------------- a real server, fork


def test_delivers_to_a_real_server_over_http(rig: RigFactory, sink: Sink) -> None:
    sink.script = [Action(status=500), Action(status=None)]
    r = rig(url=sink.url, transport=_real_transport(), flush_at=10)
    receipts = r.send(25)
    assert r.engine.flush(10)
    assert all(receipt.ok for receipt in receipts)
    assert sorted(m["event"] for m in sink.delivered()) == sorted(f"m{i}" for i in range(25))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_empty_and_delivers_its_own(rig: RigFactory, sink: Sink) -> None:
    r = rig(url=sink.url, transport=_real_transport())
    r.send(3, "parent")
    pid = os.fork()
    if pid == 0:  # the child: nothing inherited, its own message delivered
        code = 1
        try:
            if r.engine.stats()["queued"] == 0:
                (receipt,) = r.send(1, "child")
                code = 0 if r.engine.flush(5) and receipt.ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert r.engine.flush(5)
    events = sorted(m["event"] for m in sink.delivered())
    assert events == ["child0", "parent0", "parent1", "parent2"]


def _real_transport() -> Transport:
    from trackwire._engine.transport import Urllib3Transport

    return Urllib3Transport(connect_timeout=2, read_timeout=5)


_EXIT_SCRIPT = """
import sys
from pathlib import Path

import orjson

from tests.engine.destinations import DESTINATIONS
from tests.engine.queues import ENGINE_QUEUES
from tests.engine.transports import GatedTransport
from trackwire._engine.receipts import Hooks, Receipt
from trackwire._engine.transport import Urllib3Transport
from trackwire._engine.worker import Engine
from trackwire.config import DeliveryConfig, RetryConfig

destination, queue, url, tmp = sys.argv[1:5]
config = DeliveryConfig(flush_at=1000, flush_interval=60.0, send_first_immediately=False)
make_queue = ENGINE_QUEUES[queue]
engine = Engine(
    DESTINATIONS[destination](url),
    config,
    RetryConfig(initial_backoff=0.01, jitter=0),
    Urllib3Transport(),
    Hooks(),
    queue_factory=lambda c: make_queue(c.max_queue_size, c.max_queue_bytes, Path(tmp)),
)
for i in range(50):
    name = f"exit{i}"
    engine.submit(orjson.dumps({"type": "track", "event": name, "messageId": name}), Receipt(name))
# No flush, no shutdown: the exit hook must deliver all 50.
"""


def test_the_exit_hook_delivers_what_a_script_left_queued(
    destination_name: str, queue_name: str, sink: Sink, tmp_path: Path
) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    args = [destination_name, queue_name, sink.url, str(tmp_path / "exit")]
    done = subprocess.run(
        [sys.executable, "-c", _EXIT_SCRIPT, *args], cwd=root, timeout=60, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert sink.wait_until(lambda: sink.event_count >= 50, timeout=10)
    events = sorted(m["event"] for m in sink.delivered())
    assert events == sorted(f"exit{i}" for i in range(50))
