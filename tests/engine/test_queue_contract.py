"""The MessageQueue contract, run over every implementation (tests/engine/queues.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.queues import QUEUES
from trackwire._engine.queue import MessageQueue

Factory = Callable[[int, int], MessageQueue]


@pytest.fixture(params=sorted(QUEUES))
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    factory = QUEUES[request.param]
    return lambda max_items, max_bytes: factory(max_items, max_bytes, tmp_path)


def test_count_bound(make: Factory) -> None:
    queue = make(2, 1_000)
    assert queue.has_room(10)
    queue.offer(b"a" * 10, 0.0)
    queue.offer(b"b" * 10, 0.0)
    assert not queue.has_room(1)
    evicted = queue.evict_oldest()
    assert evicted is not None and evicted.data == b"a" * 10
    assert queue.has_room(10)


def test_byte_bound_is_inclusive(make: Factory) -> None:
    queue = make(100, 100)
    queue.offer(b"x" * 60, 0.0)
    assert queue.has_room(40)
    assert not queue.has_room(41)
    assert queue.could_ever_fit(100) and not queue.could_ever_fit(101)


def test_seqs_increase_and_take_keeps_order_and_byte_count(make: Factory) -> None:
    queue = make(100, 10_000)
    seqs = [queue.offer(b"x" * (n + 1), float(n)) for n in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert queue.next_seq > seqs[-1]
    assert queue.nbytes == 15
    assert list(queue.sizes()) == [1, 2, 3, 4, 5]
    taken = queue.take(2)
    assert [q.seq for q in taken] == seqs[:2]
    assert [q.enqueued_at for q in taken] == [0.0, 1.0]
    assert queue.nbytes == 12
    assert queue.head is not None and queue.head.seq == seqs[2]
    queue.ack(taken)
    assert [q.seq for q in queue.drain()] == seqs[2:]
    assert queue.nbytes == 0 and len(queue) == 0 and queue.head is None


def test_release_puts_a_batch_back_at_the_head_in_order(make: Factory) -> None:
    queue = make(100, 10_000)
    for n in range(4):
        queue.offer(bytes([65 + n]), 0.0)
    taken = queue.take(2)
    queue.release(taken)
    assert len(queue) == 4 and queue.nbytes == 4
    assert [q.data for q in queue.take(4)] == [b"A", b"B", b"C", b"D"]


def test_evict_oldest_on_an_empty_queue_is_none(make: Factory) -> None:
    queue = make(10, 100)
    assert queue.evict_oldest() is None
    assert queue.take(5) == []
    queue.close()
