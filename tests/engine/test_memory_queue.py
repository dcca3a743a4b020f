"""The default in-memory queue (plain tuples) and the ledger its receipts read."""

from __future__ import annotations

import gc

import pytest

from trackwire._engine.ledger import MAX_FREED_PAGES, PAGE_SIZE, Ledger
from trackwire._engine.memory_queue import MemoryQueue
from trackwire._engine.receipts import Receipt, settle_all
from trackwire.errors import DeliveryError


def put(queue: MemoryQueue, *sizes: int) -> list[Receipt]:
    made: list[Receipt] = []
    for size in sizes:
        receipt = Receipt(f"m{len(made)}")
        assert queue.try_put(receipt, b"x" * size, 1.5)
        made.append(receipt)
    return made


def test_an_entry_is_a_plain_tuple_of_seq_data_time_and_id() -> None:
    queue = MemoryQueue(10, 1_000)
    first, second = put(queue, 3, 4)
    assert queue.head == (0, b"xxx", 1.5, "m0")
    assert type(queue.head) is tuple
    assert queue.next_seq == 2
    assert queue.take(5) == [(0, b"xxx", 1.5, "m0"), (1, b"xxxx", 1.5, "m1")]
    assert len(queue) == 0 and queue.nbytes == 0 and queue.head is None
    assert not first.done and not second.done


def test_queued_messages_are_no_objects_for_the_garbage_collector() -> None:
    queue = MemoryQueue(10_000, 10_000_000)
    gc.collect()
    tracked = len(gc.get_objects())
    put(queue, *([10] * 1_000))  # the receipts are dropped: the queue keeps none of them
    gc.collect()
    assert len(gc.get_objects()) - tracked < 20  # four ledger pages, not 1,000 objects
    assert len(queue.ledger) == 4 and len(queue) == 1_000
    taken = queue.take(1_000)  # tuples for the worker, made when taken
    assert [entry[0] for entry in taken] == list(range(1_000))


def test_try_put_counts_what_waits_and_refuses_over_either_bound() -> None:
    queue = MemoryQueue(2, 10)
    assert queue.try_put(Receipt(), b"12345", 0.0) == 1
    assert queue.try_put(Receipt(), b"12345", 0.0) == 2
    assert queue.try_put(Receipt(), b"", 0.0) == 0  # count bound
    queue.take(1)
    assert queue.try_put(Receipt(), b"123456", 0.0) == 0  # byte bound: 5 + 6 > 10
    assert queue.try_put(Receipt(), b"12345", 0.0) == 2  # exactly 10 bytes
    assert queue.nbytes == 10 and not queue.has_room(0)
    assert queue.could_ever_fit(10) and not queue.could_ever_fit(11)


def test_sizes_take_evict_and_drain_keep_the_byte_count() -> None:
    queue = MemoryQueue(10, 1_000)
    made = put(queue, 1, 2, 3, 4)
    assert list(queue.sizes()) == [1, 2, 3, 4]
    assert queue.evict_oldest() == (0, b"x", 1.5, "m0")
    assert queue.nbytes == 9
    assert [entry[0] for entry in queue.take(2)] == [1, 2] and queue.nbytes == 4
    assert queue.drain() == [(3, b"xxxx", 1.5, "m3")] and queue.nbytes == 0
    assert queue.evict_oldest() is None
    queue.put(made[0], b"again", 2.0)
    assert queue.head == (4, b"again", 2.0, "m0") and queue.nbytes == 5


def test_a_receipt_reads_its_outcome_from_the_ledger_once_settled() -> None:
    queue = MemoryQueue(1_000, 100_000)
    receipts = put(queue, *([1] * 300))  # two pages
    delivered = (None, None)
    settled = queue.ledger.settle(range(0, 290), delivered)
    assert list(settled) == list(range(290))
    assert all(r.done and r.ok for r in receipts[:290])
    assert not any(r.done for r in receipts[290:])
    assert len(queue.ledger) == 1  # the full first page is let go; its receipts keep it
    error = DeliveryError("rejected", "bad")
    assert list(queue.ledger.settle([295, 291], (error, None))) == [295, 291]
    assert receipts[295].error is error and not receipts[295].ok
    assert not receipts[290].done and not receipts[292].done


def test_each_message_is_settled_once_the_first_outcome_wins() -> None:
    ledger = Ledger()
    first = (DeliveryError("shutdown", "late"), None)
    assert list(ledger.settle([5, 6], first)) == [5, 6]
    # A run overlapping what is settled: only the new seqs are returned and written.
    assert list(ledger.settle(range(4, 9), (None, None))) == [4, 7, 8]
    assert ledger.outcome(5) is first and ledger.outcome(4) == (None, None)
    assert list(ledger.settle([6, 5], (None, None))) == []
    assert ledger.outcome(6) is first


