"""Receipts, hooks and counters: settled once, waited on from threads and asyncio."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import trackwire
from trackwire._engine.receipts import BatchReport, Hooks, Receipt
from trackwire._engine.transport import HTTPResult
from trackwire.errors import ConfigError, DeliveryError
from trackwire.testing import RecordingTransport


def test_receipt_settles_once() -> None:
    receipt = Receipt("m1")
    assert not receipt.done and not receipt.ok and receipt.error is None
    assert receipt._settle(None)
    assert not receipt._settle(DeliveryError("rejected"))
    assert receipt.done and receipt.ok and receipt.error is None


def test_wait_returns_on_settle_from_another_thread() -> None:
    receipt = Receipt("m1")
    started = threading.Event()

    def settle() -> None:
        started.wait(5)
        receipt._settle(DeliveryError("rejected", "no"))

    thread = threading.Thread(target=settle)
    thread.start()
    started.set()
    assert receipt.wait(5) is False
    assert receipt.done and receipt.error is not None and receipt.error.reason == "rejected"
    thread.join()


def test_wait_times_out_while_pending() -> None:
    assert Receipt("m").wait(0.01) is False


def test_done_callbacks_run_once_even_if_added_after_settling() -> None:
    receipt = Receipt("m")
    calls: list[str] = []
    receipt.add_done_callback(lambda r: calls.append("before"))
    receipt._settle(None)
    receipt._settle(None)
    receipt.add_done_callback(lambda r: calls.append("after"))
    assert calls == ["before", "after"]


def test_a_raising_callback_does_not_stop_the_others() -> None:
    receipt = Receipt("m")
    calls: list[int] = []

    def bad(_: Receipt) -> None:
        raise RuntimeError("x")

    receipt.add_done_callback(bad)
    receipt.add_done_callback(lambda r: calls.append(1))
    receipt._settle(None)
    assert calls == [1]


def test_receipt_is_awaitable() -> None:
    async def main() -> tuple[bool, bool]:
        pending = Receipt("a")
        done = Receipt("b")
        done._settle(None)
        loop = asyncio.get_running_loop()
        loop.call_later(
            0.01, lambda: threading.Thread(target=pending._settle, args=(None,)).start()
        )
        return await pending, await done

    assert asyncio.run(main()) == (True, True)


def test_hooks_isolate_failures_and_refuse_unknown_names() -> None:
    hooks = Hooks()
    seen: list[int] = []

    def bad(report: BatchReport) -> None:
        raise ValueError

    hooks.add("flush", bad)
    hooks.add("flush", lambda report: seen.append(report.count))
    hooks.emit(BatchReport(kind="flush", count=3))
    assert seen == [3]
    with pytest.raises(ConfigError):
        hooks.add("explode", lambda r: None)


def test_client_hooks_counters_and_on_error() -> None:
    transport = RecordingTransport(
        [
            HTTPResult(status=503),
            HTTPResult(status=200),
            HTTPResult(status=400, body=b'{"code":"bad","message":"nope"}'),
        ]
    )
    reports: list[BatchReport] = []
    errors: list[tuple[DeliveryError, list[object]]] = []
    analytics = trackwire.Segment(
        "KEY",
        transport=transport,
        send_first_immediately=False,
        flush_at=100,
        retry=trackwire.RetryConfig(initial_backoff=0.0),
        on_error=lambda error, messages: errors.append((error, messages)),
    )
    for name in ("flush", "retry", "error", "drop"):
        analytics.on(name, reports.append)
    first = analytics.track(user_id="u", event="A")
    assert analytics.flush(5)
    second = analytics.track(user_id="u", event="B")
    assert analytics.flush(5)
    assert first.ok and not second.ok
    assert second.error is not None and second.error.status == 400
    assert [r.kind for r in reports] == ["retry", "flush", "error"]
    assert reports[0].status == 503 and reports[0].attempt == 1
    assert reports[2].message_ids == [second.message_id]
    assert len(errors) == 1 and errors[0][1][0]["event"] == "B"  # type: ignore[index]
    stats = analytics.stats()
    assert stats["enqueued"] == 2
    assert stats["delivered"] == 1
    assert stats["retries"] == 1
    assert stats["failed"] == {"rejected": 1}
    assert stats["queued"] == 0 and stats["in_flight"] == 0
    assert [r.headers.get("X-Retry-Count") for r in transport.requests] == [None, "1", None]


def test_settle_all_wakes_waiters_and_runs_callbacks_once() -> None:
    from trackwire._engine.receipts import settle_all

    plain, waited, with_callback, done = Receipt("a"), Receipt("b"), Receipt("c"), Receipt("d")
    done._settle(None)
    calls: list[str | None] = []
    with_callback.add_done_callback(lambda r: calls.append(r.message_id))
    waiter = threading.Thread(target=waited.wait, args=(5,))
    waiter.start()
    deadline = time.monotonic() + 5
    while waited._event is None and time.monotonic() < deadline:  # the waiter is waiting
        waiter.join(0.001)
    settled = settle_all([plain, waited, with_callback, done, None], DeliveryError("rejected"))
    waiter.join(5)
    assert not waiter.is_alive()
    assert [receipt.message_id for receipt in settled] == ["a", "b", "c"]
    assert calls == ["c"]
    assert all(r.error is not None for r in (plain, waited, with_callback))
    assert done.ok
