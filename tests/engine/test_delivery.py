"""Delivery behaviours that are easy to break without noticing, each pinned by one test.

Every test drives an :class:`~trackwire._engine.worker.Engine` directly with a destination
whose answers are scripted as outcome values, so the test says exactly which outcome the
engine sees. Each was checked by hand against a one-line mutation of the delivery code
(``_engine/delivery.py``, or the engine's side of it in ``_engine/worker.py``; named in its
docstring): the test fails with the mutation and passes without it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from trackwire._engine import delivery
from trackwire._engine.batcher import BatchLimits
from trackwire._engine.buffer import Buffer
from trackwire._engine.destination import HTTPDestination
from trackwire._engine.queue import MessageQueue
from trackwire._engine.receipts import BatchReport, Hooks, Receipt
from trackwire._engine.retry import Delivered, Outcome, Rejected, Retry, Throttled
from trackwire._engine.spool import Spool, SpoolConfig
from trackwire._engine.transport import HTTPRequest, HTTPResult
from trackwire._engine.worker import Engine
from trackwire.config import DeliveryConfig, RetryConfig

FAST_RETRY = RetryConfig(max_retries=5, initial_backoff=0.01, max_backoff=0.02, jitter=0.0)
SLOW_RETRY = RetryConfig(max_retries=5, initial_backoff=60.0, jitter=0.0)


class Script:
    """A transport and a destination in one: answers 200 and reads the next scripted outcome.

    Records each request with the time it was sent and the events it carried.
    """

    def __init__(self, outcomes: Sequence[Outcome] = (), default: Outcome | None = None) -> None:
        self.outcomes = list(outcomes)
        self.default: Outcome = default or Delivered()
        self.sent: list[tuple[float, list[str], str | None]] = []
        self.destination = HTTPDestination(
            name="scripted",
            url="http://127.0.0.1:9/ingest",
            limits=BatchLimits(max_count=100, max_bytes=100_000, overhead=12),
            envelope=lambda messages: b'{"batch":[' + b",".join(messages) + b"]}",
            outcome=self._outcome,
            retry_header="X-Retry-Count",
        )

    def _outcome(self, result: HTTPResult, messages: Sequence[bytes]) -> Outcome:
        return self.outcomes.pop(0) if self.outcomes else self.default

    def send(self, request: HTTPRequest) -> HTTPResult:
        events = [m["event"] for m in orjson.loads(request.body)["batch"]]
        self.sent.append((time.monotonic(), events, request.headers.get("X-Retry-Count")))
        return HTTPResult(200)

    def close(self) -> None:
        pass

    def reset_after_fork(self) -> None:
        pass

    def events(self) -> list[list[str]]:
        return [events for _, events, _ in self.sent]


class Rig:
    """An engine over a script, with every hook report kept."""

    def __init__(
        self,
        script: Script,
        retry: RetryConfig = FAST_RETRY,
        queue: MessageQueue | None = None,
        **config: Any,
    ) -> None:
        config.setdefault("send_first_immediately", False)
        config.setdefault("flush_at", 1000)
        config.setdefault("flush_interval", 30.0)
        config.setdefault("gzip", False)
        self.reports: list[BatchReport] = []
        hooks = Hooks()
        for name in ("flush", "retry", "error", "drop"):
            hooks.add(name, self.reports.append)
        made = queue
        self.engine = Engine(
            script.destination,
            DeliveryConfig(**config),
            retry,
            script,
            hooks,
            queue_factory=(
                (lambda c: Buffer(c.max_queue_size, c.max_queue_bytes))
                if made is None
                else (lambda c: made)
            ),
        )

    def send(self, n: int, prefix: str = "m") -> list[Receipt]:
        receipts = []
        for i in range(n):
            name = f"{prefix}{i}"
            data = orjson.dumps({"event": name})
            receipts.append(self.engine.submit(data, Receipt(name)))
        return receipts

    def retries(self) -> list[BatchReport]:
        return [report for report in self.reports if report.kind == "retry"]


@pytest.fixture
def rigs() -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        rig.engine.shutdown(1)


def make(rigs: list[Rig], script: Script, **options: Any) -> Rig:
    rig = Rig(script, **options)
    rigs.append(rig)
    return rig


# ---------------------------------------------------------------- shutdown with a spool


def test_shutdown_leaves_a_batch_in_backoff_on_disk_for_the_next_process(tmp_path: Path) -> None:
    """Mutation: ``ack=False`` -> ``ack=True`` where ``_send`` gives up at shutdown."""
    path = str(tmp_path / "spool")
    script = Script(default=Retry("HTTP 503", status=503))
    rig = Rig(script, retry=SLOW_RETRY, queue=Spool(SpoolConfig(path=path), {"vendor": "test"}))
    receipts = rig.send(3)
    assert rig.engine.flush(0.2) is False  # sent once, now sleeping in a 60 s backoff
    assert script.events() == [["m0", "m1", "m2"]]
    rig.engine.shutdown(0.5)
    assert all(r.error is not None and r.error.reason == "shutdown" for r in receipts)

    reopened = Spool(SpoolConfig(path=path), {"vendor": "test"})
    try:
        left = reopened.take(10)
        assert [orjson.loads(item.data)["event"] for item in left] == ["m0", "m1", "m2"]
    finally:
        reopened.close()


# ---------------------------------------------------------------- partial rejections


def test_a_partial_400_rejecting_only_index_0_resends_the_rest() -> None:
    """Mutation: ``0 <= i < len(pending)`` -> ``0 < i < len(pending)`` in ``_send``."""
    script = Script([Rejected("HTTP 400: bad first event", indices=[0], resend_rest=True)])
    rig = Rig(script)
    receipts = rig.send(3)
    try:
        assert rig.engine.flush(5)
        assert receipts[0].error is not None and receipts[0].error.reason == "rejected"
        assert receipts[1].ok and receipts[2].ok
        assert script.events() == [["m0", "m1", "m2"], ["m1", "m2"]]
        assert rig.engine.stats()["failed"] == {"rejected": 1}
        assert rig.engine.stats()["delivered"] == 2
    finally:
        rig.engine.shutdown(1)


def test_a_partial_400_that_accepted_the_rest_sends_nothing_again() -> None:
    """Mutation: ``if not outcome.resend_rest or not bad`` -> ``if not bad``."""
    script = Script([Rejected("HTTP 400: bad first event", indices=[0], resend_rest=False)])
    rig = Rig(script)
    receipts = rig.send(3)
    try:
        assert rig.engine.flush(5)
        assert receipts[0].error is not None and receipts[0].error.reason == "rejected"
        assert receipts[1].ok and receipts[2].ok
        assert script.events() == [["m0", "m1", "m2"]]
    finally:
        rig.engine.shutdown(1)


# ---------------------------------------------------------------- throttling


def test_throttled_events_wait_for_retry_after_before_they_are_sent_again() -> None:
    """Mutation: ``outcome.after`` -> ``None`` in ``_throttled``'s ``next_delay`` call."""
    script = Script([Throttled("HTTP 429: throttled", after=0.3, deferred=[0])])
    rig = Rig(script)  # its own backoff would be 0.01 s
    receipts = rig.send(3)
    try:
        assert rig.engine.flush(5)
        assert all(r.ok for r in receipts)
        assert script.events() == [["m0", "m1", "m2"], ["m1", "m2"], ["m0"]]
        (retry,) = rig.retries()
        assert retry.retry_in == pytest.approx(0.3)
        first_sent, resent = script.sent[0][0], script.sent[2][0]
        assert resent - first_sent >= 0.3
    finally:
        rig.engine.shutdown(1)


