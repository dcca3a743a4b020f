"""Engine behaviour that needs no real server: idle workers, garbage collection, deadlines."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import pytest

import trackwire
from tests.engine.transports import GatedTransport
from trackwire._engine import worker
from trackwire.testing import RecordingTransport


def worker_threads(client: trackwire.Segment) -> list[threading.Thread]:
    return list(client._engine._workers)


def test_idle_workers_exit_and_restart_on_the_next_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "_IDLE_EXIT_SECONDS", 0.05)
    transport = RecordingTransport()
    client = trackwire.Segment("K", transport=transport, flush_at=1)
    assert client.track(user_id="u", event="A").wait(5)
    first = worker_threads(client)
    for thread in first:
        thread.join(5)
        assert not thread.is_alive()
    assert client.track(user_id="u", event="B").wait(5)
    assert [m["event"] for m in transport.messages()] == ["A", "B"]
    assert client.shutdown(5)


def test_a_dropped_client_is_garbage_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "_IDLE_EXIT_SECONDS", 0.05)
    client = trackwire.Segment("K", transport=RecordingTransport(), flush_at=1)
    assert client.track(user_id="u", event="A").wait(5)
    threads = worker_threads(client)
    ref = weakref.ref(client._engine)
    del client
    for thread in threads:
        thread.join(5)
    gc.collect()
    assert ref() is None


def test_flush_returns_false_on_time_when_the_server_hangs() -> None:
    transport = GatedTransport(release_on_close=False)
    client = trackwire.Segment("K", transport=transport, send_first_immediately=False)
    receipt = client.track(user_id="u", event="A")
    started = time.monotonic()
    assert client.flush(timeout=0.2) is False
    assert time.monotonic() - started < 2.0
    assert not receipt.done
    transport.gate.set()
    assert client.flush(timeout=5) is True
    assert receipt.ok
    client.shutdown(1)


def test_shutdown_deadline_settles_in_flight_and_queued_messages() -> None:
    transport = GatedTransport(release_on_close=False)
    client = trackwire.Segment("K", transport=transport, flush_at=1, send_first_immediately=False)
    in_flight = client.track(user_id="u", event="A")
    # The worker takes A and blocks in send; B and C stay queued behind it.
    deadline = time.monotonic() + 5
    while transport.calls == 0 and time.monotonic() < deadline:
        client.flush(timeout=0.01)
    queued = [client.track(user_id="u", event=e) for e in ("B", "C")]
    started = time.monotonic()
    assert client.shutdown(timeout=0.3) is False
    assert time.monotonic() - started < 2.0
    assert in_flight.error is not None and in_flight.error.reason == "shutdown"
    assert all(r.error is not None and r.error.reason == "shutdown" for r in queued)
    stats = client.stats()
    assert stats["dropped"] == {"shutdown": 2}
    assert stats["failed"] == {"shutdown": 1}
    late = client.track(user_id="u", event="D")
    assert isinstance(late.error, trackwire.ClientClosedError)
    assert late.error.reason == "after_close"
    assert client.stats()["dropped"]["after_close"] == 1
    transport.gate.set()


def test_several_workers_share_the_queue() -> None:
    transport = RecordingTransport()
    client = trackwire.Segment("K", transport=transport, workers=3, flush_at=10)
    receipts = [client.track(user_id="u", event=str(i)) for i in range(1_000)]
    assert client.flush(10)
    assert all(r.ok for r in receipts)
    assert len(transport.messages()) == 1_000
    assert len({t.name for t in worker_threads(client)}) == 3
    client.shutdown(1)


def test_flush_and_shutdown_send_inline_when_no_thread_can_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At interpreter shutdown Python refuses new threads: nothing queued may be lost."""

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't create new thread at interpreter shutdown")

    transport = RecordingTransport()
    client = trackwire.Segment("K", transport=transport, send_first_immediately=False)
    monkeypatch.setattr(threading.Thread, "start", refuse)
    first = client.track(user_id="u", event="A")
    assert client.flush(5)
    assert first.ok
    second = client.track(user_id="u", event="B")
    assert client.shutdown(5)
    assert second.ok
    assert [m["event"] for m in transport.messages()] == ["A", "B"]


def test_a_burst_of_calls_wakes_an_idle_worker_once_until_it_runs() -> None:
    client = trackwire.Segment("K", transport=RecordingTransport(), flush_at=20)
    engine = client._engine
    wakes: list[int] = []
    with engine._lock:
        # As if a worker waited for work (none is started: nothing consumes the wake-ups).
        engine._state = worker.State.RUNNING
        engine._idle = 1
        engine._wake = _CountingCondition(engine._lock, wakes)
    for i in range(50):
        client.track(user_id="u", event=f"e{i}")
    # The first message and the count trigger would each wake it; until it runs, once is
    # enough (each further wake-up is a wasted call on the caller's path).
    assert wakes == [1]
    with engine._lock:
        engine._idle = 0
        engine._state = worker.State.IDLE


class _CountingCondition(threading.Condition):
    def __init__(self, lock: threading.Lock, wakes: list[int]) -> None:
        super().__init__(lock)
        self.wakes = wakes

    def notify(self, n: int = 1) -> None:
        self.wakes.append(n)
        super().notify(n)
