"""trackwire's background threads block the process's stop/reload signals, so a signal sent
to the process always reaches a thread of the application (see _engine/threads.py)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

import trackwire
from tests.sink import Sink
from trackwire._engine.threads import KEPT_OFF, start_background

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "pthread_sigmask"), reason="no per-thread signal masks on this platform"
)


def _mask_of(thread: threading.Thread) -> set[int]:
    """The signals ``thread`` blocks, read from the kernel (``SigBlk`` of its task)."""
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    bits = int(
        next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16
    )
    return {number for number in range(1, 65) if bits >> (number - 1) & 1}


def test_a_background_thread_blocks_the_kept_off_signals_and_its_creator_does_not() -> None:
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    seen: list[set[int]] = []
    thread = threading.Thread(
        target=lambda: seen.append(set(signal.pthread_sigmask(signal.SIG_BLOCK, [])))
    )
    start_background(thread)
    thread.join(timeout=10)
    assert seen and seen[0] >= KEPT_OFF
    assert {signal.SIGTERM, signal.SIGINT, signal.SIGHUP} <= seen[0]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before  # the caller's mask is back


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads masks from /proc")
def test_a_clients_delivery_threads_block_them(sink: Sink) -> None:
    with trackwire.Segment("signal-key", host=sink.url) as segment:
        segment.track("u", "e")
        segment.flush()
        workers = [t for t in threading.enumerate() if t.name.startswith("trackwire-segment")]
        assert workers
        for worker in workers:
            assert {signal.SIGTERM, signal.SIGINT, signal.SIGHUP} <= _mask_of(worker), worker.name
    main = threading.main_thread()
    if main is threading.current_thread():
        assert signal.SIGTERM not in _mask_of(main)