def test_the_retry_number_goes_on_after_a_429_deferral() -> None:
    """Mutation: ``Batch(deferred, batch.retries + 1, ...)`` -> ``batch.retries``."""
    script = Script(
        [
            Throttled("HTTP 429: throttled", after=0.0, deferred=None),
            Retry("HTTP 503", status=503),
        ]
    )
    rig = Rig(script)
    (receipt,) = rig.send(1)
    try:
        assert rig.engine.flush(5)
        assert receipt.ok
        assert [retry_count for _, _, retry_count in script.sent] == [None, "1", "2"]
        assert [report.attempt for report in rig.retries()] == [1, 2]
    finally:
        rig.engine.shutdown(1)


# ---------------------------------------------------------------- backoff and shutdown


def test_shutdown_gives_up_at_once_on_a_retry_due_after_its_deadline() -> None:
    """Mutation: ``resume_at > self._abandon_at`` -> ``False`` in ``_sleep_until``.

    With the mutation the worker sleeps on to the deadline and the batch is failed by the
    deadline's clean-up ("still being sent"), not by the worker giving up ("gave up").
    """
    script = Script(default=Retry("HTTP 503", status=503))
    rig = Rig(script, retry=SLOW_RETRY)
    (receipt,) = rig.send(1)
    assert rig.engine.flush(0.2) is False  # sleeping in a 60 s backoff
    rig.engine.shutdown(1.0)
    assert receipt.error is not None and receipt.error.reason == "shutdown"
    assert receipt.error.detail.startswith("gave up at shutdown after: HTTP 503")
    assert len(script.sent) == 1


@pytest.fixture
def quick_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "_PROBE_SECONDS", 0.05)


@pytest.mark.usefixtures("quick_probes")
def test_no_early_retry_against_a_retry_after_even_when_messages_pile_up(
    rigs: list[Rig],
) -> None:
    """Mutation: ``... if outcome.after is None else None`` -> ``... else _PROBE_SECONDS``."""
    script = Script([Retry("HTTP 429", after=30.0, status=429)])
    rig = make(rigs, script, retry=SLOW_RETRY, max_queue_size=10)
    rig.send(1, "a")
    assert rig.engine.flush(0.1) is False  # sent once, waiting out its Retry-After
    rig.send(8, "b")  # the queue is 80 % full: probing would start now
    assert rig.engine.flush(0.4) is False
    assert script.events() == [["a0"]]


@pytest.mark.usefixtures("quick_probes")
def test_no_early_retry_while_the_queue_stays_short(rigs: list[Rig]) -> None:
    """Mutation: ``if self._under_pressure():`` -> ``if True:`` in ``wait_for_retry``."""
    script = Script([Retry("HTTP 503", status=503)])
    rig = make(rigs, script, retry=SLOW_RETRY, max_queue_size=10)
    rig.send(1, "a")
    assert rig.engine.flush(0.1) is False
    rig.send(2, "b")  # 20 %: no pressure
    assert rig.engine.flush(0.4) is False
    assert script.events() == [["a0"]]


@pytest.mark.usefixtures("quick_probes")
def test_an_early_retry_spends_no_retry_when_messages_pile_up(rigs: list[Rig]) -> None:
    """The other side of the two above: pressure and no Retry-After probe early."""
    script = Script([Retry("HTTP 503", status=503)])
    rig = make(rigs, script, retry=SLOW_RETRY, max_queue_size=10)
    first = rig.send(1, "a")
    assert rig.engine.flush(0.1) is False
    more = rig.send(6, "b")
    assert rig.engine.flush(5)
    assert first[0].ok and all(r.ok for r in more)
    assert script.events()[:2] == [["a0"], ["a0"]]
    assert len(rig.retries()) == 1