def test_a_run_across_pages_lets_go_of_every_full_page() -> None:
    ledger = Ledger()
    ledger.settle(range(PAGE_SIZE - 10, PAGE_SIZE * 2), (None, None))
    assert len(ledger) == 1  # page 0 still waits for its first 246 seqs; page 1 is done
    ledger.settle(range(PAGE_SIZE - 10), (None, None))
    assert len(ledger) == 0


def test_a_message_settled_again_after_its_page_was_let_go_is_not_new() -> None:
    # Shutdown fails a batch in flight; the worker's answer for it arrives later, after the
    # whole page was settled and let go: nothing is new, and no page is made again.
    ledger = Ledger()
    shutdown = (DeliveryError("shutdown", "late"), None)
    assert list(ledger.settle(range(PAGE_SIZE), shutdown)) == list(range(PAGE_SIZE))
    assert len(ledger) == 0
    assert list(ledger.settle(range(PAGE_SIZE), (None, None))) == []
    assert list(ledger.settle([3, 7], (None, None))) == []
    assert len(ledger) == 0
    # Out of order: page 2 let go before page 1; then a run over all three.
    ledger.settle(range(2 * PAGE_SIZE, 3 * PAGE_SIZE), shutdown)
    assert list(ledger.settle(range(PAGE_SIZE, 3 * PAGE_SIZE + 2), (None, None))) == [
        *range(PAGE_SIZE, 2 * PAGE_SIZE),
        3 * PAGE_SIZE,
        3 * PAGE_SIZE + 1,
    ]
    assert len(ledger) == 1  # page 3, waiting for the rest of its seqs
    assert list(ledger.settle(range(3 * PAGE_SIZE), (None, None))) == []


def test_pages_let_go_behind_a_pending_message_are_remembered_within_a_bound() -> None:
    ledger = Ledger()
    done = (None, None)
    ledger.settle(range(1, PAGE_SIZE), done)  # page 0 waits for seq 0
    pages = MAX_FREED_PAGES + 100
    for index in range(1, pages + 1):
        ledger.settle(range(index * PAGE_SIZE, (index + 1) * PAGE_SIZE), done)
    assert len(ledger._freed) <= MAX_FREED_PAGES
    assert len(ledger) == 1
    # The recent pages are still known as let go; seq 0 settles and the floor moves up.
    assert list(ledger.settle(range(pages * PAGE_SIZE, (pages + 1) * PAGE_SIZE), done)) == []
    assert list(ledger.settle([0], done)) == [0]
    assert len(ledger) == 0


def test_waiters_and_callbacks_of_queued_receipts_are_woken_by_the_ledger() -> None:
    queue = MemoryQueue(10, 1_000)
    seen: list[str | None] = []
    with_callback = Receipt("cb")
    with_callback.add_done_callback(lambda r: seen.append(r.message_id))  # before queueing
    assert queue.try_put(with_callback, b"x", 0.0)
    waited, plain = put(queue, 1, 1)
    assert not waited.wait(0.0)  # installs a waiter, times out
    assert set(queue.ledger.watched) == {0, 1}
    queue.ledger.settle([0, 1, 2], (None, None))
    assert seen == ["cb"] and waited.wait(0.0) and plain.ok
    assert queue.ledger.watched == {}
    later: list[bool] = []
    plain.add_done_callback(lambda r: later.append(r.ok))  # already settled: at once
    assert later == [True]


def test_settle_all_on_a_queued_receipt_goes_through_its_ledger() -> None:
    queue = MemoryQueue(10, 1_000)
    (receipt,) = put(queue, 1)
    error = DeliveryError("rejected", "no")
    assert settle_all([receipt], error) == [receipt]
    assert settle_all([receipt], None) == []
    assert receipt.error is error and queue.ledger.outcome(0) == (error, None)


def test_a_receipt_settled_while_a_waiter_or_callback_arrives_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = MemoryQueue(10, 1_000)
    waited, called = put(queue, 1, 1)
    queue.ledger.settle([0, 1], (None, None))  # nobody watched: the ledger woke nobody
    real = Receipt._state
    reads: list[Receipt] = []

    def pending_at_first_look(self: Receipt) -> object:
        # The first look sees it pending, as if the worker settled it right after.
        reads.append(self)
        return None if reads.count(self) == 1 else real(self)

    monkeypatch.setattr(Receipt, "_state", pending_at_first_look)
    assert waited.wait(0.0)
    seen: list[bool] = []
    called.add_done_callback(lambda r: seen.append(r.ok))
    assert seen == [True]
    assert queue.ledger.watched == {}  # neither is kept by the ledger
