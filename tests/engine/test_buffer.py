"""The buffer's two bounds and its FIFO order."""

from __future__ import annotations

from trackwire._engine.buffer import Buffer, Queued
from trackwire._engine.receipts import Receipt


def item(seq: int, size: int) -> Queued:
    return Queued(seq, b"x" * size, Receipt(str(seq)), 0.0)


def test_count_bound() -> None:
    buffer = Buffer(max_items=2, max_bytes=1_000)
    assert buffer.has_room(10)
    buffer.append(item(0, 10), 10)
    buffer.append(item(1, 10), 10)
    assert not buffer.has_room(1)
    assert buffer.popleft().seq == 0
    assert buffer.has_room(10)


def test_byte_bound_is_inclusive() -> None:
    buffer = Buffer(max_items=100, max_bytes=100)
    buffer.append(item(0, 60), 60)
    assert buffer.has_room(40)
    assert not buffer.has_room(41)
    assert buffer.could_ever_fit(100) and not buffer.could_ever_fit(101)


def test_take_and_drain_keep_order_and_byte_count() -> None:
    buffer = Buffer(max_items=100, max_bytes=10_000)
    for seq in range(5):
        buffer.append(item(seq, seq + 1), seq + 1)
    assert buffer.nbytes == 15
    assert list(buffer.sizes()) == [1, 2, 3, 4, 5]
    taken = buffer.take(2)
    assert [q.seq for q in taken] == [0, 1]
    assert buffer.nbytes == 12
    assert buffer.head is not None and buffer.head.seq == 2
    assert [q.seq for q in buffer.drain()] == [2, 3, 4]
    assert buffer.nbytes == 0 and len(buffer) == 0 and buffer.head is None
