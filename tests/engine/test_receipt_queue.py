"""The default in-memory queue, whose entries are the calls' receipts."""

from __future__ import annotations

from trackwire._engine.buffer import ReceiptQueue
from trackwire._engine.receipts import Receipt


def put(queue: ReceiptQueue, *sizes: int) -> list[Receipt]:
    made: list[Receipt] = []
    for size in sizes:
        receipt = Receipt(f"m{len(made)}")
        assert queue.try_put(receipt, b"x" * size, 1.5)
        made.append(receipt)
    return made


def test_an_entry_is_its_receipt_with_seq_data_and_time() -> None:
    queue = ReceiptQueue(10, 1_000)
    first, second = put(queue, 3, 4)
    assert (first.seq, first.data, first.enqueued_at) == (0, b"xxx", 1.5)
    assert second.seq == 1 and queue.next_seq == 2
    assert queue.head is first
    assert queue.take(5) == [first, second]
    assert len(queue) == 0 and queue.nbytes == 0 and queue.head is None


def test_try_put_counts_what_waits_and_refuses_over_either_bound() -> None:
    queue = ReceiptQueue(2, 10)
    assert queue.try_put(Receipt(), b"12345", 0.0) == 1
    assert queue.try_put(Receipt(), b"12345", 0.0) == 2
    assert queue.try_put(Receipt(), b"", 0.0) == 0  # count bound
    queue.take(1)
    assert queue.try_put(Receipt(), b"123456", 0.0) == 0  # byte bound: 5 + 6 > 10
    assert queue.try_put(Receipt(), b"12345", 0.0) == 2  # exactly 10 bytes
    assert queue.nbytes == 10 and not queue.has_room(0)
    assert queue.could_ever_fit(10) and not queue.could_ever_fit(11)


def test_sizes_take_evict_and_drain_keep_the_byte_count() -> None:
    queue = ReceiptQueue(10, 1_000)
    made = put(queue, 1, 2, 3, 4)
    assert list(queue.sizes()) == [1, 2, 3, 4]
    assert queue.evict_oldest() is made[0]
    assert queue.nbytes == 9
    assert queue.take(2) == made[1:3] and queue.nbytes == 4
    assert queue.drain() == [made[3]] and queue.nbytes == 0
    assert queue.evict_oldest() is None
    queue.put(made[0], b"again", 2.0)
    assert made[0].seq == 4 and queue.nbytes == 5
