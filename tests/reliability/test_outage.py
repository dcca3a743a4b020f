"""Outage: the collector answers 503 for a stretch while events keep coming. With a spool
nothing is refused, memory stays bounded (the backlog waits on disk), and everything arrives
after recovery."""

from __future__ import annotations

import threading
import tracemalloc
from pathlib import Path

import trackwire
from tests.reliability.conftest import Collected
from trackwire.collector.faults import FaultConfig

EVENTS = 20_000
PADDING = "x" * 1000  # ~1 KB per event: 20 MB in all
WINDOW = 2_000  # max_queue_size: with a spool, the messages held in memory (~2 MB here)


def test_a_long_outage_waits_on_disk_and_recovers(collected: Collected, tmp_path: Path) -> None:
    collected.running.app.faults.configure(FaultConfig(failure_rate=1.0, failure_status=503))
    client = trackwire.Segment(
        "tw-key",
        host=collected.url,
        spool=str(tmp_path / "spool"),
        flush_at=100,
        flush_interval=0.2,
        max_queue_size=WINDOW,
        max_retries=100_000,
        retry=trackwire.RetryConfig(
            max_retries=100_000, initial_backoff=0.05, max_backoff=0.5, max_elapsed=3600
        ),
        handle_sigterm=False,
    )
    try:
        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
        for n in range(EVENTS):
            client.track("user-1", "Numbered", {"n": n, "padding": PADDING})
        during = tracemalloc.get_traced_memory()[0] - baseline
        tracemalloc.stop()
        stats = client.stats()
        assert not stats["dropped"] and not stats["failed"]  # nothing refused or dropped
        assert stats["queued"] + stats["in_flight"] == EVENTS  # all still waiting...
        assert stats["spool_bytes"] > EVENTS * len(PADDING)  # ...on disk
        # 20 MB of events, ten times max_queue_size, yet none refused; memory holds the
        # window (~2 MB) and the callers' receipts (~5 MB), the rest waits on disk. (The
        # memory queue would hold all 20 MB.)
        assert during < EVENTS * len(PADDING) / 2, during

        collected.running.app.faults.configure(FaultConfig())
        assert client.flush(timeout=120)
    finally:
        client.shutdown(timeout=10)
    numbers = collected.numbers("segment")
    assert sorted(numbers) == list(range(EVENTS))
    assert set(numbers.values()) == {1}


def test_without_a_spool_delivery_resumes_soon_after_recovery(collected: Collected) -> None:
    """The in-flight batch may be in a long backoff when the outage ends; with messages piling
    up it tries again early, so the queue drains and new calls are accepted again."""
    collected.running.app.faults.configure(FaultConfig(failure_rate=1.0, failure_status=503))
    retried = threading.Event()
    client = trackwire.Segment(
        "tw-key",
        host=collected.url,
        flush_at=50,
        max_queue_size=200,
        # A first backoff of 20 s: far past the flush deadline below, unless the batch is
        # tried again early because the queue is full.
        retry=trackwire.RetryConfig(
            max_retries=1000, initial_backoff=20, max_backoff=60, jitter=0, max_elapsed=3600
        ),
        handle_sigterm=False,
    )
    client.on("retry", lambda report: retried.set())
    try:
        receipts = [client.track("user-1", "Numbered", {"n": n}) for n in range(1000)]
        assert retried.wait(10)  # the first batch failed and is backing off
        refused_during = client.stats()["dropped"].get("queue_full", 0)
        assert refused_during > 0  # the outage filled the memory queue
        collected.running.app.faults.configure(FaultConfig())
        assert client.flush(timeout=15)  # not 20 s of backoff
        later = [client.track("user-1", "Numbered", {"n": n}) for n in range(1000, 1100)]
        assert client.flush(timeout=15)
        assert client.stats()["dropped"].get("queue_full", 0) == refused_during
    finally:
        client.shutdown(timeout=5)
    accepted = {1000 + i for i, r in enumerate(later) if r.ok}
    accepted |= {n for n, r in enumerate(receipts) if r.ok}
    assert len(accepted) == 1000 + 100 - refused_during
    assert set(collected.numbers("segment")) == accepted
