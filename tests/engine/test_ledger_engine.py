"""What the engine keeps per queued message: no receipt, nothing the garbage collector tracks.

Receipts read their outcome from the engine's ledger; these tests pin that the engine lets go
of the receipts, that the hooks still get every message's id, and that a receipt kept after
its ledger page was let go still knows its outcome.
"""

from __future__ import annotations

import gc
import sys
import threading

import trackwire
from tests.engine.transports import GatedTransport
from trackwire._engine.receipts import BatchReport, Receipt
from trackwire.testing import RecordingTransport


def quiet_client(transport: object, **options: object) -> trackwire.Segment:
    """A client whose worker sends only when flushed."""
    return trackwire.Segment(
        "KEY",
        transport=transport,
        send_first_immediately=False,
        flush_at=10**6,
        flush_interval=3600.0,
        **options,  # type: ignore[arg-type]
    )


def test_the_engine_keeps_no_reference_to_a_queued_message_receipt() -> None:
    client = quiet_client(RecordingTransport())
    receipt = client.track(user_id="u", event="A")
    # Only this frame's name and getrefcount's argument: the queue holds a plain tuple.
    assert sys.getrefcount(receipt) == 2
    assert client.stats()["queued"] == 1
    assert client.flush(5) and receipt.ok
    client.shutdown(5)


def test_queued_messages_add_no_objects_for_the_garbage_collector_to_visit() -> None:
    client = quiet_client(RecordingTransport(), max_queue_size=20_000)
    client.track(user_id="u", event="warm-up")
    gc.collect()
    before = len(gc.get_objects())
    for i in range(10_000):
        client.track(user_id="u", event="A", properties={"i": i})
    gc.collect()  # queue entries are tuples of atoms: untracked by the first pass
    grown = len(gc.get_objects()) - before
    assert client.stats()["queued"] == 10_001
    assert grown < 100, grown  # ledger pages: 10,000 / 256, not one object per message
    assert client.flush(5)
    client.shutdown(5)


def test_hooks_get_every_message_id_in_order_and_evicted_ones_are_reported() -> None:
    transport = RecordingTransport()
    client = quiet_client(transport, max_queue_size=3, on_full="drop_oldest")
    reports: list[BatchReport] = []
    client.on("flush", reports.append)
    client.on("drop", reports.append)
    receipts = [client.track(user_id="u", event=f"e{i}") for i in range(5)]
    assert client.flush(5)
    ids = [receipt.message_id for receipt in receipts]
    assert [(r.kind, list(r.message_ids)) for r in reports] == [
        ("drop", [ids[0]]),
        ("drop", [ids[1]]),
        ("flush", ids[2:]),
    ]
    assert [receipt.error.reason if receipt.error else "ok" for receipt in receipts] == [
        "queue_full",
        "queue_full",
        "ok",
        "ok",
        "ok",
    ]
    assert client.stats()["dropped"] == {"queue_full": 2}
    client.shutdown(5)


def test_a_kept_receipt_outlives_its_ledger_page_and_callbacks_run_once() -> None:
    transport = GatedTransport()
    client = quiet_client(transport)
    calls: list[str | None] = []
    with_callback = client.track(
        user_id="u", event="first", callback=lambda e, m: calls.append(m["event"])
    )
    receipts = [client.track(user_id="u", event=f"e{i}") for i in range(600)]  # three pages
    waiting = receipts[-1]
    waited: list[bool] = []
    waiter = threading.Thread(target=lambda: waited.append(waiting.wait(10)))
    waiter.start()
    assert not waiting.done
    transport.gate.set()
    assert client.flush(5)
    waiter.join(10)
    assert waited == [True]
    assert calls == ["first"] and with_callback.ok
    assert all(receipt.ok for receipt in receipts)
    engine = client._engine
    assert len(engine._ledger) <= 1  # full pages let go; the receipts keep theirs
    assert engine._ledger.watched == {}
    client.shutdown(5)


def test_shutdown_drops_what_is_still_queued_and_reports_the_ids() -> None:
    transport = GatedTransport()
    client = quiet_client(transport)
    reports: list[BatchReport] = []
    client.on("drop", reports.append)
    client.on("error", reports.append)
    sent = client.track(user_id="u", event="sent")
    assert client.flush(0.05) is False  # the worker holds it at the gate
    queued: list[Receipt] = [client.track(user_id="u", event=f"e{i}") for i in range(3)]
    assert client.shutdown(0.1) is False
    assert [(r.kind, r.reason, list(r.message_ids)) for r in reports] == [
        ("drop", "shutdown", [r.message_id for r in queued]),
        ("error", "shutdown", [sent.message_id]),
    ]
    assert all(r.error is not None and r.error.reason == "shutdown" for r in [sent, *queued])
    assert client.stats()["dropped"] == {"shutdown": 3}


def test_an_answer_after_shutdown_failed_the_batch_is_neither_counted_nor_reported_again() -> None:
    # Shutdown fails the batch held at the gate; the server answers afterwards, once the
    # batch's first page was let go. The first outcome stands, counted and reported once.
    transport = GatedTransport(release_on_close=False)
    client = quiet_client(transport)
    reports: list[BatchReport] = []
    for kind in ("flush", "error", "drop"):
        client.on(kind, reports.append)
    receipts = [client.track(user_id="u", event=f"e{i}") for i in range(300)]  # 1+ pages
    assert client.flush(0.05) is False  # in flight, held at the gate
    assert client.shutdown(0.1) is False
    transport.gate.set()
    workers = client._engine._workers
    for thread in workers:
        thread.join(10)  # the worker takes the answer, then exits
    assert not any(thread.is_alive() for thread in workers)
    assert all(r.error is not None and r.error.reason == "shutdown" for r in receipts)
    stats = client.stats()
    assert stats["failed"] == {"shutdown": 300} and stats["delivered"] == 0
    assert [(r.kind, r.count) for r in reports] == [("error", 300)]
