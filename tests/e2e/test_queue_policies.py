"""End to end: what each ``on_full`` policy does when the bounded queue is full."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import trackwire
from tests.sink import Action, Sink

FAST_RETRY = trackwire.RetryConfig(initial_backoff=0.05, max_backoff=0.5, max_retries=1000)

SegmentFactory = Callable[..., trackwire.Segment]


@pytest.fixture
def segment(sink: Sink) -> Iterator[SegmentFactory]:
    """Make clients pointed at the sink; each is shut down (within 1 s) after the test."""
    made: list[trackwire.Segment] = []

    def make(**options: Any) -> trackwire.Segment:
        client = trackwire.Segment("queue-key", host=sink.url, retry=FAST_RETRY, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.shutdown(timeout=1)


def stall_worker(sink: Sink, client: trackwire.Segment, seconds: int) -> trackwire.Receipt:
    """Keep the only worker busy: its first batch is told to retry in ``seconds`` seconds.

    Returns the first message's receipt once the sink has seen it, so the queue is empty and
    nothing else will be taken from it until the retry.
    """
    sink.script = [Action(503, headers={"Retry-After": str(seconds)})]
    first = client.track("u1", "First")
    assert sink.wait_until(lambda: len(sink.requests) == 1, timeout=5)
    return first


def delivered_properties(sink: Sink) -> list[int]:
    """``properties.i`` of every delivered message, in arrival order."""
    return [m["properties"]["i"] for m in sink.delivered() if "i" in m["properties"]]


def test_reject_fails_the_extra_calls_at_once_and_counts_them(
    sink: Sink, segment: SegmentFactory
) -> None:
    """on_full='reject': with the worker stuck, calls beyond 10 queued fail at once as queue_full.

    Their receipts are settled before the call returns, ``dropped.queue_full`` counts them, the
    ``drop`` hook reports their ids, and the ten queued messages are still delivered.
    """
    client = segment(max_queue_size=10, flush_at=1000, flush_interval=60, on_full="reject")
    drops: list[trackwire.BatchReport] = []
    client.on("drop", drops.append)
    first = stall_worker(sink, client, seconds=1)

    kept = [client.track("u1", "Kept", {"i": i}) for i in range(10)]
    rejected = []
    for i in range(10, 15):
        started = time.monotonic()
        receipt = client.track("u1", "Rejected", {"i": i})
        assert time.monotonic() - started < 0.1, "reject must not wait"
        assert receipt.done and not receipt.ok
        assert receipt.error is not None and receipt.error.reason == "queue_full"
        rejected.append(receipt)

    assert client.stats()["dropped"] == {"queue_full": 5}
    assert [report.reason for report in drops] == ["queue_full"] * len(drops)
    assert [mid for report in drops for mid in report.message_ids] == [
        receipt.message_id for receipt in rejected
    ]
    assert not any(receipt.done for receipt in kept)

    assert client.flush(timeout=5)
    assert first.ok and all(receipt.ok for receipt in kept)
    assert delivered_properties(sink) == list(range(10))


def test_drop_oldest_drops_the_oldest_and_delivers_the_newest(
    sink: Sink, segment: SegmentFactory
) -> None:
    """on_full='drop_oldest': 15 calls into a queue of 10 keep calls 5-14 and drop 0-4."""
    client = segment(
        max_queue_size=10,
        flush_at=1000,
        flush_interval=60,
        send_first_immediately=False,
        on_full="drop_oldest",
    )
    drops: list[trackwire.BatchReport] = []
    client.on("drop", drops.append)

    receipts = [client.track("u1", "Event", {"i": i}) for i in range(15)]

    for receipt in receipts[:5]:
        assert receipt.done and receipt.error is not None
        assert receipt.error.reason == "queue_full"
    assert not any(receipt.done for receipt in receipts[5:])
    assert client.stats()["dropped"] == {"queue_full": 5}
    assert [mid for report in drops for mid in report.message_ids] == [
        receipt.message_id for receipt in receipts[:5]
    ]

    assert client.flush(timeout=5)
    assert all(receipt.ok for receipt in receipts[5:])
    assert delivered_properties(sink) == list(range(5, 15))


def test_block_makes_the_caller_wait_and_loses_nothing(sink: Sink, segment: SegmentFactory) -> None:
    """on_full='block': 200 calls through a queue of 10 to a slow sink arrive once, in order."""
    sink.default = Action(delay=0.01)
    client = segment(
        max_queue_size=10,
        flush_at=5,
        send_first_immediately=False,
        on_full="block",
        block_timeout=10,
    )
    drops: list[trackwire.BatchReport] = []
    client.on("drop", drops.append)

    receipts = [client.track("u1", "Backfill", {"i": i}) for i in range(200)]
    assert client.flush(timeout=20)

    assert drops == []
    assert all(receipt.ok for receipt in receipts)
    assert delivered_properties(sink) == list(range(200))
    stats = client.stats()
    assert stats["dropped"] == {} and stats["delivered"] == 200
    # The queue held at most 10 at a time, so 200 messages needed at least 20 requests.
    assert len(sink.requests) >= 20
    assert max(len(r.json["batch"]) for r in sink.requests) <= 10


def test_block_gives_up_after_block_timeout_when_the_sink_is_stuck(
    sink: Sink, segment: SegmentFactory
) -> None:
    """on_full='block', block_timeout=0.2, a stuck worker: the call waits ~0.2 s, then drops."""
    client = segment(
        max_queue_size=10,
        flush_at=1000,
        flush_interval=60,
        on_full="block",
        block_timeout=0.2,
    )
    drops: list[trackwire.BatchReport] = []
    client.on("drop", drops.append)
    stall_worker(sink, client, seconds=30)
    for i in range(10):
        client.track("u1", "Queued", {"i": i})

    started = time.monotonic()
    receipt = client.track("u1", "Too Many")
    waited = time.monotonic() - started

    assert 0.18 <= waited < 1.0, waited
    assert receipt.done and receipt.error is not None
    assert receipt.error.reason == "queue_full"
    assert client.stats()["dropped"] == {"queue_full": 1}
    assert [list(report.message_ids) for report in drops] == [[receipt.message_id]]
